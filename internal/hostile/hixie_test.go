package hostile

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/leakcheck"
)

// hixieLength encodes n as a draft-76 frame length: 7-bit groups, most
// significant first, 0x80 on every byte but the last.
func hixieLength(n uint64) []byte {
	b := []byte{byte(n & 0x7F)}
	for n >>= 7; n > 0; n >>= 7 {
		b = append([]byte{byte(n&0x7F) | 0x80}, b...)
	}
	return b
}

// Draft-76 sets no frame size: a text frame lasts until its 0xFF, a
// length-prefixed frame announces any length. The read limit bounds both:
// the server closes (0xFF 0x00, then TCP) and the reader gets ErrReadLimit,
// with memory bounded by the limit.
func TestHixie76_overLimit_closes(t *testing.T) {
	const limit = 1 << 20
	for _, tc := range []struct {
		name string
		wire []byte
	}{
		{"textFrameWithoutEnd", append([]byte{0x00}, bytes.Repeat([]byte{'a'}, 2*limit)...)},
		{"droppedFrameTypeWithoutEnd", append([]byte{0x01}, bytes.Repeat([]byte{'a'}, 2*limit)...)},
		{"lengthFrameOverLimit", append([]byte{0x80}, hixieLength(limit+1)...)},
		{"lengthFrame2pow62", append([]byte{0x80}, hixieLength(1<<62)...)},
		{"lengthFrameEndlessGroups", append([]byte{0x80}, bytes.Repeat([]byte{0xFF}, 100)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{EnableHixie76: true, ReadLimit: limit}, nil, readAll)
			c := dialHixie(t, s.addr)
			mem := probeMemory()
			go c.WriteRaw(tc.wire) // the server stops reading at the limit
			if err := c.ExpectClose(); err != nil {
				t.Error(err)
			}
			if err := s.result(t); !errors.Is(err, websocket.ErrReadLimit) {
				t.Errorf("server read error = %v, want ErrReadLimit", err)
			}
			mem.finish().check(t, 0, 8<<20, 0)
		})
	}
}

// Without a read limit, a length that overflows the accumulator (2^63
// and more) fails the connection instead of wrapping around.
func TestHixie76_lengthOverflow_noLimit_fails(t *testing.T) {
	leakcheck.Check(t)
	s := startServer(t, &websocket.Upgrader{EnableHixie76: true, ReadLimit: -1}, nil, readAll)
	c := dialHixie(t, s.addr)
	if err := c.WriteRaw(append([]byte{0x80}, bytes.Repeat([]byte{0xFF}, 20)...)); err != nil {
		t.Fatal(err)
	}
	if err := c.ExpectClose(); err != nil {
		t.Error(err)
	}
	wantProtocolError(t, s.result(t), websocket.CloseMessageTooBig)
}

// Frames the server drops (length-prefixed ones, low types other than
// 0x00) and empty text frames cost time, not memory: 200,000 of them
// leave the heap flat and the connection working.
func TestHixie76_emptyFrameFlood_memoryFlat(t *testing.T) {
	leakcheck.Check(t)
	const n = 200_000
	count := make(chan int, 1)
	handle := func(c *websocket.Conn) error {
		empty := 0
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				return err
			}
			if len(p) > 0 {
				count <- empty
				return c.WriteMessage(websocket.TextMessage, p)
			}
			empty++
		}
	}
	s := startServer(t, &websocket.Upgrader{EnableHixie76: true}, nil, handle)
	c := dialHixie(t, s.addr)
	c.Timeout = 30 * time.Second
	unit := []byte{0x80, 0x00, 0x01, 0xFF, 0x00, 0xFF, 0x81, 0x00} // dropped, dropped, empty text, dropped
	wire := append(bytes.Repeat(unit, n/4), "\x00end\xff"...)
	mem := probeMemory()
	if err := c.WriteRaw(wire); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadText(); err != nil || got != "end" {
		t.Fatalf("echo %q, %v; want \"end\"", got, err)
	}
	// Each ReadMessage of a hixie-76 message starts with a 512-byte buffer
	// (the frame has no length to size it from), garbage as soon as the
	// empty message is returned: about 25 MB allocated for 50,000 empty
	// messages, a flat heap all the same.
	mem.finish().check(t, 0, 64<<20, 1<<20)
	if got := <-count; got != n/4 {
		t.Errorf("the server read %d empty messages, want %d", got, n/4)
	}
	if err := s.result(t); err != nil {
		t.Errorf("handler: %v", err)
	}
	if err := c.ExpectEOF(); err != nil { // the handler returned and closed the socket
		t.Error(err)
	}
}

// A hixie-76 text frame of exactly the limit is a message; one byte more
// closes the connection with ErrReadLimit.
func TestHixie76_limitBoundary(t *testing.T) {
	const limit = 1000
	for _, extra := range []int{0, 1} {
		t.Run("over="+strconv.Itoa(extra), func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{EnableHixie76: true, ReadLimit: limit}, nil, echo)
			c := dialHixie(t, s.addr)
			text := strings.Repeat("h", limit+extra)
			if err := c.WriteText(text); err != nil {
				t.Fatal(err)
			}
			if extra > 0 {
				if err := c.ExpectClose(); err != nil {
					t.Error(err)
				}
				if err := s.result(t); !errors.Is(err, websocket.ErrReadLimit) {
					t.Errorf("server read error = %v, want ErrReadLimit", err)
				}
				return
			}
			if got, err := c.ReadText(); err != nil || got != text {
				t.Fatalf("echo of %d bytes: %d bytes, %v", len(text), len(got), err)
			}
			if err := c.Close(); err != nil {
				t.Error(err)
			}
			wantCloseCode(t, s.result(t), websocket.CloseNoStatusReceived)
		})
	}
}
