//go:build unix

package websocket

import (
	"net"
	"os"
	"syscall"
)

// rawSocket is the transport of an exact *net.TCPConn or *net.UnixConn
// (transport.go): reads wait through the runtime's poller before a buffer
// is borrowed (readFresh, read_linux.go and read_otherunix.go), and the
// send queue writes with a non-blocking writev (queue_linux.go).
type rawSocket struct {
	rc syscall.RawConn
	fn func(fd uintptr) bool // rd.raw.read as a method value, made once
	c  *Conn                 // whose read buffer the callback reads into

	// The callback's results, kept here so that it does not allocate.
	err     error
	n       int32 // bytes read (a read buffer is at most 2 MiB)
	state   uint8 // what read does next (read_linux.go)
	tryRead bool  // the peer keeps the socket busy: read before any peek
	peek    byte  // MSG_PEEK's landing place
}

// newTransport picks the transport of nc: the raw socket for plain TCP and
// Unix sockets, and only for those exact types: a wrapper that embeds one
// but overrides Read or Write (to meter or throttle, say) must see every
// byte, so it gets the stream path.
func newTransport(c *Conn) transport {
	var sc syscall.Conn
	switch nc := c.conn.(type) {
	case *net.TCPConn:
		sc = nc
	case *net.UnixConn:
		sc = nc
	default:
		return (*streamConn)(c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return (*streamConn)(c)
	}
	s := &c.raw
	s.rc, s.c = rc, c
	s.fn = s.read
	return s
}

// readError describes a failed read. Not inlined: its callers sit under
// an idle connection's wait, and a call with fewer arguments keeps their
// frames small.
//
//go:noinline
func (s *rawSocket) readError(err error) error {
	if _, ok := err.(*net.OpError); ok {
		return err // the net package described it already
	}
	return opError("read", err, s.c.conn)
}

// opError describes a failed system call as the net package describes a
// failed read or write.
func opError(op string, err error, nc net.Conn) error {
	if errno, ok := err.(syscall.Errno); ok {
		name := op
		if op == "write" {
			name = "writev"
		}
		err = os.NewSyscallError(name, errno)
	}
	return &net.OpError{Op: op, Net: nc.LocalAddr().Network(), Source: nc.LocalAddr(), Addr: nc.RemoteAddr(), Err: err}
}

// rawTransport returns the raw socket when it is c's transport, else nil.
func (c *Conn) rawTransport() *rawSocket {
	s, _ := c.tr.(*rawSocket)
	return s
}
