package websocket

import (
	"errors"
	"io"
	"net"
	"strconv"
	"time"
)

// messageReader is the io.Reader NextReader hands out. A Conn owns two and
// alternates between them, so that a reader kept past the next NextReader
// call is recognised and refused instead of reading the wrong message.
type messageReader struct {
	c      *Conn
	active bool // the reader of the message being read
	eof    bool // its message has been read to the end
}

// errUnexpectedEOF is what gorilla reports when the peer drops the TCP
// connection without a close message; kept for compatibility with
// IsUnexpectedCloseError(err, CloseAbnormalClosure) checks.
func errUnexpectedEOF() error {
	return &CloseError{Code: CloseAbnormalClosure, Text: io.ErrUnexpectedEOF.Error()}
}

// lockRead takes the read lock for a read method. It fails with
// ErrConcurrentRead while another goroutine reads, except when that is
// CloseHandshake reading the peer's close: then it waits for the read side
// to end and returns its final error (the peer's *CloseError, usually).
func (c *Conn) lockRead() error {
	if c.rd.sem.tryAcquire() {
		return nil
	}
	if c.rd.closeReading.Load() {
		<-c.rd.done.wait()
		return c.rd.err // written before readDone was closed
	}
	return ErrConcurrentRead
}

func (c *Conn) unlockRead() { c.rd.sem.release() }

// NextReader returns the type of the next data message and a reader for
// its payload. It blocks until a data frame arrives, answering control
// messages (ping, pong, close) on the way. Unread bytes of the previous
// message are discarded (and still validated). The reader is valid until
// the next call to NextReader; it returns io.EOF at the end of the
// message.
//
// Errors are sticky: once a read fails (the peer closed, broke the
// protocol, or the socket failed), every later read returns the same
// error. A close message from the peer is reported as a [*CloseError],
// a protocol violation as a [*ProtocolError] (the close code was sent),
// an oversized message as [ErrReadLimit].
func (c *Conn) NextReader() (messageType int, r io.Reader, err error) {
	if err := c.lockRead(); err != nil {
		return 0, nil, err
	}
	// No defer: this frame is under every wait for a message (see
	// readFreshRaw); a panicking control handler leaves the read side
	// locked, and the connection is of no use after it anyway.
	rd, err := c.fr.nextReader(c)
	c.unlockRead()
	if err != nil {
		return 0, nil, err
	}
	return c.rd.msgType, rd, nil
}

// nextReader is NextReader for a caller that holds the read lock.
func (*rfc6455) nextReader(c *Conn) (*messageReader, error) {
	if c.rd.err != nil {
		return nil, c.rd.err
	}
	c.rd.readers[c.rd.cur].active = false
	if c.rd.msgOpen {
		if err := c.discardMessage(); err != nil {
			return nil, err
		}
	}
	if err := c.advanceFrame(); err != nil {
		return nil, err
	}
	c.rd.cur ^= 1
	rd := &c.rd.readers[c.rd.cur]
	rd.active, rd.eof = true, false
	return rd, nil
}

// Read reads payload bytes of the message. It returns as soon as some
// bytes are available (at most one socket read), so invalid UTF-8 is
// detected the moment it arrives. At the end of the message it returns
// io.EOF.
func (r *messageReader) Read(p []byte) (int, error) {
	c := r.c
	if err := c.lockRead(); err != nil {
		return 0, err
	}
	defer c.unlockRead()
	return c.fr.readData(c, r, p)
}

// readData reads into p from the message of reader r. The caller holds
// the read lock.
func (*rfc6455) readData(c *Conn, r *messageReader, p []byte) (int, error) {
	if !r.active {
		return 0, ErrReaderReplaced
	}
	if r.eof {
		return 0, io.EOF
	}
	if c.rd.err != nil {
		return 0, c.rd.err
	}
	if c.rd.f.deflate {
		return c.readDeflate(r, p)
	}
	for {
		if c.rd.f.remain > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			n, err := c.readPayload(p)
			if err != nil {
				return 0, err
			}
			if c.rd.msgType == TextMessage && !c.rd.utf8.feed(p[:n]) {
				return 0, c.fail(protocolError(CloseInvalidFramePayloadData, "invalid UTF-8 in text message"))
			}
			if c.rd.f.remain == 0 && c.rd.f.fin {
				if err := c.endMessage(r); err != nil {
					return 0, err
				}
				return n, io.EOF
			}
			return n, nil
		}
		if c.rd.f.fin {
			if err := c.endMessage(r); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		if err := c.advanceFrame(); err != nil {
			return 0, err
		}
	}
}

// endMessage closes the message being read.
func (c *Conn) endMessage(r *messageReader) error {
	c.rd.msgOpen = false
	r.eof = true
	if c.rd.msgType == TextMessage && !c.rd.utf8.done() {
		return c.fail(protocolError(CloseInvalidFramePayloadData, "text message ends inside a UTF-8 sequence"))
	}
	if o := c.obs; o != nil {
		c.messageReadHook(o)
	}
	return nil
}

// messageReadHook reports a data message read to its end (hooks.go).
//
//go:noinline
func (c *Conn) messageReadHook(o *connHooks) {
	payload := c.rd.msgLen
	if c.rd.f.deflate {
		payload = o.inflated
	}
	o.h.messageRead(c, c.rd.msgType, payload, c.rd.msgLen+o.readWire, c.rd.f.deflate)
}

// discardMessage reads and drops the rest of the current message,
// validating text as it goes.
func (c *Conn) discardMessage() error {
	if c.rd.f.deflate {
		return c.discardDeflate()
	}
	for {
		for c.rd.f.remain > 0 {
			if c.rd.end == c.rd.pos {
				if err := c.fill(1); err != nil {
					return err
				}
			}
			n := c.rd.end - c.rd.pos
			if int64(n) > c.rd.f.remain {
				n = int(c.rd.f.remain)
			}
			b := c.rd.buf[c.rd.pos : c.rd.pos+n]
			if c.rd.msgType == TextMessage {
				if c.rd.f.masked {
					c.rd.f.keyPos = mask(c.rd.f.key, c.rd.f.keyPos, b)
				}
				if !c.rd.utf8.feed(b) {
					return c.fail(protocolError(CloseInvalidFramePayloadData, "invalid UTF-8 in text message"))
				}
			}
			c.rd.f.remain -= int64(n)
			c.consume(n)
		}
		if c.rd.f.fin {
			var r messageReader
			return c.endMessage(&r)
		}
		if err := c.advanceFrame(); err != nil {
			return err
		}
	}
}

// readPayload reads up to len(p) bytes of the current frame's payload into
// p and unmasks them, using at most one socket read. Large reads with an
// empty buffer go straight into p.
func (c *Conn) readPayload(p []byte) (int, error) {
	if int64(len(p)) > c.rd.f.remain {
		p = p[:c.rd.f.remain]
	}
	var n int
	switch {
	case c.rd.end > c.rd.pos:
		n = copy(p, c.rd.buf[c.rd.pos:c.rd.end])
		c.consume(n)
	case len(p) >= 1<<(c.rd.class+minClassShift):
		c.kickFlush()
		var err error
		n, err = c.conn.Read(p)
		if n == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return 0, c.readFailed(err)
		}
	default:
		if err := c.fill(1); err != nil {
			return 0, err
		}
		n = copy(p, c.rd.buf[c.rd.pos:c.rd.end])
		c.consume(n)
	}
	if c.rd.f.masked {
		c.rd.f.keyPos = mask(c.rd.f.key, c.rd.f.keyPos, p[:n])
	}
	c.rd.f.remain -= int64(n)
	return n, nil
}

// advanceFrame reads frame headers until the next data frame, handling
// control frames in between (RFC 6455 §5.4: they may be injected in the
// middle of a fragmented message), and checks the fragmentation rules.
func (c *Conn) advanceFrame() error {
	for {
		if c.cl.failed.Load() {
			return c.readFailed(net.ErrClosed) // reports the write failure
		}
		if c.rd.end == c.rd.pos && c.wr.pendN.Load() != 0 {
			c.flushBeforeRead() // about to read the socket: a held pong goes out now
		}
		h, err := c.readHeader()
		if err != nil {
			return err
		}
		if isControl(h.op) {
			if err := c.handleControl(&h); err != nil {
				return err
			}
			if h.op == opPing && c.rd.end != c.rd.pos && c.wr.pendN.Load() != 0 {
				// A pong held while more input is buffered goes out
				// within 1 ms; else flushBeforeRead above sends it before
				// the reader waits (pong.go, answerPing).
				c.armFlush()
			}
			continue
		}
		if h.op == opContinuation {
			if !c.rd.msgOpen {
				return c.fail(protocolError(CloseProtocolError, "continuation frame without a message to continue"))
			}
			if h.rsv != 0 { // RFC 7692 §6.1: RSV1 marks the first frame only
				return c.fail(protocolError(CloseProtocolError, "RSV1 set on a continuation frame"))
			}
		} else {
			if c.rd.msgOpen {
				return c.fail(protocolError(CloseProtocolError, "new data message before the fragmented message ended"))
			}
			c.rd.msgOpen = true
			c.rd.msgType = int(h.op)
			c.rd.msgLen = 0
			if o := c.obs; o != nil {
				o.readWire, o.inflated = 0, 0
			}
			c.rd.f.deflate = h.rsv != 0 // only RSV1 passes h.check
		}
		if limit := c.rd.limit.Load(); limit > 0 && h.length > c.frameLimit(limit)-c.rd.msgLen {
			return c.failLimit()
		}
		c.rd.msgLen += h.length
		if o := c.obs; o != nil {
			o.readWire += int64(headerSize(int(h.length), h.masked))
		}
		c.rd.f.remain = h.length
		c.rd.f.fin = h.fin
		c.rd.f.masked = h.masked
		c.rd.f.key = h.key
		c.rd.f.keyPos = 0
		return nil
	}
}

// readHeader reads and checks one frame header.
func (c *Conn) readHeader() (header, error) {
	for {
		h, n, err := parseHeader(c.rd.buf[c.rd.pos:c.rd.end])
		if err != nil {
			return h, c.fail(err)
		}
		if n > 0 {
			c.consume(n)
			if err := h.check(!c.wr.client, c.rsvAllowed()); err != nil {
				return h, c.fail(err)
			}
			return h, nil
		}
		if err := c.fill(c.rd.end - c.rd.pos + 1); err != nil {
			return h, err
		}
	}
}

// consume marks n buffered bytes read and gives the buffer back to its
// pool once it is drained, so an idle connection holds none.
func (c *Conn) consume(n int) {
	c.rd.pos += n
	if c.rd.pos == c.rd.end {
		c.rd.release()
		return
	}
	c.rd.ahead.Store(true)
}

// release gives the read buffer back to its pool.
func (rd *readSide) release() {
	rd.ahead.Store(false)
	if rd.bufp != nil {
		putBuf(rd.class, rd.bufp)
		rd.bufp, rd.buf = nil, nil
	}
	rd.pos, rd.end = 0, 0
}

// borrow takes an empty read buffer from the pool.
func (rd *readSide) borrow() {
	rd.bufp = getBuf(rd.class)
	rd.buf = *rd.bufp
	rd.pos, rd.end = 0, 0
}

// fill reads from the socket until at least n bytes (n <= the buffer size)
// are buffered. A drained connection waits for bytes before it borrows a
// buffer where the transport allows it (see transport.readFresh).
func (c *Conn) fill(n int) error {
	for c.rd.end-c.rd.pos < n {
		c.kickFlush() // about to block: held answers go out now
		if c.rd.bufp == nil {
			// Called from here, not through a helper: this is the
			// deepest point of an idle connection's stack.
			if err := c.tr.readFresh(); err != nil {
				return c.readFailed(err)
			}
			continue
		}
		if len(c.rd.buf)-c.rd.pos < n {
			c.rd.end = copy(c.rd.buf, c.rd.buf[c.rd.pos:c.rd.end])
			c.rd.pos = 0
		}
		m, err := c.conn.Read(c.rd.buf[c.rd.end:])
		c.rd.end += m
		if m == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return c.readFailed(err)
		}
	}
	return nil
}

// readFailed records a transport error as the sticky read error. io.EOF
// becomes a 1006 CloseError, as in gorilla.
func (c *Conn) readFailed(err error) error {
	if c.rd.err != nil {
		return c.rd.err
	}
	if cause := c.writeCause(); cause != nil {
		// A write cut a frame and closed the connection: say so.
		err = &writeCutError{cause: cause}
	} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errUnexpectedEOF()
	}
	c.setReadErr(err)
	return err
}

// writeCutError is the read error of a connection that was closed because
// a write failed: in the middle of a frame, or the write of a frame held
// back after WriteMessage had returned.
type writeCutError struct{ cause error }

func (e *writeCutError) Error() string {
	return "websocket: connection closed after a failed write: " + e.cause.Error()
}

func (e *writeCutError) Unwrap() error { return e.cause }

func (c *Conn) setReadErr(err error) {
	if c.rd.err == nil {
		c.rd.err = err
		c.rd.release()
		c.rd.done.fire()
	}
}

// fail fails the connection (RFC 6455 §7.1.7): it sends a close frame with
// the error's code, closes the socket and makes err the sticky read error.
func (c *Conn) fail(err *ProtocolError) error {
	return c.failWith(err, err)
}

// failWith fails the connection as fail does, recording sticky as the
// error every read returns.
func (c *Conn) failWith(pe *ProtocolError, sticky error) error {
	if c.rd.err != nil {
		return c.rd.err
	}
	c.setReadErr(sticky)
	reason := pe.Reason
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
	}
	c.WriteControl(CloseMessage, FormatCloseMessage(pe.Code, reason), time.Now().Add(controlWriteWait))
	c.obs.hooks().protocolError(c, pe.Code, pe)
	c.Close()
	return sticky
}

// failLimit fails the connection with 1009 and reports ErrReadLimit.
func (c *Conn) failLimit() error {
	return c.failWith(protocolError(CloseMessageTooBig, "message exceeds the read limit of "+strconv.FormatInt(c.rd.limit.Load(), 10)+" bytes"), ErrReadLimit)
}
