package conformance

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/wstest"
)

// Group 1: framing. Messages of every length boundary (7-bit, 16-bit and
// 64-bit length forms) are echoed byte for byte; malformed headers fail the
// connection with 1002.

var boundaryLengths = []int{0, 125, 126, 127, 128, 65535, 65536}

func TestFraming_lengthBoundaries_echoed(t *testing.T) {
	t.Parallel()
	for _, op := range []byte{wstest.OpText, wstest.OpBinary} {
		for _, n := range boundaryLengths {
			eachEcho(t, opName(op)+"/"+sizeName(n), func(t *testing.T, c *wstest.Client) {
				p := binaryPayload(n)
				if op == wstest.OpText {
					p = textPayload(n)
				}
				c.Send(wstest.Msg(op, p))
				c.ExpectMessage(op, p)
				closeNormally(t, c)
			})
		}
	}
}

func TestFraming_64KiBSentInChops_echoed(t *testing.T) {
	t.Parallel()
	for _, op := range []byte{wstest.OpText, wstest.OpBinary} {
		eachEcho(t, opName(op), func(t *testing.T, c *wstest.Client) {
			p := binaryPayload(65536)
			if op == wstest.OpText {
				p = textPayload(65536)
			}
			// Autobahn 1.1.8 / 1.2.8: chops of 997 bytes.
			if err := c.WriteChopped(wstest.AppendFrame(nil, wstest.Msg(op, p)), 997, 0); err != nil {
				t.Fatal(err)
			}
			c.ExpectMessage(op, p)
			closeNormally(t, c)
		})
	}
}

func TestFraming_headerInChops_echoed(t *testing.T) {
	t.Parallel()
	eachEcho(t, "1-byte chops", func(t *testing.T, c *wstest.Client) {
		p := textPayload(300) // 16-bit length: an 8-byte header
		if err := c.WriteChopped(wstest.AppendFrame(nil, wstest.Msg(wstest.OpText, p)), 1, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		c.ExpectMessage(wstest.OpText, p)
		closeNormally(t, c)
	})
}

func TestFraming_severalMessagesInOneWrite_echoedInOrder(t *testing.T) {
	t.Parallel()
	eachEcho(t, "3 messages", func(t *testing.T, c *wstest.Client) {
		c.SendRaw(encode(text("one"), binary([]byte{2}), text("three")))
		c.ExpectMessage(wstest.OpText, []byte("one"))
		c.ExpectMessage(wstest.OpBinary, []byte{2})
		c.ExpectMessage(wstest.OpText, []byte("three"))
		closeNormally(t, c)
	})
}

// A masking key of zero is a valid key (RFC 6455 §5.3 only asks for it to
// be unpredictable).
func TestFraming_zeroMaskKey_echoed(t *testing.T) {
	t.Parallel()
	eachEcho(t, "text", func(t *testing.T, c *wstest.Client) {
		f := text("Hello")
		f.Key = [4]byte{}
		c.Send(f)
		c.ExpectMessage(wstest.OpText, []byte("Hello"))
		closeNormally(t, c)
	})
}

func TestFraming_unmaskedClientFrame_closes1002(t *testing.T) {
	t.Parallel()
	eachEcho(t, "text", func(t *testing.T, c *wstest.Client) {
		f := text("Hello")
		f.Masked = false
		c.Send(f)
		c.ExpectCloseNext(1002)
	})
	eachEcho(t, "close", func(t *testing.T, c *wstest.Client) {
		f := closeFrame(1000, "")
		f.Masked = false
		c.Send(f)
		c.ExpectCloseNext(1002)
	})
	eachEcho(t, "after a valid message", func(t *testing.T, c *wstest.Client) {
		f := text("second")
		f.Masked = false
		c.SendRaw(encode(text("first"), f, ping("unanswered")))
		c.ExpectMessage(wstest.OpText, []byte("first"))
		c.ExpectCloseNext(1002)
	})
}

func TestFraming_length64WithMSBSet_closes1002(t *testing.T) {
	t.Parallel()
	eachEcho(t, "binary", func(t *testing.T, c *wstest.Client) {
		f := binary([]byte("Hello"))
		f.LenOverride = wstest.Uint64(1<<63 | 5)
		c.Send(f)
		c.ExpectCloseNext(1002)
	})
}

// RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the
// length"; the library rejects other encodings (frame.go).
func TestFraming_nonMinimalLength_closes1002(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		n    int
		enc  wstest.LenEncoding
	}{
		{"5 bytes in 16 bits", 5, wstest.Len16},
		{"125 bytes in 16 bits", 125, wstest.Len16},
		{"5 bytes in 64 bits", 5, wstest.Len64},
		{"65535 bytes in 64 bits", 65535, wstest.Len64},
	}
	for _, tc := range cases {
		eachEcho(t, tc.name, func(t *testing.T, c *wstest.Client) {
			f := binary(binaryPayload(tc.n))
			f.LenEncoding = tc.enc
			c.Send(f)
			c.ExpectCloseNext(1002)
		})
	}
}

// Messages the server writes itself, not echoes: WriteMessage and
// WritePreparedMessage produce the same, valid frames.
func TestFraming_serverWrites_validFrames(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 125, 126, 65535, 65536, 1 << 20}
	for _, prepared := range []bool{false, true} {
		name := "WriteMessage"
		if prepared {
			name = "WritePreparedMessage"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, &websocket.Upgrader{}, func(conn *websocket.Conn) {
				for _, n := range sizes {
					for _, mt := range []int{websocket.TextMessage, websocket.BinaryMessage} {
						p := binaryPayload(n)
						if mt == websocket.TextMessage {
							p = textPayload(n)
						}
						var err error
						if prepared {
							var pm *websocket.PreparedMessage
							if pm, err = websocket.NewPreparedMessage(mt, p); err == nil {
								err = conn.WritePreparedMessage(pm)
							}
						} else {
							err = conn.WriteMessage(mt, p)
						}
						if err != nil {
							return
						}
					}
				}
				echoMessages(conn)
			})
			for _, n := range sizes {
				c.ExpectMessage(wstest.OpText, textPayload(n))
				c.ExpectMessage(wstest.OpBinary, binaryPayload(n))
			}
			closeNormally(t, c)
		})
	}
}

// "Concurrent writers are safe": messages written from several goroutines,
// and pings sent meanwhile with WriteControl, arrive whole, each writer's in
// its order, never interleaved inside a frame or a message.
func TestFraming_concurrentWriters_messagesNotInterleaved(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 4, 25
	msg := func(w, i int) []byte {
		return append([]byte(fmt.Sprintf("writer %d message %d ", w, i)), textPayload(1000*(i%7)+w)...)
	}
	c := dial(t, &websocket.Upgrader{}, func(conn *websocket.Conn) {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWriter {
					if conn.WriteMessage(websocket.TextMessage, msg(w, i)) != nil {
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if conn.WriteControl(websocket.PingMessage, []byte(fmt.Sprint(i)), time.Now().Add(5*time.Second)) != nil {
					return
				}
			}
		}()
		wg.Wait()
		echoMessages(conn)
	})
	next := make([]int, writers)
	pings := 0
	for n := 0; n < writers*perWriter+20; n++ {
		op, p := c.ReadMessage()
		if op == wstest.OpPing {
			if string(p) != fmt.Sprint(pings) {
				t.Fatalf("ping %d has payload %q", pings, p)
			}
			pings++
			continue
		}
		var w, i int
		if _, err := fmt.Sscanf(string(p), "writer %d message %d ", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("message %d: cannot parse %.40q: %v", n, p, err)
		}
		if i != next[w] || !bytes.Equal(p, msg(w, i)) {
			t.Fatalf("writer %d: got message %d (%d bytes), want message %d intact", w, i, len(p), next[w])
		}
		next[w]++
	}
	closeNormally(t, c)
}
