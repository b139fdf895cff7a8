package websocket

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// The send queue is bounded in bytes as well as in messages (issue 17):
// messages wait behind an open NextWriter; one that would take the queue
// past its byte limit is refused, except into an empty queue; once the
// queue drains, messages are accepted again, and nothing refused is sent.
func TestQueue_byteLimitRefuses(t *testing.T) {
	t.Parallel()
	big := func(b byte) *PreparedMessage {
		return prepared(t, BinaryMessage, string(bytes.Repeat([]byte{b}, 1000)))
	}
	done := make(chan error, 1)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		done <- func() error {
			c.SetQueueByteLimit(2500)
			w, err := c.NextWriter(TextMessage) // the queue waits behind it
			if err != nil {
				return err
			}
			for _, b := range []byte{'a', 'b'} {
				if err := c.QueuePreparedMessage(big(b)); err != nil {
					return fmt.Errorf("message %c: %w", b, err)
				}
			}
			if err := c.QueuePreparedMessage(big('c')); !errors.Is(err, ErrQueueFull) {
				return fmt.Errorf("third 1000-byte message under a 2500-byte limit: err = %v, want ErrQueueFull", err)
			}
			if err := c.QueuePreparedMessage(prepared(t, TextMessage, "small")); err != nil {
				return fmt.Errorf("a message that fits: %w", err)
			}
			if err := w.Close(); err != nil {
				return err
			}
			c.SetQueueByteLimit(10)
			// Larger than the limit, into an empty queue: accepted once the
			// messages queued before are written.
			for i := 0; ; i++ {
				err := c.QueuePreparedMessage(big('d'))
				if !errors.Is(err, ErrQueueFull) || i == 500 {
					return err
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		c.ReadMessage()
	})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.ExpectMessage(wstest.OpText, nil)
	cl.ExpectMessage(wstest.OpBinary, bytes.Repeat([]byte{'a'}, 1000))
	cl.ExpectMessage(wstest.OpBinary, bytes.Repeat([]byte{'b'}, 1000))
	cl.ExpectMessage(wstest.OpText, []byte("small"))
	cl.ExpectMessage(wstest.OpBinary, bytes.Repeat([]byte{'d'}, 1000))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
