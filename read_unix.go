//go:build unix

package websocket

import (
	"net"
	"os"
	"syscall"
)

// initRaw prepares readFresh's wait-then-borrow path on sockets that
// expose their file descriptor (plain TCP and Unix sockets).
func (c *Conn) initRaw() {
	sc, ok := c.conn.(syscall.Conn)
	if !ok {
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
