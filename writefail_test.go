package websocket

import (
	"errors"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// An application write deadline that passes in the middle of a frame
// leaves a cut frame on the wire: the connection is closed at once, with
// no further byte (the peer sees the stream end inside the frame), and
// every later call reports the deadline (issue 16).
func TestWrite_deadlineCutsFrame_connectionClosedAndReported(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 4)
	addr := serveRaw(t, &Upgrader{}, func(c *Conn, _ *http.Request) {
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		big := make([]byte, 64<<20) // far more than the socket buffers hold
		err := c.WriteMessage(BinaryMessage, big)
		errs <- err
		errs <- c.WriteMessage(TextMessage, []byte("later"))
		_, _, rerr := c.ReadMessage()
		errs <- rerr
		errs <- c.Close()
	})
	cl := wstest.Dial(t, addr, "/", nil)
	defer cl.Close()
	for i, what := range []string{"the write", "a later write", "a later read", "Close"} {
		select {
		case err := <-errs:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s: %v, want the write deadline's error", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s (%d) did not return", what, i)
		}
	}
	// The client reads what reached it: one frame header announcing 64
	// MiB, part of its payload, then the end of the stream.
	nc := cl.Conn()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := io.Copy(io.Discard, nc)
	if n <= 10 || n >= 64<<20+10 {
		t.Fatalf("client got %d bytes, want a cut frame", n)
	}
}
