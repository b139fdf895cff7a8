//go:build unix

package websocket

import (
	"net"
	"os"
	"syscall"
)

// initRaw prepares readFreshRaw's wait-then-borrow path, and the send
// queue's non-blocking writev, on plain TCP and Unix sockets. Only those
// exact types: a wrapper that embeds one but overrides Read or Write (to
// meter or throttle, say) must see every byte, so it gets plain Reads and
// Writes.
func (c *Conn) initRaw() {
	var sc syscall.Conn
	switch nc := c.conn.(type) {
	case *net.TCPConn:
		sc = nc
	case *net.UnixConn:
		sc = nc
	default:
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	c.raw = rc
	c.rawFn = c.rawRead // a method value made once, so reads do not allocate
}

func (c *Conn) rawReadError(err error) error {
	if _, ok := err.(*net.OpError); ok {
		return err // the net package described it already
	}
	return c.opError(err)
}

func (c *Conn) opError(err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError("read", errno)
	}
	return &net.OpError{Op: "read", Net: c.conn.LocalAddr().Network(), Source: c.conn.LocalAddr(), Addr: c.conn.RemoteAddr(), Err: err}
}
