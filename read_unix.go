//go:build unix

package websocket

import (
	"io"
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

// readFreshRaw waits for the socket to become readable through the
// runtime's poller, holding no buffer, and borrows one only to read what
// has arrived. An idle connection therefore holds no read buffer while it
// waits, which is what lets ten thousand of them stay small. Deadlines and
// Close interrupt the wait as they do a Read.
func (c *Conn) readFreshRaw() error {
	c.rawN, c.rawErr = 0, nil
	if err := c.raw.Read(c.rawFn); err != nil {
		c.releaseReadBuf()
		if _, ok := err.(*net.OpError); ok {
			return err // the net package described it already
		}
		return c.opError(err)
	}
	if c.rawN <= 0 {
		c.releaseReadBuf()
		if c.rawErr != nil {
			return c.opError(c.rawErr)
		}
		return io.EOF
	}
	c.rw = c.rawN
	return nil
}

// rawRead is the syscall.RawConn read callback: it reads once into a
// borrowed buffer and returns false (wait for readability) on EAGAIN,
// after giving the buffer back.
func (c *Conn) rawRead(fd uintptr) bool {
	if c.rbufp == nil {
		c.borrowReadBuf()
	}
	for {
		n, err := syscall.Read(int(fd), c.rbuf)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			c.releaseReadBuf()
			return false
		}
		c.rawN, c.rawErr = n, err
		return true
	}
}

func (c *Conn) opError(err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError("read", errno)
	}
	return &net.OpError{Op: "read", Net: c.conn.LocalAddr().Network(), Source: c.conn.LocalAddr(), Addr: c.conn.RemoteAddr(), Err: err}
}
