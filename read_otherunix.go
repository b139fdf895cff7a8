//go:build unix && (!linux || 386)

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
func (s *rawSocket) readFresh() error {
	s.n, s.err = 0, nil
	if err := s.rc.Read(s.fn); err != nil {
		s.c.rd.release()
		return s.readError(err)
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

// read is the syscall.RawConn read callback: it reads once into a
// borrowed buffer and returns false (wait for readability) on EAGAIN,
// after giving the buffer back.
func (s *rawSocket) read(fd uintptr) bool {
	if s.c.rd.bufp == nil {
		s.c.rd.borrow()
	}
	for {
		n, err := syscall.Read(int(fd), s.c.rd.buf)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			s.c.rd.release()
			return false
		}
		s.n, s.err = int32(n), err
		return true
	}
}

// queued returns 0: this transport does not ask the kernel (transport.go).
func (*rawSocket) queued() int { return 0 }
