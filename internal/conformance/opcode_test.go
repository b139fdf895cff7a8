package conformance

import (
	"fmt"
	"testing"

	"github.com/hybi/websocket/internal/wstest"
)

// Group 4: opcodes. Reserved non-control (3-7) and control (0xB-0xF)
// opcodes fail the connection with 1002 (RFC 6455 §5.2).

var reservedOpcodes = []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}

func TestOpcode_reserved_closes1002(t *testing.T) {
	t.Parallel()
	for _, op := range reservedOpcodes {
		eachEcho(t, fmt.Sprintf("op%X empty", op), func(t *testing.T, c *wstest.Client) {
			c.Send(wstest.Msg(op, nil))
			c.ExpectCloseNext(1002)
		})
		eachEcho(t, fmt.Sprintf("op%X with payload", op), func(t *testing.T, c *wstest.Client) {
			c.Send(wstest.Msg(op, []byte("reserved")))
			c.ExpectCloseNext(1002)
		})
	}
}

// Autobahn 4.1.2-4.2.5: a valid text, the reserved opcode and a ping; the
// text is echoed, the ping is not answered.
func TestOpcode_reservedAfterValidMessage_echoesThenCloses1002(t *testing.T) {
	t.Parallel()
	for _, op := range reservedOpcodes {
		eachEcho(t, fmt.Sprintf("op%X", op), func(t *testing.T, c *wstest.Client) {
			c.SendRaw(encode(text("Hello"), wstest.Msg(op, []byte("reserved")), ping("unanswered")))
			c.ExpectMessage(wstest.OpText, []byte("Hello"))
			c.ExpectCloseNext(1002)
		})
	}
}

// A reserved non-control opcode inside a fragmented message.
func TestOpcode_reservedInsideFragmentedMessage_closes1002(t *testing.T) {
	t.Parallel()
	eachEcho(t, "op3", func(t *testing.T, c *wstest.Client) {
		c.Send(frag(wstest.OpText, false, "Hel"), frag(3, true, "lo"))
		c.ExpectClose(1002)
	})
}
