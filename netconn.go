package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// AsNetConn returns a [net.Conn] that carries a byte stream over c, for
// code written against net.Conn or io.ReadWriter: a tunnel, a protocol
// such as SSH or a database wire protocol, net/rpc. Each Write sends its
// bytes as one message of messageType (normally [BinaryMessage]); Read
// returns the payloads of the messages the peer sends, one after another,
// with no message boundaries.
//
//   - A message of another type fails the connection with status 1003
//     (unsupported data) and Read returns an error.
//   - A close message with status 1000 (normal closure), or none, ends the
//     stream: Read returns io.EOF. Other closes are returned as the
//     [*CloseError].
//   - SetDeadline, SetReadDeadline and SetWriteDeadline are
//     [Conn.SetReadDeadline] and [Conn.SetWriteDeadline]. A Read or Write
//     that passes its deadline returns an error that matches
//     os.ErrDeadlineExceeded and has Timeout() true, as net.Conn asks; but,
//     unlike a TCP connection, the direction that timed out is then failed
//     for good (a frame may be half read or half written).
//   - Close performs the closing handshake with status 1000
//     ([Conn.CloseHandshake], bounded by [Upgrader.CloseTimeout]); it may
//     be called more than once and returns the first call's result.
//   - When ctx is done, the connection is closed at once, without the
//     handshake, as [Conn.Close] does.
//
// With [TextMessage], each Write must be valid UTF-8 on its own. Like any
// net.Conn, the result may be used from several goroutines; concurrent
// Reads take turns. c must not be read elsewhere meanwhile; writing other
// messages to c is safe but interleaves them with the stream.
func AsNetConn(ctx context.Context, c *Conn, messageType int) net.Conn {
	nc := &netConn{c: c, messageType: messageType}
	nc.stopCtx = context.AfterFunc(ctx, func() { c.Close() })
	return nc
}

// netConn is the net.Conn of AsNetConn.
type netConn struct {
	c           *Conn
	messageType int
	stopCtx     func() bool

	readMu sync.Mutex
	r      io.Reader // the message being read; nil between messages
	err    error     // sticky: io.EOF after a normal close, or why reading failed

	closeOnce sync.Once
	closeErr  error
}

// errWrongType is the read error after a message of the wrong type.
type errWrongType struct{ got, want int }

func (e errWrongType) Error() string {
	return fmt.Sprintf("websocket: net.Conn stream got a message of type %d, want %d", e.got, e.want)
}

func (nc *netConn) Read(p []byte) (int, error) {
	nc.readMu.Lock()
	defer nc.readMu.Unlock()
	if nc.err != nil {
		return 0, nc.err
	}
	for {
		if nc.r == nil {
			mt, r, err := nc.c.NextReader()
			if err != nil {
				if IsCloseError(err, CloseNormalClosure, CloseNoStatusReceived) {
					err = io.EOF
				}
				nc.err = err
				return 0, err
			}
			if mt != nc.messageType {
				nc.err = errWrongType{got: mt, want: nc.messageType}
				nc.c.WriteControl(CloseMessage, FormatCloseMessage(CloseUnsupportedData, "unexpected message type"), time.Now().Add(controlWriteWait))
				nc.c.Close()
				return 0, nc.err
			}
			nc.r = r
		}
		n, err := nc.r.Read(p)
		if errors.Is(err, io.EOF) {
			nc.r = nil
			err = nil
		}
		if err != nil {
			nc.err = err
		}
		if n > 0 || err != nil || len(p) == 0 {
			return n, err
		}
		// The end of a message, or an empty one: go on with the next.
	}
}

func (nc *netConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := nc.c.WriteMessage(nc.messageType, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (nc *netConn) Close() error {
	nc.closeOnce.Do(func() {
		nc.stopCtx()
		// A Read in progress receives the peer's answer (io.EOF)
		// while the handshake waits for it; otherwise the handshake
		// reads it, and a Read that starts meanwhile waits.
		nc.closeErr = nc.c.CloseHandshake(CloseNormalClosure, "")
	})
	return nc.closeErr
}

func (nc *netConn) LocalAddr() net.Addr  { return nc.c.LocalAddr() }
func (nc *netConn) RemoteAddr() net.Addr { return nc.c.RemoteAddr() }

func (nc *netConn) SetDeadline(t time.Time) error {
	if err := nc.c.SetReadDeadline(t); err != nil {
		return err
	}
	return nc.c.SetWriteDeadline(t)
}

func (nc *netConn) SetReadDeadline(t time.Time) error  { return nc.c.SetReadDeadline(t) }
func (nc *netConn) SetWriteDeadline(t time.Time) error { return nc.c.SetWriteDeadline(t) }
