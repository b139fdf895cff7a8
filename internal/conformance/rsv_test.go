package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// Group 3: reserved bits. With no extension negotiated, any RSV bit set
// fails the connection with 1002 (RFC 6455 §5.2); messages before the bad
// frame are still echoed and frames after it are not answered.

func withRsv(f wstest.Frame, rsv uint8) wstest.Frame {
	f.Rsv = rsv
	return f
}

func TestRsv_bitSet_closes1002(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		f    wstest.Frame
	}{
		{"rsv1 text", withRsv(text("Hello"), wstest.Rsv1)},
		{"rsv2 text", withRsv(text("Hello"), wstest.Rsv2)},
		{"rsv3 text", withRsv(text("Hello"), wstest.Rsv3)},
		{"rsv1+rsv3 binary", withRsv(binary([]byte{0, 1, 2}), wstest.Rsv1|wstest.Rsv3)},
		{"rsv1+rsv2 ping", withRsv(ping("Hello"), wstest.Rsv1|wstest.Rsv2)},
		{"all rsv close", withRsv(closeFrame(1000, ""), wstest.Rsv1|wstest.Rsv2|wstest.Rsv3)},
		{"rsv1 empty continuation", withRsv(cont(true, ""), wstest.Rsv1)},
	}
	for _, tc := range cases {
		eachEcho(t, tc.name, func(t *testing.T, c *wstest.Client) {
			c.Send(tc.f)
			c.ExpectCloseNext(1002)
		})
	}
}

// Autobahn 3.2-3.4: a valid text, the bad frame and a ping; the text is
// echoed, the ping is not answered.
func TestRsv_afterValidMessage_echoesThenCloses1002(t *testing.T) {
	t.Parallel()
	for _, rsv := range []uint8{wstest.Rsv1, wstest.Rsv2, wstest.Rsv3} {
		frames := []wstest.Frame{text("Hello"), withRsv(text("Hello"), rsv), ping("unanswered")}
		eachEcho(t, fmt.Sprintf("rsv%03b one write", rsv), func(t *testing.T, c *wstest.Client) {
			c.SendRaw(encode(frames...))
			c.ExpectMessage(wstest.OpText, []byte("Hello"))
			c.ExpectCloseNext(1002)
		})
		eachEcho(t, fmt.Sprintf("rsv%03b octet chops", rsv), func(t *testing.T, c *wstest.Client) {
			// The writes may fail once the server has given up: only what is
			// read back counts.
			c.WriteChopped(encode(frames...), 1, time.Millisecond)
			c.ExpectMessage(wstest.OpText, []byte("Hello"))
			c.ExpectCloseNext(1002)
		})
	}
}

// A fragmented message must not have RSV bits on its continuation frames
// either.
func TestRsv_onContinuation_closes1002(t *testing.T) {
	t.Parallel()
	eachEcho(t, "rsv2", func(t *testing.T, c *wstest.Client) {
		c.Send(frag(wstest.OpText, false, "Hel"), withRsv(cont(true, "lo"), wstest.Rsv2))
		c.ExpectClose(1002)
	})
}
