package hostile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strconv"
	"testing"
	"time"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/leakcheck"
	"github.com/hybi/websocket/internal/wstest"
)

// A frame header can announce 2^63-1 bytes in 10 bytes. The server must
// judge the announcement against the read limit before it reserves a byte.
func TestLength_2pow63minus1_closes1009(t *testing.T) {
	for _, op := range []byte{wstest.OpBinary, wstest.OpText} {
		t.Run("opcode"+strconv.Itoa(int(op)), func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{}, nil, readAll)
			c := wstest.Dial(t, s.addr, "/", nil)
			mem := probeMemory()
			c.Send(wstest.Frame{Fin: true, Opcode: op, Masked: true, Key: wstest.NewMaskKey(), LenOverride: wstest.Uint64(math.MaxInt64)})
			c.ExpectCloseNext(websocket.CloseMessageTooBig)
			if err := s.result(t); !errors.Is(err, websocket.ErrReadLimit) {
				t.Errorf("server read error = %v, want ErrReadLimit", err)
			}
			mem.finish().check(t, 0, 1<<20, 0)
		})
	}
}

// The same announcement in a continuation frame, after a first fragment:
// the limit applies to the message, and the sum must not overflow.
func TestLength_2pow63minus1_inContinuation_closes1009(t *testing.T) {
	leakcheck.Check(t)
	s := startServer(t, &websocket.Upgrader{ReadLimit: 1 << 20}, nil, readAll)
	c := wstest.Dial(t, s.addr, "/", nil)
	mem := probeMemory()
	c.Send(
		frag(wstest.OpBinary, false, bytes.Repeat([]byte{'a'}, 1000)),
		wstest.Frame{Fin: true, Opcode: wstest.OpContinuation, Masked: true, Key: wstest.NewMaskKey(), LenOverride: wstest.Uint64(math.MaxInt64)},
	)
	c.ExpectCloseNext(websocket.CloseMessageTooBig)
	if err := s.result(t); !errors.Is(err, websocket.ErrReadLimit) {
		t.Errorf("server read error = %v, want ErrReadLimit", err)
	}
	mem.finish().check(t, 0, 1<<20, 0)
}

// With the read limit removed, a peer announcing 2^63-1 bytes costs the
// server what it actually sends, not what it announces: 1 MiB arrives, the
// peer half-closes, the read ends with 1006.
func TestLength_2pow63minus1_noLimit_memoryFollowsBytesSent(t *testing.T) {
	leakcheck.Check(t)
	s := startServer(t, &websocket.Upgrader{ReadLimit: -1}, nil, readAll)
	c := wstest.Dial(t, s.addr, "/", nil)
	payload := bytes.Repeat([]byte{'x'}, 1<<20)
	f := wstest.Frame{Fin: true, Opcode: wstest.OpBinary, Masked: true, Key: wstest.NewMaskKey(), Payload: payload, LenOverride: wstest.Uint64(math.MaxInt64)}
	wire := encode(f)
	mem := probeMemory()
	c.SendRaw(wire)
	c.Conn().(interface{ CloseWrite() error }).CloseWrite()
	wantCloseCode(t, s.result(t), websocket.CloseAbnormalClosure)
	// ReadMessage starts with at most 1 MiB and then grows its buffer by
	// at most four times as bytes arrive: about 5 MiB allocated for 1 MiB
	// received. The bound is about what was sent, not what was announced.
	mem.finish().check(t, 0, 16<<20, 0)
}

// RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
func TestLength_64bitTopBitSet_closes1002(t *testing.T) {
	for _, n := range []uint64{1<<63 | 0x10000, math.MaxUint64, 1 << 63} {
		t.Run(strconv.FormatUint(n, 16), func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{ReadLimit: -1}, nil, readAll)
			c := wstest.Dial(t, s.addr, "/", nil)
			mem := probeMemory()
			c.Send(wstest.Frame{Fin: true, Opcode: wstest.OpBinary, Masked: true, Key: wstest.NewMaskKey(), LenOverride: wstest.Uint64(n)})
			c.ExpectCloseNext(websocket.CloseProtocolError)
			wantProtocolError(t, s.result(t), websocket.CloseProtocolError)
			mem.finish().check(t, 0, 1<<20, 0)
		})
	}
}

// oneByteFragments returns the wire bytes of a text message of n one-byte
// fragments ('a'), the last one final when fin is set.
func oneByteFragments(n int, fin bool) []byte {
	b := make([]byte, 0, n*7)
	for i := 0; i < n; i++ {
		op := wstest.OpContinuation
		if i == 0 {
			op = wstest.OpText
		}
		b = wstest.AppendFrame(b, frag(op, fin && i == n-1, []byte{'a'}))
	}
	return b
}

// Fragment policy: the number of fragments per message is not capped;
// what a message may cost is bounded by the read limit, which counts the
// bytes of all its fragments. One byte past the limit, in the 1001st
// fragment, ends the connection with 1009.
func TestFragments_oneByteFlood_overLimit_closes1009(t *testing.T) {
	leakcheck.Check(t)
	const limit = 1000
	s := startServer(t, &websocket.Upgrader{ReadLimit: limit}, nil, readAll)
	c := wstest.Dial(t, s.addr, "/", nil)
	wire := oneByteFragments(limit+1, false)
	mem := probeMemory()
	c.SendRaw(wire)
	c.ExpectCloseNext(websocket.CloseMessageTooBig)
	if err := s.result(t); !errors.Is(err, websocket.ErrReadLimit) {
		t.Errorf("server read error = %v, want ErrReadLimit", err)
	}
	mem.finish().check(t, 0, 1<<20, 0)
}

// 100,000 one-byte fragments under the limit make one 100,000-byte
// message: echoed intact, with memory for the message and not per
// fragment.
func TestFragments_oneByteFlood_underLimit_echoed(t *testing.T) {
	const n = 100_000
	streamCount := func(c *websocket.Conn) error {
		for {
			_, r, err := c.NextReader()
			if err != nil {
				return err
			}
			k, err := io.Copy(io.Discard, r)
			if err != nil {
				return err
			}
			if err := c.WriteMessage(websocket.TextMessage, []byte(strconv.FormatInt(k, 10))); err != nil {
				return err
			}
		}
	}
	for _, tc := range []struct {
		name     string
		handle   func(*websocket.Conn) error
		want     []byte
		maxAlloc int64
	}{
		// ReadMessage: about 256 KiB for the growing message, 100 KiB
		// for the client's copy of the echo.
		{"ReadMessage", echo, bytes.Repeat([]byte{'a'}, n), 4 << 20},
		// NextReader streams through a fixed buffer.
		{"NextReader", streamCount, []byte(strconv.Itoa(n)), 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{}, nil, tc.handle)
			c := wstest.Dial(t, s.addr, "/", nil)
			c.Timeout = 30 * time.Second
			wire := oneByteFragments(n, true)
			mem := probeMemory()
			c.SendRaw(wire)
			c.ExpectMessage(wstest.OpText, tc.want)
			mem.finish().check(t, 0, tc.maxAlloc, 0)
			c.Send(closeFrame(1000, ""))
			c.ExpectCloseNext(1000)
			wantCloseCode(t, s.result(t), 1000)
		})
	}
}

// Empty fragments never reach the read limit. They cost the server time,
// not memory: 200,000 of them inside one message leave the heap as it was.
func TestFragments_emptyFlood_memoryFlat(t *testing.T) {
	leakcheck.Check(t)
	const n = 200_000
	s := startServer(t, &websocket.Upgrader{}, nil, echo)
	c := wstest.Dial(t, s.addr, "/", nil)
	c.Timeout = 30 * time.Second
	wire := wstest.AppendFrame(nil, frag(wstest.OpText, false, []byte("a")))
	for i := 0; i < n; i++ {
		wire = wstest.AppendFrame(wire, frag(wstest.OpContinuation, false, nil))
	}
	wire = wstest.AppendFrame(wire, frag(wstest.OpContinuation, true, []byte("z")))
	mem := probeMemory()
	c.SendRaw(wire)
	c.ExpectMessage(wstest.OpText, []byte("az"))
	mem.finish().check(t, 0, 1<<20, 0)
	c.Send(closeFrame(1000, ""))
	c.ExpectCloseNext(1000)
	wantCloseCode(t, s.result(t), 1000)
}

// pingFlood returns the wire bytes of n pings with 125-byte payloads that
// carry their index, and a text message "data <i>" after every every-th
// ping when every > 0.
func pingFlood(n, every int) []byte {
	b := make([]byte, 0, n*131)
	p := bytes.Repeat([]byte{'p'}, 125)
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint64(p, uint64(i))
		b = wstest.AppendFrame(b, wstest.Msg(wstest.OpPing, p))
		if every > 0 && (i+1)%every == 0 {
			b = wstest.AppendFrame(b, text("data "+strconv.Itoa(i)))
		}
	}
	return b
}

// A ping flood against an application that reads slowly. Pings are
// answered without blocking the reader (issue 16): pongs are held with the
// other frames and written as the socket takes them; when it takes no
// more, only the most recent are kept (RFC 6455 §5.5.3). While the
// application sleeps, the pings wait in the TCP buffers and the client's
// writes block. The pongs that arrive are whole and in order, the last
// ping of every run is answered, the data messages are echoed intact and
// in order, and the heap stays flat.
func TestPingFlood_slowReader_everyPongInOrder(t *testing.T) {
	leakcheck.Check(t)
	const n, every = 30_000, 1000
	slowEcho := func(c *websocket.Conn) error {
		for {
			time.Sleep(20 * time.Millisecond)
			mt, p, err := c.ReadMessage()
			if err != nil {
				return err
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return err
			}
		}
	}
	s := startServer(t, &websocket.Upgrader{}, nil, slowEcho)
	c := wstest.Dial(t, s.addr, "/", nil)
	c.Timeout = 30 * time.Second
	wire := pingFlood(n, every)
	mem := probeMemory()
	sent := make(chan error, 1)
	go func() { sent <- c.WriteChopped(wire, 64<<10, 0) }()
	// Pongs come in increasing order; a data message follows the pongs of
	// the pings before it. Every data message arrives, and the last ping.
	want := bytes.Repeat([]byte{'p'}, 125)
	last, pongs, data := -1, 0, 0
	for data < n/every || last < n-1 {
		op, p := c.ReadMessage()
		switch op {
		case wstest.OpPong:
			if len(p) != 125 || !bytes.Equal(p[8:], want[8:]) {
				t.Fatalf("pong %d: payload %q is not a ping's", pongs, p)
			}
			id := int(binary.BigEndian.Uint64(p))
			if id <= last || id >= n {
				t.Fatalf("pong for ping %d after the pong for ping %d", id, last)
			}
			last = id
			pongs++
		case wstest.OpText:
			wantData := "data " + strconv.Itoa((data+1)*every-1)
			if string(p) != wantData {
				t.Fatalf("data message %d = %q, want %q", data, p, wantData)
			}
			data++
		default:
			t.Fatalf("unexpected frame opcode %#x", op)
		}
	}
	t.Logf("%d pongs for %d pings", pongs, n)
	if err := <-sent; err != nil {
		t.Fatalf("client write: %v", err)
	}
	// 30,000 pings (3.9 MB on the wire) and as many pongs went through.
	mem.finish().check(t, 0, 64<<20, 1<<20)
	c.Send(closeFrame(1000, ""))
	c.ExpectCloseNext(1000)
	wantCloseCode(t, s.result(t), 1000)
}

// A ping flood from a client that never reads its pongs (issue 16). The
// pongs fill the socket buffers; then the server keeps at most a bounded
// buffer of the most recent ones (RFC 6455 §5.5.3: only the latest ping
// needs its answer), written when the socket takes them, never with a
// deadline that could cut a frame, and it keeps reading. Nothing queues:
// after 24 MB of pings the live heap is as it was. Once the client reads,
// every frame it gets is whole: pongs for increasing pings, the last
// ping's among them, then the echo of the message sent after the flood.
func TestPingFlood_clientNeverReads_boundedPongs_echoIntact(t *testing.T) {
	leakcheck.Check(t)
	const total = 24 << 20
	got := make(chan string, 1)
	measured := make(chan struct{})
	handle := func(c *websocket.Conn) error {
		_, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		got <- string(p)
		<-measured // the connection stays open while the test measures
		if err := c.WriteMessage(websocket.TextMessage, p); err != nil {
			return err
		}
		_, _, err = c.ReadMessage() // until the client's close
		return err
	}
	s := startServer(t, &websocket.Upgrader{}, nil, handle)
	c := wstest.Dial(t, s.addr, "/", nil)
	c.Timeout = 30 * time.Second
	const perChunk = 8000
	chunk := pingFlood(perChunk, 0) // about 1 MiB
	mem := probeMemory()
	sent := 0
	for ; sent < total; sent += len(chunk) {
		if err := c.WriteRaw(chunk); err != nil {
			t.Fatalf("client write after %d bytes of pings: %v (the server stopped reading)", sent, err)
		}
	}
	c.SendRaw(encode(text("after the flood")))
	select {
	case p := <-got:
		if p != "after the flood" {
			t.Errorf("server read %q, want the text message after the flood", p)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not read the message after the flood within 30s")
	}
	// Every ping has been read; the connection is still open: a pong
	// queue would be alive now.
	mem.finish().check(t, 0, 128<<20, 1<<20)
	close(measured)
	// Now read: whole pongs in increasing order (the chunks repeat ping
	// numbers 0..perChunk-1, so order is checked within a run), then the
	// echo, intact.
	// Pongs and the echo are not ordered with each other (the echo may
	// overtake parked pongs); each frame is whole, and the last ping is
	// answered.
	pongs, echoed, lastAnswered := 0, false, false
	for !echoed || !lastAnswered {
		op, p := c.ReadMessage()
		switch {
		case op == wstest.OpText && !echoed:
			if string(p) != "after the flood" {
				t.Fatalf("echo = %q after %d pongs", p, pongs)
			}
			echoed = true
		case op == wstest.OpPong && len(p) == 125:
			pongs++
			if int(binary.BigEndian.Uint64(p)) == perChunk-1 {
				lastAnswered = true
			}
		default:
			t.Fatalf("frame after %d pongs: opcode %#x, %d bytes; want a whole 125-byte pong or the echo", pongs, op, len(p))
		}
	}
	c.Send(closeFrame(1000, ""))
	for { // the rest of the parked pongs, then the close
		f, err := c.ReadFrame()
		if err != nil {
			t.Fatalf("reading the rest: %v", err)
		}
		if f.Opcode == wstest.OpClose {
			break
		}
		if f.Opcode != wstest.OpPong || len(f.Payload) != 125 {
			t.Fatalf("after the echo: %v, want whole pongs then the close", f)
		}
		pongs++
	}
	t.Logf("%d pongs for %d pings", pongs, sent/len(chunk)*perChunk)
	wantCloseCode(t, s.result(t), 1000)
}

// The limit counts the bytes of every fragment exactly: limit one-byte
// fragments make a message, as ReadMessage and as a stream.
func TestFragments_oneByteFlood_atLimit_delivered(t *testing.T) {
	const limit = 1000
	leakcheck.Check(t)
	s := startServer(t, &websocket.Upgrader{ReadLimit: limit}, nil, echo)
	c := wstest.Dial(t, s.addr, "/", nil)
	c.SendRaw(oneByteFragments(limit, true))
	c.ExpectMessage(wstest.OpText, bytes.Repeat([]byte{'a'}, limit))
	c.Send(closeFrame(1000, ""))
	c.ExpectCloseNext(1000)
	wantCloseCode(t, s.result(t), 1000)
}
