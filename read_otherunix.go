//go:build unix && !linux

package websocket

import (
	"io"
	"syscall"
)

// readFreshRaw waits for the socket to become readable through the
// runtime's poller, holding no buffer, and borrows one only to read what
// has arrived. An idle connection therefore holds no read buffer while it
// waits, which is what lets ten thousand of them stay small. Deadlines and
// Close interrupt the wait as they do a Read.
func (c *Conn) readFreshRaw() error {
	c.rawN, c.rawErr = 0, nil
	if err := c.raw.Read(c.rawFn); err != nil {
		c.releaseReadBuf()
		return c.rawReadError(err)
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
