package conformance

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// Group 2: ping and pong. A ping is answered by a pong with the same
// payload; a pong the server did not ask for is ignored; a control frame
// over 125 bytes fails the connection with 1002 (RFC 6455 §5.5).

func TestPing_answeredWithPongOfSamePayload(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"text", []byte("Hello, world!")},
		{"binary", []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}},
		{"125 bytes", bytes.Repeat([]byte{0xFE}, 125)},
	}
	for _, tc := range cases {
		eachEcho(t, tc.name, func(t *testing.T, c *wstest.Client) {
			c.Send(wstest.Msg(wstest.OpPing, tc.payload))
			c.ExpectMessage(wstest.OpPong, tc.payload)
			closeNormally(t, c)
		})
	}
}

func TestPing_126Bytes_closes1002(t *testing.T) {
	t.Parallel()
	eachEcho(t, "ping", func(t *testing.T, c *wstest.Client) {
		c.Send(wstest.Msg(wstest.OpPing, bytes.Repeat([]byte{0xFE}, 126)))
		c.ExpectCloseNext(1002)
	})
	eachEcho(t, "pong", func(t *testing.T, c *wstest.Client) {
		c.Send(wstest.Msg(wstest.OpPong, bytes.Repeat([]byte{0xFE}, 126)))
		c.ExpectCloseNext(1002)
	})
}

func TestPing_sentInChops_answered(t *testing.T) {
	t.Parallel()
	eachEcho(t, "1-byte chops", func(t *testing.T, c *wstest.Client) {
		p := []byte("Hello, chopped world!")
		if err := c.WriteChopped(wstest.AppendFrame(nil, wstest.Msg(wstest.OpPing, p)), 1, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		c.ExpectMessage(wstest.OpPong, p)
		closeNormally(t, c)
	})
}

func TestPong_unsolicited_ignored(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "unsolicited pong payload"} {
		eachEcho(t, fmt.Sprintf("%dB", len(p)), func(t *testing.T, c *wstest.Client) {
			c.Send(pong(p), text("after the pong"))
			// Anything sent for the pong would arrive before this echo.
			c.ExpectMessage(wstest.OpText, []byte("after the pong"))
			closeNormally(t, c)
		})
	}
	eachEcho(t, "then ping", func(t *testing.T, c *wstest.Client) {
		c.Send(pong("unsolicited"), ping("solicited"))
		c.ExpectMessage(wstest.OpPong, []byte("solicited"))
		closeNormally(t, c)
	})
}

func TestPing_tenPings_answeredInOrder(t *testing.T) {
	t.Parallel()
	var frames []wstest.Frame
	for i := range 10 {
		frames = append(frames, ping(fmt.Sprintf("payload-%d", i)))
	}
	eachEcho(t, "one write each", func(t *testing.T, c *wstest.Client) {
		c.Send(frames...)
		for i := range 10 {
			c.ExpectMessage(wstest.OpPong, []byte(fmt.Sprintf("payload-%d", i)))
		}
		closeNormally(t, c)
	})
	eachEcho(t, "all in one write", func(t *testing.T, c *wstest.Client) {
		c.SendRaw(encode(frames...))
		for i := range 10 {
			c.ExpectMessage(wstest.OpPong, []byte(fmt.Sprintf("payload-%d", i)))
		}
		closeNormally(t, c)
	})
}

func TestPing_betweenMessages_answeredInOrder(t *testing.T) {
	t.Parallel()
	eachEcho(t, "text ping text", func(t *testing.T, c *wstest.Client) {
		c.SendRaw(encode(text("first"), ping("p"), text("second")))
		c.ExpectMessage(wstest.OpText, []byte("first"))
		c.ExpectMessage(wstest.OpPong, []byte("p"))
		c.ExpectMessage(wstest.OpText, []byte("second"))
		closeNormally(t, c)
	})
}
