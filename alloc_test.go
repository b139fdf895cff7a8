package websocket

import (
	"io"
	"reflect"
	"runtime"
	"testing"
)

// Allocation guards for the paths the README's performance section calls
// allocation-free (issue 16), and for ReadMessage's one allocation per
// message (the slice it hands the caller). They count every allocation in
// the process, the loopback client's and the server goroutine's included,
// over real sockets. The race detector allocates on its own, so they skip
// under -race.

func skipAllocsUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
}

func TestAllocs_maskAndHeader(t *testing.T) {
	skipAllocsUnderRace(t)
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	buf := make([]byte, 64<<10)
	var dst [maxHeaderSize]byte
	hdr := appendHeader(nil, true, 0, opBinary, 1<<20, true, key)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"mask", func() { sinkInt = mask(key, 1, buf) }},
		{"appendHeader", func() { sinkInt = len(appendHeader(dst[:0], true, 0, opBinary, 1<<20, true, key)) }},
		{"parseHeader", func() { h, n, _ := parseHeader(hdr); sinkInt = n + int(h.length) }},
	} {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tc.name, n)
		}
	}
}

// echoAllocs runs echoes of size bytes through a server running handler
// and returns the allocations and the bytes allocated per echo, client
// included.
func echoAllocs(t *testing.T, size int, handler func(*Conn)) (allocs, bytes float64) {
	c := dialBench(t, benchServer(t, handler), size)
	for range 3 {
		c.roundTrip(t) // warm the pools and the stacks
	}
	const runs = 40
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range runs {
		c.roundTrip(t)
	}
	runtime.ReadMemStats(&m1)
	return float64(m1.Mallocs-m0.Mallocs) / runs, float64(m1.TotalAlloc-m0.TotalAlloc) / runs
}

var allocSizes = []int{16, 1 << 10, 64 << 10, 1 << 20}

// poolChurn is what sync.Pool allocates, per message, when garbage
// collections come often: a pool touched for the first time after a
// collection allocates its per-P array and a queue element. It shows at
// 1 MiB (a collection every few messages: the message ReadMessage returns
// is the garbage); the bytes are tiny.
func poolChurn(size int) float64 {
	if size >= 1<<20 {
		return 3
	}
	return 0.5
}

// The streaming echo (NextReader, io.Copy into NextWriter, Close) allocates
// nothing in the steady state, from one buffer to frames larger than any;
// so does NextReader drained into the application's buffer, answered with
// WriteMessage or NextWriter/Write (the payload sent uncopied).
func TestAllocs_streamingEchoes(t *testing.T) {
	skipAllocsUnderRace(t)
	if !fastCurg {
		t.Skip("NextWriter's goroutine check reads a stack trace on this platform (goid_other.go)")
	}
	for _, h := range []struct {
		name    string
		handler func(*Conn)
	}{
		{"io.Copy", func(c *Conn) { echoLoop(c, true) }},
		{"WriteMessage", func(c *Conn) { echoInto(c, false) }},
		{"NextWriter.Write", func(c *Conn) { echoInto(c, true) }},
	} {
		for _, size := range allocSizes {
			if n, _ := echoAllocs(t, size, h.handler); n > 0.5 {
				t.Errorf("%s %s: %.2f allocations per echo, want 0", h.name, sizeName(size), n)
			}
		}
	}
}

// echoInto echoes each message through one reused buffer.
func echoInto(c *Conn, writer bool) {
	var buf []byte
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		if !writer {
			if c.WriteMessage(mt, buf) != nil {
				return
			}
			continue
		}
		w, err := c.NextWriter(mt)
		if err != nil {
			return
		}
		if _, err := w.Write(buf); err != nil {
			return
		}
		if w.Close() != nil {
			return
		}
	}
}

// ReadMessage allocates the slice it returns and nothing else (no growth
// copies, no staging garbage, no zeroing of a larger buffer); WriteMessage
// allocates nothing.
func TestAllocs_readMessageWriteMessageEcho(t *testing.T) {
	skipAllocsUnderRace(t)
	for _, size := range allocSizes {
		n, b := echoAllocs(t, size, func(c *Conn) { echoLoop(c, false) })
		if n > 1+poolChurn(size) {
			t.Errorf("%s: %.2f allocations per echo, want 1 (the message)", sizeName(size), n)
		}
		// Slack for pooled buffers a collection dropped (a few per cent):
		// growth copies (a third more at 1 MiB) or a zeroed staging
		// buffer would pass it.
		if limit := float64(size + size/16 + 1024); b > limit {
			t.Errorf("%s: %.0f bytes allocated per echo, want at most %.0f (the message)", sizeName(size), b, limit)
		}
	}
}

// WritePreparedMessage allocates nothing once the message's frame exists.
func TestAllocs_writePreparedMessage(t *testing.T) {
	skipAllocsUnderRace(t)
	ready := make(chan *Conn, 1)
	addr := benchServer(t, func(c *Conn) {
		ready <- c
		c.ReadMessage() // until the client goes
	})
	cl := dialBench(t, addr, 0)
	go io.Copy(io.Discard, cl.br)
	c := <-ready
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		pm, err := NewPreparedMessage(BinaryMessage, make([]byte, size))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WritePreparedMessage(pm); err != nil {
			t.Fatal(err)
		}
		n := testing.AllocsPerRun(100, func() {
			if err := c.WritePreparedMessage(pm); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per write, want 0", sizeName(size), n)
		}
	}
}

// Conn stays in the 768-byte size class: every idle connection holds one
// (ARCHITECTURE.md). Since Go 1.22 an object over 512 bytes that holds
// pointers carries an 8-byte header, so the struct may take 760 bytes; a
// field more moves every connection to the 896-byte class.
func TestConn_sizeClass(t *testing.T) {
	if size := reflect.TypeOf(Conn{}).Size(); size > 768-8 {
		t.Fatalf("Conn is %d bytes: with its 8-byte malloc header, over the 768-byte size class", size)
	}
}
