//go:build !386

package websocket

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// A reset that is already pending when the reader comes back is reported
// as the reset, not as the end of the stream: the readiness peek must not
// swallow the socket error (Linux hands it out once, even to MSG_PEEK).
func TestRead_pendingResetIsReported(t *testing.T) {
	t.Parallel()
	for _, when := range []string{"before the read", "while the read waits"} {
		t.Run(when, func(t *testing.T) {
			server, client := tcpPair(t)
			c := newConn(server, connConfig{}, nil)
			defer c.Close()
			client.(*net.TCPConn).SetLinger(0) // close sends a reset
			if when == "before the read" {
				client.Close()
				time.Sleep(50 * time.Millisecond)
			} else {
				time.AfterFunc(50*time.Millisecond, func() { client.Close() })
			}
			_, _, err := c.ReadMessage()
			var opErr *net.OpError
			if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &opErr) {
				t.Fatalf("err = %T %v, want a *net.OpError for ECONNRESET", err, err)
			}
		})
	}
}
