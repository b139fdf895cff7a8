package websocket

import "io"

// The transport seam (ARCHITECTURE.md): how a Conn waits for bytes and
// writes them, chosen once, when the Conn is made (newTransport, in the
// platform files):
//
//   - rawSocket (read_unix.go, read_linux.go, read_otherunix.go,
//     queue_linux.go): an exact *net.TCPConn or *net.UnixConn on unix. A
//     drained connection waits for input through the runtime's poller
//     holding no buffer, and the send queue writes with a non-blocking
//     writev of its own.
//   - streamConn (this file): any other net.Conn — TLS, a wrapper that
//     meters or throttles, net.Pipe, the HTTP/2 stream of RFC 8441 — read
//     into a borrowed buffer and written with Write (net.Buffers for
//     vectors).
//
// Writes go through the net.Conn in both cases (its Write, and
// net.Buffers.WriteTo, which uses writev where the connection supports
// it); only the send queue's non-blocking path is the raw socket's own.
type transport interface {
	// readFresh is called with no read buffer borrowed (rd.bufp == nil,
	// rd being the read side the transport was made for): it waits for
	// input, borrows a buffer into rd and reads what arrived
	// (rd.buf[:rd.end], at least one byte), or returns why it could not,
	// with no buffer borrowed. The caller holds the read lock. It takes no
	// arguments: it is the deepest call under an idle connection's wait,
	// and every byte of its frame counts (see the stack test in
	// serve_test.go).
	readFresh() error

	// queued returns how many bytes have arrived and wait in the kernel's
	// receive queue, beyond the read buffer, or 0 when the transport
	// cannot tell. The caller holds the read lock. ReadMessage counts
	// them as arrived when it sizes a large message's buffer (read_message.go).
	queued() int
}

// streamConn is the transport of any net.Conn without a raw socket: the
// Conn itself, seen as its transport, so that choosing it allocates
// nothing.
type streamConn Conn

func (s *streamConn) readFresh() error {
	rd := &s.rd
	rd.borrow()
	n, err := s.conn.Read(rd.buf)
	rd.end = n
	if n == 0 {
		rd.release()
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	return nil
}

func (*streamConn) queued() int { return 0 }
