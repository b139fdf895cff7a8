//go:build !386

// linux/386 has no recvfrom system call (it goes through socketcall): it
// uses read_otherunix.go.

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
func (s *rawSocket) readFresh() error {
	// One frame, no helpers: this is the deepest point of an idle
	// connection's stack (see the comment above).
	wait := !s.tryRead
	for {
		if wait {
			// An error the peek took off the socket (a reset, say: Linux
			// reports a pending socket error once, even to MSG_PEEK) is
			// returned here, since the read would no longer see it.
			s.err, s.state = nil, rawWaiting
			if err := s.rc.Read(s.fn); err != nil {
				return s.readError(err)
			}
			if s.err != nil {
				return s.readError(s.err)
			}
			s.tryRead = s.state == rawWaiting // input was there already
		}
		if s.c.rd.bufp == nil {
			s.c.rd.borrow()
		}
		s.n, s.err, s.state = 0, nil, rawReading
		if err := s.rc.Read(s.fn); err != nil {
			s.c.rd.release()
			return s.readError(err)
		}
		if s.state != rawWouldBlock {
			break
		}
		s.tryRead = false
		s.c.rd.release() // nothing after all: wait without it
		wait = true
	}
	if int(s.n) == len(s.c.rd.buf) {
		s.tryRead = true
	}
	if s.n <= 0 {
		s.c.rd.release()
		if s.err != nil {
			return s.readError(s.err)
		}
		return io.EOF
	}
	s.c.rd.end = int(s.n)
	return nil
}

// The states of the RawConn read callback.
const (
	rawReading    = iota // read once into the borrowed buffer
	rawWouldBlock        // that read found nothing (EAGAIN)
	rawWaiting           // peek; wait if nothing is there
	rawWoken             // called again after the wait
	rawQueued            // ask the kernel how many bytes wait (FIONREAD)
)

// queued returns how many bytes wait in the socket's receive queue
// (transport.go), 0 when the kernel does not say.
func (s *rawSocket) queued() int {
	if fionread == 0 {
		return 0
	}
	s.n, s.err, s.state = 0, nil, rawQueued
	if err := s.rc.Read(s.fn); err != nil || s.err != nil {
		return 0
	}
	return int(s.n)
}

// read is the syscall.RawConn read callback. Reading, it reads once
// into the borrowed buffer and never asks to wait: EAGAIN is reported in
// s.state, so that the buffer is given back before any wait. Waiting,
// it returns at once when a peek finds input (or the end of it, or an
// error, which the read will report), else asks the poller to wait, and
// ends when called after the wait.
func (s *rawSocket) read(fd uintptr) bool {
	switch s.state {
	case rawWoken:
		return true
	case rawQueued:
		// The kernel writes an int: 32 bits on every Linux port.
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, fionread, uintptr(unsafe.Pointer(&s.n))); e != 0 {
			s.err = e
		}
		return true
	case rawWaiting:
		for {
			_, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&s.peek)), 1,
				syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				s.state = rawWoken
				return false
			case 0:
			default:
				s.err = e
			}
			return true
		}
	}
	for {
		n, err := syscall.Read(int(fd), s.c.rd.buf)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			s.state = rawWouldBlock
			return true
		}
		s.n, s.err = int32(n), err
		return true
	}
}
