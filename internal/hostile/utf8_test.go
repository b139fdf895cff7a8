package hostile

import (
	"errors"
	"strconv"
	"testing"
	"time"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/hixieclient"
	"github.com/hybi/websocket/internal/leakcheck"
	"github.com/hybi/websocket/internal/wstest"
)

// Invalid UTF-8 sequences, each one byte string that no valid text
// contains: a lone 0xFF, an overlong '/', a UTF-16 surrogate, a code
// point over U+10FFFF, a 4-byte sequence cut short by ASCII.
var invalidUTF8 = map[string]string{
	"0xFF":           "\xff",
	"overlong":       "\xc0\xaf",
	"surrogate":      "\xed\xa0\x80",
	"over10FFFF":     "\xf4\x90\x80\x80",
	"truncatedThenA": "\xf0\x9d\x84a",
}

// multibyte mixes 2-, 3- and 4-byte sequences.
const multibyte = "κόσμε𝄞€"

// A close reason must be UTF-8 (RFC 6455 §5.5.1): 1007 otherwise.
func TestUTF8_closeReason(t *testing.T) {
	cases := map[string]string{"truncatedAtEnd": "ok\xe2\x82"}
	for name, bad := range invalidUTF8 {
		cases[name] = "reason " + bad
	}
	for name, reason := range cases {
		t.Run(name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{}, nil, readAll)
			c := wstest.Dial(t, s.addr, "/", nil)
			c.Send(closeFrame(1000, reason))
			c.ExpectCloseNext(websocket.CloseInvalidFramePayloadData)
			wantProtocolError(t, s.result(t), websocket.CloseInvalidFramePayloadData)
		})
	}
	t.Run("validMultibyte", func(t *testing.T) {
		leakcheck.Check(t)
		s := startServer(t, &websocket.Upgrader{}, nil, readAll)
		c := wstest.Dial(t, s.addr, "/", nil)
		c.Send(closeFrame(1000, multibyte))
		c.ExpectCloseNext(1000)
		var ce *websocket.CloseError
		if err := s.result(t); !errors.As(err, &ce) || ce.Code != 1000 || ce.Text != multibyte {
			t.Errorf("server read error = %v, want CloseError{1000, %q}", err, multibyte)
		}
	})
}

// Valid text split across fragments at every byte boundary, inside every
// multi-byte sequence, in two and in three fragments: each message is
// echoed intact.
func TestUTF8_validSplitAtEveryBoundary_echoed(t *testing.T) {
	leakcheck.Check(t)
	s := startServer(t, &websocket.Upgrader{}, nil, echo)
	c := wstest.Dial(t, s.addr, "/", nil)
	p := []byte(multibyte)
	for i := 0; i <= len(p); i++ {
		c.Send(frag(wstest.OpText, false, p[:i]), frag(wstest.OpContinuation, true, p[i:]))
		c.ExpectMessage(wstest.OpText, p)
		for j := i; j <= len(p); j += 3 {
			c.Send(frag(wstest.OpText, false, p[:i]), frag(wstest.OpContinuation, false, p[i:j]), frag(wstest.OpContinuation, true, p[j:]))
			c.ExpectMessage(wstest.OpText, p)
		}
	}
	// The same bytes one TCP write at a time, in one frame.
	if err := c.WriteChopped(encode(wstest.Msg(wstest.OpText, p)), 1, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	c.ExpectMessage(wstest.OpText, p)
	c.Send(closeFrame(1000, ""))
	c.ExpectCloseNext(1000)
	wantCloseCode(t, s.result(t), 1000)
}

// Invalid text split across two fragments at every boundary: 1007, each
// time.
func TestUTF8_invalidSplitAtEveryBoundary_closes1007(t *testing.T) {
	for name, bad := range invalidUTF8 {
		p := []byte("ok " + bad + " end")
		for i := 1; i < len(p); i++ {
			t.Run(name+"/at"+strconv.Itoa(i), func(t *testing.T) {
				leakcheck.Check(t)
				s := startServer(t, &websocket.Upgrader{}, nil, echo)
				c := wstest.Dial(t, s.addr, "/", nil)
				c.Send(frag(wstest.OpText, false, p[:i]), frag(wstest.OpContinuation, true, p[i:]))
				c.ExpectCloseNext(websocket.CloseInvalidFramePayloadData)
				wantProtocolError(t, s.result(t), websocket.CloseInvalidFramePayloadData)
			})
		}
	}
}

// Fail fast (RFC 6455 §8.1, Autobahn 6.4.x): the server closes with 1007
// as soon as the invalid bytes arrive, while the frame or the message is
// still unfinished; the rest is never sent. And a message that ends inside
// a sequence is invalid too.
func TestUTF8_failFast_closes1007(t *testing.T) {
	long := []byte("ab\xc0\xaf" + string(make([]byte, 996)))
	longWire := encode(wstest.Msg(wstest.OpText, long))
	for _, tc := range []struct {
		name string
		wire []byte
	}{
		// header (8 bytes: 16-bit length, mask key) and 4 of 1000 payload bytes
		{"midFrame", longWire[:12]},
		{"firstFragmentOfUnfinishedMessage", encode(frag(wstest.OpText, false, []byte("a\xff")))},
		{"continuationOfUnfinishedMessage", encode(frag(wstest.OpText, false, []byte("a\xe2")), frag(wstest.OpContinuation, false, []byte("\x28")))},
		{"messageEndsInsideSequence", encode(frag(wstest.OpText, false, []byte("a\xe2")), frag(wstest.OpContinuation, true, []byte("\x82")))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{}, nil, echo)
			c := wstest.Dial(t, s.addr, "/", nil)
			c.SendRaw(tc.wire)
			c.ExpectCloseNext(websocket.CloseInvalidFramePayloadData)
			wantProtocolError(t, s.result(t), websocket.CloseInvalidFramePayloadData)
		})
	}
}

// Binary messages and ping payloads are not text: invalid UTF-8 in them is
// data, echoed as is.
func TestUTF8_notTextNotValidated(t *testing.T) {
	leakcheck.Check(t)
	s := startServer(t, &websocket.Upgrader{}, nil, echo)
	c := wstest.Dial(t, s.addr, "/", nil)
	for _, bad := range invalidUTF8 {
		c.Send(wstest.Msg(wstest.OpBinary, []byte(bad)))
		c.ExpectMessage(wstest.OpBinary, []byte(bad))
		c.Send(wstest.Msg(wstest.OpPing, []byte(bad)))
		c.ExpectMessage(wstest.OpPong, []byte(bad))
	}
	c.Send(closeFrame(1000, ""))
	c.ExpectCloseNext(1000)
	wantCloseCode(t, s.result(t), 1000)
}

// dialHixie connects a hixie-76 client.
func dialHixie(t *testing.T, addr string) *hixieclient.Client {
	t.Helper()
	c, err := hixieclient.Dial(addr, hixieclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Conn.Close() })
	return c
}

// Hixie-76 text frames carry UTF-8 and end at 0xFF, which UTF-8 never
// contains. Invalid UTF-8 in a text frame (0x00) fails the connection:
// the server sends the closing frame 0xFF 0x00, closes the TCP connection,
// and the reader gets a ProtocolError with code 1007.
func TestUTF8_hixie76_invalid_closes(t *testing.T) {
	cases := map[string][]byte{"endsInsideSequence": []byte("\x00a\xe2\x82\xff")}
	for name, bad := range invalidUTF8 {
		if name == "0xFF" {
			continue // ends the frame
		}
		cases[name] = []byte("\x00ok " + bad + " end\xff")
	}
	// Split across TCP segments, the invalid byte arriving last.
	cases["splitAcrossWrites"] = []byte("\x00a\xf0\x9d\x28\xff")
	for name, wire := range cases {
		t.Run(name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{EnableHixie76: true}, nil, echo)
			c := dialHixie(t, s.addr)
			if name == "splitAcrossWrites" {
				c.WriteRaw(wire[:4])
				time.Sleep(20 * time.Millisecond)
				wire = wire[4:]
			}
			if err := c.WriteRaw(wire); err != nil {
				t.Fatal(err)
			}
			if err := c.ExpectClose(); err != nil {
				t.Error(err)
			}
			wantProtocolError(t, s.result(t), websocket.CloseInvalidFramePayloadData)
		})
	}
}

// Valid multibyte text in hixie-76 frames, one byte per TCP write, is
// echoed; bytes in frames of other low types (dropped unread, as the draft
// says) are not validated.
func TestUTF8_hixie76_valid_echoed(t *testing.T) {
	leakcheck.Check(t)
	s := startServer(t, &websocket.Upgrader{EnableHixie76: true}, nil, echo)
	c := dialHixie(t, s.addr)
	wire := append(append([]byte{0x00}, multibyte...), 0xFF)
	for i := range wire {
		if err := c.WriteRaw(wire[i : i+1]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if got, err := c.ReadText(); err != nil || got != multibyte {
		t.Fatalf("echo %q, %v; want %q", got, err, multibyte)
	}
	if err := c.WriteRaw([]byte("\x01\xc0\xaf dropped\xff\x00after\xff")); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadText(); err != nil || got != "after" {
		t.Fatalf("echo %q, %v; want \"after\" (the 0x01 frame dropped)", got, err)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	wantCloseCode(t, s.result(t), websocket.CloseNoStatusReceived)
}
