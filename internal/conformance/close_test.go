package conformance

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/wstest"
)

// Group 7: the closing handshake (RFC 6455 §5.5.1, §7). The server answers
// a close with a close carrying the same code, ignores everything after the
// client's close, and then ends the TCP connection itself. Bad close
// payloads fail the connection (1002, or 1007 for a reason that is not
// UTF-8).

func TestClose_afterMessage_echoesThenCloses(t *testing.T) {
	t.Parallel()
	eachEcho(t, "text then close", func(t *testing.T, c *wstest.Client) {
		c.SendRaw(encode(text("Hello"), closeFrame(1000, "")))
		c.ExpectMessage(wstest.OpText, []byte("Hello"))
		c.ExpectCloseNext(1000)
	})
}

// Autobahn 7.1.2-7.1.5: frames after the client's close are ignored: no
// second close, no pong, no echo.
func TestClose_framesAfterClose_ignored(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		frames []wstest.Frame
	}{
		{"close twice", []wstest.Frame{closeFrame(1000, ""), closeFrame(1000, "")}},
		{"ping after close", []wstest.Frame{closeFrame(1000, ""), ping("unanswered")}},
		{"text after close", []wstest.Frame{closeFrame(1000, ""), text("not echoed")}},
		{"close inside fragmented message", []wstest.Frame{frag(wstest.OpText, false, "fragment1"), closeFrame(1000, ""), cont(true, "fragment2")}},
		{"garbage after close", []wstest.Frame{closeFrame(1000, ""), withRsv(wstest.Msg(0xB, nil), 7)}},
	}
	for _, tc := range cases {
		eachEcho(t, tc.name, func(t *testing.T, c *wstest.Client) {
			c.SendRaw(encode(tc.frames...))
			c.ExpectCloseNext(1000)
		})
	}
}

func TestClose_payloads(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		payload []byte
		want    []int
	}{
		// 7.3.1: an empty close may be answered empty or with 1000.
		{"empty answered empty or 1000", nil, []int{wstest.NoStatus, 1000}},
		{"1 byte closes 1002", []byte{0x03}, []int{1002}},
		{"1000 no reason", wstest.CloseBody(1000, ""), []int{1000}},
		{"1000 with reason", wstest.CloseBody(1000, "Hello World!"), []int{1000}},
		{"125-byte payload", wstest.CloseBody(1000, string(bytes.Repeat([]byte("*"), 123))), []int{1000}},
		{"126-byte payload closes 1002", wstest.CloseBody(1000, string(bytes.Repeat([]byte("*"), 124))), []int{1002}},
		{"invalid UTF-8 reason closes 1007", wstest.CloseBody(1000, kosme+"\xed\xa0\x80edited"), []int{1007}},
		{"truncated UTF-8 reason closes 1007", wstest.CloseBody(1000, "bye\xe2\x82"), []int{1007}},
		{"valid UTF-8 reason", wstest.CloseBody(1000, kosme+" \U0001d11e"), []int{1000}},
	}
	for _, tc := range cases {
		eachEcho(t, tc.name, func(t *testing.T, c *wstest.Client) {
			c.Send(wstest.Msg(wstest.OpClose, tc.payload))
			c.ExpectCloseNext(tc.want...)
		})
	}
}

// Autobahn 7.7: codes that may be sent are echoed.
func TestClose_validCodes_echoed(t *testing.T) {
	t.Parallel()
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		eachEcho(t, fmt.Sprint(code), func(t *testing.T, c *wstest.Client) {
			c.Send(closeFrame(uint16(code), "reason"))
			c.ExpectCloseNext(code)
		})
	}
}

// Autobahn 7.9: codes that may not be sent fail the connection.
func TestClose_invalidCodes_closes1002(t *testing.T) {
	t.Parallel()
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		eachEcho(t, fmt.Sprint(code), func(t *testing.T, c *wstest.Client) {
			c.Send(closeFrame(uint16(code), ""))
			c.ExpectCloseNext(1002)
		})
	}
}

// closeResult is what a server handler that starts the closing handshake
// reports.
type closeResult struct {
	err     error
	elapsed time.Duration
}

func closingServer(t *testing.T, up *websocket.Upgrader, code int, reason string) (*wstest.Client, <-chan closeResult) {
	res := make(chan closeResult, 1)
	c := dial(t, up, func(conn *websocket.Conn) {
		start := time.Now()
		err := conn.CloseHandshake(code, reason)
		res <- closeResult{err, time.Since(start)}
	})
	return c, res
}

// expectCloseFrame reads the next frame and checks it is a close with the
// given code and reason.
func expectCloseFrame(t *testing.T, c *wstest.Client, code uint16, reason string) {
	t.Helper()
	f, err := c.ReadFrame()
	if err != nil {
		t.Fatalf("read close frame: %v", err)
	}
	if want := wstest.CloseBody(code, reason); f.Opcode != wstest.OpClose || !f.Fin || f.Masked || !bytes.Equal(f.Payload, want) {
		t.Fatalf("got %v, want an unmasked close frame with payload %q", f, want)
	}
}

func TestClose_serverInitiated_completesWhenClientAnswers(t *testing.T) {
	t.Parallel()
	c, res := closingServer(t, &websocket.Upgrader{}, 1001, "going away")
	expectCloseFrame(t, c, 1001, "going away")
	c.Send(closeFrame(1001, ""))
	c.ExpectConnClosed()
	if r := <-res; r.err != nil {
		t.Fatalf("CloseHandshake = %v, want nil", r.err)
	}
}

func TestClose_serverInitiated_dataBeforeClientCloseIsDiscarded(t *testing.T) {
	t.Parallel()
	c, res := closingServer(t, &websocket.Upgrader{}, 1000, "")
	expectCloseFrame(t, c, 1000, "")
	c.SendRaw(encode(text("late message"), ping("late ping"), closeFrame(1000, "")))
	// Nothing is echoed or answered after the server's close.
	c.ExpectConnClosed()
	if r := <-res; r.err != nil {
		t.Fatalf("CloseHandshake = %v, want nil", r.err)
	}
}

func TestClose_serverInitiated_silentClient_closesAfterCloseTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	c, res := closingServer(t, &websocket.Upgrader{CloseTimeout: timeout}, 1000, "")
	expectCloseFrame(t, c, 1000, "")
	c.ExpectConnClosed()
	r := <-res
	if r.err == nil {
		t.Error("CloseHandshake = nil, want an error: the client never answered")
	}
	if r.elapsed < timeout || r.elapsed > timeout+2*time.Second {
		t.Errorf("CloseHandshake returned after %v, want about %v", r.elapsed, timeout)
	}
}

func TestClose_handlerCloses_connectionEndsWithoutFrame(t *testing.T) {
	t.Parallel()
	c := dial(t, &websocket.Upgrader{}, func(conn *websocket.Conn) { conn.Close() })
	c.ExpectConnClosed()
}

// Both sides start the closing handshake at once: each close answers the
// other, the server sends exactly one close frame and ends the connection,
// and its CloseHandshake sees the client's close.
func TestClose_simultaneous_oneCloseFrameEach(t *testing.T) {
	t.Parallel()
	for i := range 5 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			c, res := closingServer(t, &websocket.Upgrader{}, 1001, "")
			c.Send(closeFrame(1000, ""))
			c.ExpectCloseNext(1000, 1001)
			if r := <-res; r.err != nil {
				t.Fatalf("CloseHandshake = %v, want nil: the client's close arrived", r.err)
			}
		})
	}
}
