package conformance

import (
	"testing"

	"github.com/hybi/websocket/internal/wstest"
)

// Group 10: fragment sizes. The same 64 KiB message, sent as fragments of
// 1 byte, 1000 bytes and 64 KiB, is echoed intact.

func TestAutoFragmentation_64KiBInFragments_echoedIntact(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 1000, 64 << 10} {
		for _, op := range []byte{wstest.OpText, wstest.OpBinary} {
			p := binaryPayload(64 << 10)
			if op == wstest.OpText {
				p = textPayload(64 << 10)
			}
			eachEcho(t, opName(op)+"/"+sizeName(size)+" fragments", func(t *testing.T, c *wstest.Client) {
				echoBig(t, c, op, p, fragments(op, p, size))
			})
		}
	}
}
