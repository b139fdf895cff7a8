package conformance

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// Group 5: fragmentation (RFC 6455 §5.4). Fragmented messages are echoed
// whole, control frames may come between fragments and are answered right
// away, control frames may not be fragmented, and continuation frames must
// continue something.

func TestFragment_message_echoedWhole(t *testing.T) {
	t.Parallel()
	eachEcho(t, "text in 2", func(t *testing.T, c *wstest.Client) {
		c.Send(frag(wstest.OpText, false, "fragment1"), cont(true, "fragment2"))
		c.ExpectMessage(wstest.OpText, []byte("fragment1fragment2"))
		closeNormally(t, c)
	})
	eachEcho(t, "binary in 3", func(t *testing.T, c *wstest.Client) {
		c.Send(wstest.Frag(wstest.OpBinary, false, []byte{0, 1}), wstest.Frag(wstest.OpContinuation, false, []byte{0xFF}), wstest.Frag(wstest.OpContinuation, true, []byte{2}))
		c.ExpectMessage(wstest.OpBinary, []byte{0, 1, 0xFF, 2})
		closeNormally(t, c)
	})
	eachEcho(t, "text in 2 with pause", func(t *testing.T, c *wstest.Client) {
		c.Send(frag(wstest.OpText, false, "fragment1"))
		time.Sleep(50 * time.Millisecond)
		c.Send(cont(true, "fragment2"))
		c.ExpectMessage(wstest.OpText, []byte("fragment1fragment2"))
		closeNormally(t, c)
	})
	eachEcho(t, "text in 2 octet chops", func(t *testing.T, c *wstest.Client) {
		if err := c.WriteChopped(encode(frag(wstest.OpText, false, "fragment1"), cont(true, "fragment2")), 1, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		c.ExpectMessage(wstest.OpText, []byte("fragment1fragment2"))
		closeNormally(t, c)
	})
}

func TestFragment_emptyFragments_echoed(t *testing.T) {
	t.Parallel()
	eachEcho(t, "all empty", func(t *testing.T, c *wstest.Client) {
		c.Send(frag(wstest.OpText, false, ""), cont(false, ""), cont(true, ""))
		c.ExpectMessage(wstest.OpText, []byte{})
		closeNormally(t, c)
	})
	eachEcho(t, "empty first", func(t *testing.T, c *wstest.Client) {
		c.Send(frag(wstest.OpText, false, ""), cont(true, "Hello"))
		c.ExpectMessage(wstest.OpText, []byte("Hello"))
		closeNormally(t, c)
	})
	eachEcho(t, "empty middle and last", func(t *testing.T, c *wstest.Client) {
		c.Send(frag(wstest.OpBinary, false, "ab"), cont(false, ""), cont(false, "cd"), cont(true, ""))
		c.ExpectMessage(wstest.OpBinary, []byte("abcd"))
		closeNormally(t, c)
	})
}

// Autobahn 5.6-5.8: a ping between two fragments sent together is
// answered, and the message still echoed.
func TestFragment_pingBetweenFragments_answered(t *testing.T) {
	t.Parallel()
	frames := []wstest.Frame{frag(wstest.OpText, false, "fragment1"), ping("ping payload"), cont(true, "fragment2")}
	eachEcho(t, "one write", func(t *testing.T, c *wstest.Client) {
		c.SendRaw(encode(frames...))
		c.ExpectMessage(wstest.OpPong, []byte("ping payload"))
		c.ExpectMessage(wstest.OpText, []byte("fragment1fragment2"))
		closeNormally(t, c)
	})
	eachEcho(t, "octet chops", func(t *testing.T, c *wstest.Client) {
		if err := c.WriteChopped(encode(frames...), 1, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		c.ExpectMessage(wstest.OpPong, []byte("ping payload"))
		c.ExpectMessage(wstest.OpText, []byte("fragment1fragment2"))
		closeNormally(t, c)
	})
}

// The pong for a ping sent in the middle of a message must come back while
// the rest of the message is still withheld: the server answers control
// frames as they arrive, not at the end of the message.
func TestFragment_pingBetweenFragments_answeredBeforeRestIsSent(t *testing.T) {
	t.Parallel()
	eachEcho(t, "5 fragments 4 pings", func(t *testing.T, c *wstest.Client) {
		c.Send(frag(wstest.OpText, false, "f1"))
		for i, s := range []string{"f2", "f3", "f4", "f5"} {
			p := "ping " + s
			c.Send(ping(p))
			c.ExpectMessage(wstest.OpPong, []byte(p))
			c.Send(cont(i == 3, s))
		}
		c.ExpectMessage(wstest.OpText, []byte("f1f2f3f4f5"))
		closeNormally(t, c)
	})
	eachEcho(t, "binary", func(t *testing.T, c *wstest.Client) {
		c.Send(wstest.Frag(wstest.OpBinary, false, []byte{1}), pong("ignored"), ping("in between"))
		c.ExpectMessage(wstest.OpPong, []byte("in between"))
		c.Send(wstest.Frag(wstest.OpContinuation, true, []byte{2}))
		c.ExpectMessage(wstest.OpBinary, []byte{1, 2})
		closeNormally(t, c)
	})
}

func TestFragment_fragmentedControlFrame_closes1002(t *testing.T) {
	t.Parallel()
	for _, op := range []byte{wstest.OpPing, wstest.OpPong, wstest.OpClose} {
		eachEcho(t, opName(op), func(t *testing.T, c *wstest.Client) {
			c.Send(frag(op, false, "fragment1"), cont(true, "fragment2"))
			c.ExpectCloseNext(1002)
		})
	}
	eachEcho(t, "ping without FIN inside a message", func(t *testing.T, c *wstest.Client) {
		c.Send(frag(wstest.OpText, false, "Hel"), frag(wstest.OpPing, false, "p"), cont(true, "lo"))
		c.ExpectCloseNext(1002)
	})
}

func TestFragment_continuationWithoutStart_closes1002(t *testing.T) {
	t.Parallel()
	for _, fin := range []bool{true, false} {
		name := "fin"
		if !fin {
			name = "nofin"
		}
		eachEcho(t, name, func(t *testing.T, c *wstest.Client) {
			c.SendRaw(encode(cont(fin, "fragment1"), text("not echoed")))
			c.ExpectCloseNext(1002)
		})
		eachEcho(t, name+" octet chops", func(t *testing.T, c *wstest.Client) {
			c.WriteChopped(encode(cont(fin, "fragment1"), text("not echoed")), 1, time.Millisecond)
			c.ExpectCloseNext(1002)
		})
	}
	// Autobahn 5.15: a finished message, then a continuation with nothing to
	// continue.
	eachEcho(t, "after a finished message", func(t *testing.T, c *wstest.Client) {
		c.SendRaw(encode(frag(wstest.OpText, false, "fragment1"), cont(true, "fragment2"), cont(false, "fragment3"), frag(wstest.OpText, true, "fragment4")))
		c.ExpectMessage(wstest.OpText, []byte("fragment1fragment2"))
		c.ExpectCloseNext(1002)
	})
}

func TestFragment_newDataFrameWhileMessageOpen_closes1002(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		first  byte
		second byte
		fin    bool
	}{
		{"text then text", wstest.OpText, wstest.OpText, true},
		{"text then unfinished text", wstest.OpText, wstest.OpText, false},
		{"binary then text", wstest.OpBinary, wstest.OpText, true},
		{"text then binary", wstest.OpText, wstest.OpBinary, true},
	}
	for _, tc := range cases {
		eachEcho(t, tc.name, func(t *testing.T, c *wstest.Client) {
			c.Send(frag(tc.first, false, "fragment1"), frag(tc.second, tc.fin, "fragment2"))
			c.ExpectClose(1002)
		})
	}
}

// Pings between the fragments of a 4 MiB message are all answered, in
// order, while the echo streams back: pongs may come between the frames
// of the echo but never inside one.
func TestFragment_pingsInsideBigMessage_answeredInOrder(t *testing.T) {
	t.Parallel()
	eachEcho(t, "4MiB", func(t *testing.T, c *wstest.Client) {
		c.Timeout = bigTimeout
		p := binaryPayload(4 << 20)
		var frames []wstest.Frame
		for i, f := range fragments(wstest.OpBinary, p, 64<<10) {
			frames = append(frames, f, ping(fmt.Sprint(i)))
		}
		b := encode(frames...)
		errc := make(chan error, 1)
		go func() { errc <- c.WriteRaw(b) }()
		var got []byte
		pongs, started, done := 0, false, false
		for !done || pongs < len(frames)/2 {
			f, err := c.ReadFrame()
			if err != nil {
				t.Fatalf("after %d bytes and %d pongs: %v", len(got), pongs, err)
			}
			switch {
			case f.Opcode == wstest.OpPong:
				if string(f.Payload) != fmt.Sprint(pongs) {
					t.Fatalf("pong %d has payload %q", pongs, f.Payload)
				}
				pongs++
			case f.Opcode == wstest.OpBinary && !started, f.Opcode == wstest.OpContinuation && started && !done:
				got = append(got, f.Payload...)
				started, done = true, f.Fin
			default:
				t.Fatalf("unexpected %v after %d bytes and %d pongs", f, len(got), pongs)
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("echo differs: %d bytes, want %d", len(got), len(p))
		}
		closeNormally(t, c)
	})
}
