package websocket

// Control frames (RFC 6455 §5.5), both ways: what the reading goroutine
// does with a ping, pong or close from the peer, the handlers it calls,
// and WriteControl.

import (
	"sync/atomic"
	"time"
)

// handleControl reads a control frame's payload and acts on it (RFC 6455
// §5.5).
func (c *Conn) handleControl(h *header) error {
	n := int(h.length)
	if err := c.fill(n); err != nil {
		return err
	}
	// The payload is handled where it lies in the read buffer (unmasked
	// in place), and consumed once it has been copied out: a Conn keeps
	// no control-frame buffer of its own.
	p := c.rd.buf[c.rd.pos : c.rd.pos+n : c.rd.pos+n]
	if h.masked {
		mask(h.key, 0, p)
	}
	switch h.op {
	case opPing, opPong:
		if h.op == opPing && c.hd.pingUnset() {
			if o := c.obs; o != nil {
				o.h.ping(c, DirectionReceived, n)
			}
			c.answerPing(p) // before consume: p lies in the read buffer
			c.consume(n)
			break
		}
		appData := string(p)
		c.consume(n)
		if o := c.obs; o != nil {
			if h.op == opPing {
				o.h.ping(c, DirectionReceived, n)
			} else {
				o.h.pong(c, DirectionReceived, n)
			}
		}
		handler := c.PongHandler()
		if h.op == opPing {
			handler = c.PingHandler()
		}
		if err := handler(appData); err != nil {
			return c.readFailed(err)
		}
	case opClose:
		code, text, perr := parseClosePayload(p)
		c.consume(n)
		if perr != nil {
			return c.fail(perr)
		}
		c.cl.received.Store(true)
		if o := c.obs; o != nil {
			o.rec.note(ClosePeer, code, text)
		}
		var err error = &CloseError{Code: code, Text: text}
		if herr := c.CloseHandler()(code, text); herr != nil {
			err = herr
		}
		c.setReadErr(err)
		c.finishClose()
		return err
	}
	return nil
}

// SetPingHandler sets the handler called, from the reading goroutine, for
// each ping from the peer. A nil h restores the default, which answers
// with a pong carrying the same application data. The handler should not
// block for long: reading waits for it.
func (c *Conn) SetPingHandler(h func(appData string) error) {
	c.hd.set(func(s *handlerSet) { s.ping = h })
}

// PingHandler returns the current ping handler.
func (c *Conn) PingHandler() func(appData string) error {
	var h func(appData string) error
	if s := c.hd.p.Load(); s != nil {
		h = s.ping
	}
	if h == nil {
		return c.defaultPingHandler
	}
	return h
}

// ignorePong is the default pong handler: unsolicited pongs are allowed
// and ignored (RFC 6455 §5.5.3).
func ignorePong(string) error { return nil }

// SetPongHandler sets the handler called, from the reading goroutine, for
// each pong from the peer. A nil h restores the default, which does
// nothing.
func (c *Conn) SetPongHandler(h func(appData string) error) {
	c.hd.set(func(s *handlerSet) { s.pong = h })
}

// PongHandler returns the current pong handler.
func (c *Conn) PongHandler() func(appData string) error {
	var h func(appData string) error
	if s := c.hd.p.Load(); s != nil {
		h = s.pong
	}
	if h == nil {
		return ignorePong
	}
	return h
}

// SetCloseHandler sets the handler called, from the reading goroutine,
// when the peer's close message arrives; the read then returns a
// [*CloseError]. A nil h restores the default, which answers with a close
// message carrying the peer's code (RFC 6455 §5.5.1), after which the
// connection closes the socket. A handler that sends no close message
// leaves the socket to the application.
func (c *Conn) SetCloseHandler(h func(code int, text string) error) {
	c.hd.set(func(s *handlerSet) { s.close = h })
}

// CloseHandler returns the current close handler.
func (c *Conn) CloseHandler() func(code int, text string) error {
	var h func(code int, text string) error
	if s := c.hd.p.Load(); s != nil {
		h = s.close
	}
	if h == nil {
		return c.defaultCloseHandler
	}
	return h
}

// defaultCloseHandler echoes the peer's code. A failure to send it is not
// reported: the peer is leaving anyway, and the read returns its close.
func (c *Conn) defaultCloseHandler(code int, text string) error {
	c.WriteControl(CloseMessage, FormatCloseMessage(code, ""), time.Now().Add(controlWriteWait))
	return nil
}

// WriteControl writes a control message (close, ping or pong) with at most
// 125 bytes of payload. It waits only for a frame in progress, never for a
// whole message, so it may go out between the frames of a message another
// goroutine is streaming. The deadline bounds both the wait and the write;
// a zero deadline means no limit. After a close message, every write
// returns [ErrCloseSent].
func (c *Conn) WriteControl(messageType int, data []byte, deadline time.Time) error {
	return c.fr.writeControl(c, messageType, data, deadline)
}

func (*rfc6455) writeControl(c *Conn, messageType int, data []byte, deadline time.Time) error {
	switch messageType {
	case CloseMessage, PingMessage, PongMessage:
	default:
		return errBadWriteType
	}
	if len(data) > maxControlPayload {
		return errControlTooLong
	}
	if err := c.lockFrame(deadline); err != nil {
		return err
	}
	err := c.writeControlLocked(byte(messageType), data, deadline)
	c.wr.frameSem.release()
	if err == nil && c.obs != nil {
		switch messageType {
		case PingMessage:
			c.obs.h.ping(c, DirectionSent, len(data))
		case PongMessage:
			c.obs.h.pong(c, DirectionSent, len(data))
		}
	}
	return err
}

// writeControlLocked is WriteControl under frameSem. No defers, small
// frames: the default ping handler runs it beneath a handler's read, and
// a deep stack there would grow the connection goroutine for good.
func (c *Conn) writeControlLocked(op byte, data []byte, deadline time.Time) error {
	if c.cl.sent.Load() {
		return ErrCloseSent
	}
	var key [4]byte
	if c.wr.client {
		key = newMaskKey()
	}
	cbufp := getBuf(0) // 256 bytes, borrowed: a Conn holds no control buffer
	b := appendHeader((*cbufp)[:0], true, 0, op, len(data), c.wr.client, key)
	hl := len(b)
	b = append(b, data...)
	if c.wr.client {
		mask(key, 0, b[hl:])
	}
	restore := !deadline.Equal(c.currentWriteDeadline())
	if restore {
		c.conn.SetWriteDeadline(deadline)
	}
	err := c.writeLocked(b, nil)
	if restore {
		c.conn.SetWriteDeadline(c.currentWriteDeadline())
	}
	putBuf(0, cbufp)
	if op == CloseMessage && err == nil {
		if o := c.obs; o != nil {
			o.rec.note(CloseLocal, closeCode(data), "")
		}
		c.cl.sent.Store(true)
		c.finishCloseLocked()
	}
	return err
}

// handlers holds the application's control-message handlers as one
// immutable set, replaced whole: reading them takes an atomic load, and a
// Conn whose handlers were never set pays one pointer.
type handlers struct {
	p atomic.Pointer[handlerSet]
}

type handlerSet struct {
	ping  func(appData string) error
	pong  func(appData string) error
	close func(code int, text string) error
}

// pingUnset reports whether the default ping handler is in place.
func (hd *handlers) pingUnset() bool {
	s := hd.p.Load()
	return s == nil || s.ping == nil
}

// set replaces the set with a copy that change modified.
func (hd *handlers) set(change func(*handlerSet)) {
	for {
		old := hd.p.Load()
		var next handlerSet
		if old != nil {
			next = *old
		}
		change(&next)
		if hd.p.CompareAndSwap(old, &next) {
			return
		}
	}
}

// controlWriter is the writer NextWriter returns for a control message
// type: it collects at most 125 bytes and sends them as one control frame
// on Close, as [Conn.WriteControl] does, bounded by the write deadline.
type controlWriter struct {
	c      *Conn
	typ    int
	closed bool
	n      int
	buf    [maxControlPayload]byte
}

func (w *controlWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, ErrWriterClosed
	}
	if len(p) > len(w.buf)-w.n {
		return 0, errControlTooLong
	}
	w.n += copy(w.buf[w.n:], p)
	return len(p), nil
}

func (w *controlWriter) Close() error {
	if w.closed {
		return ErrWriterClosed
	}
	w.closed = true
	return w.c.WriteControl(w.typ, w.buf[:w.n], w.c.currentWriteDeadline())
}
