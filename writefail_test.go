package websocket

import (
	"errors"
	"io"
	"net"
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
		big := make([]byte, 64<<20) // far more than the socket buffers hold
		// The deadline is set once big is made (zeroing 64 MiB under -race
		// on a busy machine once took longer than it): the write must
		// start before it passes, or no byte goes out, no frame is cut,
		// and the connection rightly stays open for reading.
		c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
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

// A frame held back by the write coalescing (WriteMessage returned nil)
// that then fails to go out ends the connection, and the failure is
// returned by the next write, the next read (even with a message still
// buffered) and Close (issue 16).
func TestWrite_deferredWriteFailure_surfacesOnWriteReadAndClose(t *testing.T) {
	t.Parallel()
	for _, next := range []string{"write", "read", "Close"} {
		t.Run(next, func(t *testing.T) {
			server, client := net.Pipe() // unbuffered: the held frame's write blocks
			defer client.Close()
			var pending []byte
			for _, m := range []string{"one", "two"} {
				pending = wstest.AppendFrame(pending, wstest.Msg(wstest.OpText, []byte(m)))
			}
			c := newConn(server, connConfig{}, pending)
			defer c.Close()
			if _, p, err := c.ReadMessage(); err != nil || string(p) != "one" {
				t.Fatalf("ReadMessage = %q, %v", p, err)
			}
			c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			// "two" is buffered, so this answer is held back, and WriteMessage
			// returns before it reaches the socket.
			if err := c.WriteMessage(TextMessage, []byte("answer")); err != nil {
				t.Fatalf("WriteMessage = %v, want nil (held back)", err)
			}
			waitFor(t, "the held frame's write to fail", func() bool { return c.cl.failed.Load() })
			var err error
			switch next {
			case "write":
				err = c.WriteMessage(TextMessage, []byte("more"))
			case "read":
				_, _, err = c.ReadMessage()
			case "Close":
				err = c.Close()
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the next %s: %v, want the held frame's write error", next, err)
			}
		})
	}
}
