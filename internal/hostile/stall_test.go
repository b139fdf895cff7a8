package hostile

import (
	"bytes"
	"math/rand/v2"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/leakcheck"
	"github.com/hybi/websocket/internal/wstest"
)

// stalledHeap opens n connections to addr, sends each the wire bytes,
// waits for the server to block on the rest, and returns the heap each
// connection costs (server and client ends) over an idle one.
func stalledHeap(t *testing.T, addr string, n int, wire []byte, hdr func() *wstest.Client) int64 {
	t.Helper()
	hdr() // warm up pools and first-use allocations
	time.Sleep(50 * time.Millisecond)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		c := hdr()
		if wire != nil {
			c.SendRaw(wire)
		}
	}
	time.Sleep(300 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&after)
	return (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / int64(n)
}

// A peer that announces a large frame (well under the read limit) and
// sends only its first bytes should cost the server what it sent, as
// ReadMessage's documentation promises ("memory grows with the bytes that
// actually arrive"): otherwise one 14-byte header per connection makes
// every connection of an attacker cost the server as much as the
// announcement.
func TestStall_announcedFrame_memoryFollowsBytesThatArrive(t *testing.T) {
	leakcheck.Check(t)
	const n = 100
	s := startServer(t, &websocket.Upgrader{}, nil, readAll)
	dial := func() *wstest.Client { return wstest.Dial(t, s.addr, "/", nil) }
	f := wstest.Msg(wstest.OpBinary, bytes.Repeat([]byte{'x'}, 1<<20))
	wire := encode(f)[:14+100] // header, mask key and 100 of 1 MiB announced
	// Memory freed meanwhile by what earlier tests left behind can skew
	// one measurement either way; the smallest of three counts.
	extra := int64(1 << 62)
	for try := 0; try < 3 && extra > 80<<10; try++ {
		idle := stalledHeap(t, s.addr, n, nil, dial)
		stalled := stalledHeap(t, s.addr, n, wire, dial)
		extra = min(extra, stalled-idle)
		t.Logf("per connection: idle %d B, stalled in a 1 MiB frame after 100 bytes %d B (%+d B)", idle, stalled, stalled-idle)
	}
	// 80 KiB leaves room for a first buffer of up to 64 KiB.
	if extra > 80<<10 {
		t.Errorf("a connection stalled 100 bytes into an announced 1 MiB frame holds %d bytes more than an idle one, want at most 80 KiB", extra)
	}
}

// A compressed message written to a peer that never reads: the write
// blocks, until the write deadline, holding what it holds. This measures
// it per blocked connection, for each way of writing, and checks that the
// deadline ends it: NextWriter and WriteMessage compress as they send, so
// the compressor (about 1.2 MB for compress/flate) stays with the blocked
// write; a PreparedMessage was compressed once beforehand and holds none.
func TestStall_compressedWrite_peerNeverReads(t *testing.T) {
	const n = 20
	random := make([]byte, 4<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, random)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		write   func(c *websocket.Conn) error
		maxHeap int64
	}{
		{"NextWriter", func(c *websocket.Conn) error {
			w, err := c.NextWriter(websocket.BinaryMessage)
			if err != nil {
				return err
			}
			if _, err := w.Write(random); err != nil {
				w.Close()
				return err
			}
			return w.Close()
		}, 2 << 20},
		{"WriteMessage", func(c *websocket.Conn) error { return c.WriteMessage(websocket.BinaryMessage, random) }, 2 << 20},
		{"WritePreparedMessage", func(c *websocket.Conn) error { return c.WritePreparedMessage(pm) }, 768 << 10},
		// Messages of up to 64 KiB are compressed whole before they are
		// written: a blocked one holds its compressed bytes, not a
		// compressor. Written until the socket is full.
		{"WriteMessage 32 KiB, repeated", func(c *websocket.Conn) error {
			for i := 0; ; i += 32 << 10 {
				if err := c.WriteMessage(websocket.BinaryMessage, random[i%(4<<20):][:32<<10]); err != nil {
					return err
				}
			}
		}, 256 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			var started atomic.Int32
			handle := func(c *websocket.Conn) error {
				c.NetConn().(*net.TCPConn).SetWriteBuffer(16 << 10)
				c.SetWriteDeadline(time.Now().Add(1500 * time.Millisecond))
				started.Add(1)
				return tc.write(c)
			}
			s := startServer(t, &websocket.Upgrader{EnableCompression: true}, nil, handle)
			// One connection first: pools, and the PreparedMessage's
			// compressed frame, shared by all, are not counted.
			dialDeflate(t, s.addr)
			for started.Load() < 1 {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			var before, during runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := 0; i < n; i++ {
				dialDeflate(t, s.addr)
			}
			for started.Load() < n+1 {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond) // 4 MiB never fits: every write is blocked now
			runtime.GC()
			runtime.ReadMemStats(&during)
			per := (int64(during.HeapAlloc) - int64(before.HeapAlloc)) / n
			t.Logf("per connection blocked in a compressed %s: %d KiB of heap", tc.name, per>>10)
			if per > tc.maxHeap {
				t.Errorf("each blocked write holds %d KiB, want at most %d KiB", per>>10, tc.maxHeap>>10)
			}
			for i := 0; i < n+1; i++ {
				if err := s.result(t); !isTimeout(err) {
					t.Errorf("blocked write: %v, want the write deadline's timeout", err)
				}
			}
		})
	}
}
