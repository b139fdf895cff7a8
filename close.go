package websocket

import (
	"errors"
	"net"
	"time"
	"unicode/utf8"
)

var errCloseTimeout = errors.New("websocket: timed out waiting for the peer's close message")

// finishClose runs on the read side once the peer's close message was
// handled: when ours was sent too, the closing handshake is complete and
// the server closes the TCP connection first (RFC 6455 §7.1.1).
func (c *Conn) finishClose() {
	if c.cl.sent.Load() {
		c.Close()
	}
}

// finishCloseLocked is finishClose for the write side, after our close
// message went out.
func (c *Conn) finishCloseLocked() {
	if c.cl.received.Load() {
		c.Close()
	}
}

// CloseHandshake performs the closing handshake of RFC 6455 §7.1.2: it
// sends a close message with code and text, waits for the peer's close
// message, then closes the socket. The wait is bounded by
// [Upgrader.CloseTimeout] (5 seconds by default); data messages that
// arrive meanwhile are discarded.
//
// It may be called from any goroutine. If another goroutine is reading,
// that goroutine receives the peer's close (as a [*CloseError]) and
// CloseHandshake waits for it; otherwise CloseHandshake reads. It returns
// nil when the peer answered, and an error when the peer did not answer in
// time or the connection failed first. The socket is closed in every
// case. code must be a code that may be sent (RFC 6455 §7.4) or
// [CloseNoStatusReceived] for an empty close message; text must be UTF-8
// and at most 123 bytes.
func (c *Conn) CloseHandshake(code int, text string) error {
	if code != CloseNoStatusReceived && !validCloseCode(code) {
		return errors.New("websocket: close code cannot be sent on the wire")
	}
	if !utf8.ValidString(text) {
		return errors.New("websocket: close reason is not valid UTF-8")
	}
	deadline := time.Now().Add(c.closeTimeout)
	err := c.WriteControl(CloseMessage, FormatCloseMessage(code, text), deadline)
	if err != nil && err != ErrCloseSent {
		c.Close()
		return err
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	c.rd.closeReading.Store(true)
	select {
	case <-c.rd.done.wait():
	case c.rd.sem.channel() <- struct{}{}:
		c.conn.SetReadDeadline(deadline)
		for {
			if _, err := c.fr.nextReader(c); err != nil {
				c.setReadErr(err) // in case a path returned without it
				break
			}
		}
		c.rd.sem.release()
	case <-timer.C:
		c.Close()
		return errCloseTimeout
	}
	c.Close()
	if c.cl.received.Load() {
		return nil
	}
	err = c.readErrOrTimeout()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errCloseTimeout // our deadline for the peer's answer passed
	}
	return err
}

// readErrOrTimeout reports why the read side ended without the peer's
// close. It is called after readDone is closed.
func (c *Conn) readErrOrTimeout() error {
	select {
	case <-c.rd.done.wait():
	default:
		return errCloseTimeout
	}
	if err := c.rd.err; err != nil {
		return err
	}
	return errCloseTimeout
}
