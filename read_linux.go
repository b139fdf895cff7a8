package websocket

import (
	"io"
	"syscall"
	"unsafe"
)

// readFreshRaw waits for the socket to become readable through the
// runtime's poller, holding no buffer, and borrows one only to read what
// has arrived. An idle connection therefore holds no read buffer while it
// waits, which is what lets ten thousand of them stay small. Deadlines and
// Close interrupt the wait as they do a Read.
//
// The buffer is borrowed here, not inside the RawConn callback: the
// callback runs several frames deeper, and a pool's slow path there is
// what would grow a connection goroutine's stack past 2 KiB for good. So
// the wait comes first, in a RawConn.Read of its own whose callback peeks
// (MSG_PEEK, one byte, nothing consumed) before asking to wait: the check
// follows the readiness reset RawConn.Read makes, so no wake-up is lost.
// While the peer keeps the socket busy (the peek found input without
// waiting, or a read filled the buffer) the read is tried first instead,
// saving the peek; a read that finds nothing switches back.
func (c *Conn) readFreshRaw() error {
	// One frame, no helpers: this is the deepest point of an idle
	// connection's stack (see the comment above).
	wait := !c.rawTryRead
	for {
		if wait {
			// An error the peek took off the socket (a reset, say: Linux
			// reports a pending socket error once, even to MSG_PEEK) is
			// returned here, since the read would no longer see it.
			c.rawErr, c.rawState = nil, rawWaiting
			if err := c.raw.Read(c.rawFn); err != nil {
				return c.rawReadError(err)
			}
			if c.rawErr != nil {
				return c.opError(c.rawErr)
			}
			c.rawTryRead = c.rawState == rawWaiting // input was there already
		}
		if c.rbufp == nil {
			c.borrowReadBuf()
		}
		c.rawN, c.rawErr, c.rawState = 0, nil, rawReading
		if err := c.raw.Read(c.rawFn); err != nil {
			c.releaseReadBuf()
			return c.rawReadError(err)
		}
		if c.rawState != rawWouldBlock {
			break
		}
		c.rawTryRead = false
		c.releaseReadBuf() // nothing after all: wait without it
		wait = true
	}
	if c.rawN == len(c.rbuf) {
		c.rawTryRead = true
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

// The states of the RawConn read callback.
const (
	rawReading    = iota // read once into c.rbuf
	rawWouldBlock        // that read found nothing (EAGAIN)
	rawWaiting           // peek; wait if nothing is there
	rawWoken             // called again after the wait
)

// rawRead is the syscall.RawConn read callback. Reading, it reads once
// into the borrowed buffer and never asks to wait: EAGAIN is reported in
// c.rawState, so that the buffer is given back before any wait. Waiting,
// it returns at once when a peek finds input (or the end of it, or an
// error, which the read will report), else asks the poller to wait, and
// ends when called after the wait.
func (c *Conn) rawRead(fd uintptr) bool {
	switch c.rawState {
	case rawWoken:
		return true
	case rawWaiting:
		for {
			_, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.rawPeek)), 1,
				syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				c.rawState = rawWoken
				return false
			case 0:
			default:
				c.rawErr = e
			}
			return true
		}
	}
	for {
		n, err := syscall.Read(int(fd), c.rbuf)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			c.rawState = rawWouldBlock
			return true
		}
		c.rawN, c.rawErr = n, err
		return true
	}
}
