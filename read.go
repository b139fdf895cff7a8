package websocket

import (
	"errors"
	"io"
	"slices"
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
	if c.readSem.tryAcquire() {
		return nil
	}
	if c.closeReading.Load() {
		<-c.readDone.wait()
		return c.readErr // written before readDone was closed
	}
	return ErrConcurrentRead
}

func (c *Conn) unlockRead() { c.readSem.release() }

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
	rd, err := c.nextReader()
	c.unlockRead()
	if err != nil {
		return 0, nil, err
	}
	return c.msgType, rd, nil
}

// nextReader is NextReader for a caller that holds the read lock.
func (c *Conn) nextReader() (*messageReader, error) {
	if c.hixie != nil {
		return c.hixieNextReader()
	}
	if c.readErr != nil {
		return nil, c.readErr
	}
	c.readers[c.curRd].active = false
	if c.msgOpen {
		if err := c.discardMessage(); err != nil {
			return nil, err
		}
	}
	if err := c.advanceFrame(); err != nil {
		return nil, err
	}
	c.curRd ^= 1
	rd := &c.readers[c.curRd]
	rd.active, rd.eof = true, false
	return rd, nil
}

// ReadMessage reads the next data message whole. It is NextReader followed
// by reading the reader to its end; p is a new slice owned by the caller.
// Memory grows with the bytes that actually arrive, never past the read
// limit.
func (c *Conn) ReadMessage() (messageType int, p []byte, err error) {
	if err := c.lockRead(); err != nil {
		return 0, nil, err
	}
	defer c.unlockRead()
	rd, err := c.nextReader()
	if err != nil {
		return 0, nil, err
	}
	messageType = c.msgType
	// Size the buffer from the frame header, exactly for a message in one
	// frame of up to 64 KiB, but let a peer that announces much more than
	// it sends cost little more than it sends: beyond 64 KiB the buffer
	// grows (by at most four times) as the bytes arrive.
	const initialMax = 64 << 10
	size := min(c.fRemain, initialMax)
	if !c.fFin {
		size = max(size, 512)
	}
	p = make([]byte, 0, size)
	for {
		if len(p) == cap(p) {
			want := max(cap(p), 512)
			if c.msgDeflate {
				want = c.inflateGrow(len(p), want)
			} else if c.fFin {
				want = int(min(c.fRemain, 3*int64(want))) // what the last frame still holds
			}
			p = slices.Grow(p, want)
		}
		n, err := c.readMessageData(rd, p[len(p):cap(p)])
		p = p[:len(p)+n]
		if err == io.EOF {
			return messageType, p, nil
		}
		if err != nil {
			return 0, nil, err
		}
	}
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
	return c.readMessageData(r, p)
}

// readMessageData reads into p from the message of reader r. The caller
// holds the read lock.
func (c *Conn) readMessageData(r *messageReader, p []byte) (int, error) {
	if c.hixie != nil {
		return c.hixieReadMessageData(r, p)
	}
	if !r.active {
		return 0, ErrReaderReplaced
	}
	if r.eof {
		return 0, io.EOF
	}
	if c.readErr != nil {
		return 0, c.readErr
	}
	if c.msgDeflate {
		return c.readDeflate(r, p)
	}
	for {
		if c.fRemain > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			n, err := c.readPayload(p)
			if err != nil {
				return 0, err
			}
			if c.msgType == TextMessage && !c.utf8.feed(p[:n]) {
				return 0, c.fail(protocolError(CloseInvalidFramePayloadData, "invalid UTF-8 in text message"))
			}
			if c.fRemain == 0 && c.fFin {
				if err := c.endMessage(r); err != nil {
					return 0, err
				}
				return n, io.EOF
			}
			return n, nil
		}
		if c.fFin {
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
	c.msgOpen = false
	r.eof = true
	if c.msgType == TextMessage && !c.utf8.done() {
		return c.fail(protocolError(CloseInvalidFramePayloadData, "text message ends inside a UTF-8 sequence"))
	}
	return nil
}

// discardMessage reads and drops the rest of the current message,
// validating text as it goes.
func (c *Conn) discardMessage() error {
	if c.msgDeflate {
		return c.discardDeflate()
	}
	for {
		for c.fRemain > 0 {
			if c.rw == c.rr {
				if err := c.fill(1); err != nil {
					return err
				}
			}
			n := c.rw - c.rr
			if int64(n) > c.fRemain {
				n = int(c.fRemain)
			}
			b := c.rbuf[c.rr : c.rr+n]
			if c.msgType == TextMessage {
				if c.fMasked {
					c.fKeyPos = mask(c.fKey, c.fKeyPos, b)
				}
				if !c.utf8.feed(b) {
					return c.fail(protocolError(CloseInvalidFramePayloadData, "invalid UTF-8 in text message"))
				}
			}
			c.fRemain -= int64(n)
			c.consume(n)
		}
		if c.fFin {
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
	if int64(len(p)) > c.fRemain {
		p = p[:c.fRemain]
	}
	var n int
	switch {
	case c.rw > c.rr:
		n = copy(p, c.rbuf[c.rr:c.rw])
		c.consume(n)
	case len(p) >= 1<<(c.rclass+minClassShift):
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
		n = copy(p, c.rbuf[c.rr:c.rw])
		c.consume(n)
	}
	if c.fMasked {
		c.fKeyPos = mask(c.fKey, c.fKeyPos, p[:n])
	}
	c.fRemain -= int64(n)
	return n, nil
}

// advanceFrame reads frame headers until the next data frame, handling
// control frames in between (RFC 6455 §5.4: they may be injected in the
// middle of a fragmented message), and checks the fragmentation rules.
func (c *Conn) advanceFrame() error {
	for {
		h, err := c.readHeader()
		if err != nil {
			return err
		}
		if isControl(h.op) {
			if err := c.handleControl(&h); err != nil {
				return err
			}
			continue
		}
		if h.op == opContinuation {
			if !c.msgOpen {
				return c.fail(protocolError(CloseProtocolError, "continuation frame without a message to continue"))
			}
			if h.rsv != 0 { // RFC 7692 §6.1: RSV1 marks the first frame only
				return c.fail(protocolError(CloseProtocolError, "RSV1 set on a continuation frame"))
			}
		} else {
			if c.msgOpen {
				return c.fail(protocolError(CloseProtocolError, "new data message before the fragmented message ended"))
			}
			c.msgOpen = true
			c.msgType = int(h.op)
			c.msgLen = 0
			c.msgDeflate = h.rsv != 0 // only RSV1 passes h.check
		}
		if limit := c.readLimit.Load(); limit > 0 && h.length > c.frameLimit(limit)-c.msgLen {
			return c.failLimit()
		}
		c.msgLen += h.length
		c.fRemain = h.length
		c.fFin = h.fin
		c.fMasked = h.masked
		c.fKey = h.key
		c.fKeyPos = 0
		return nil
	}
}

// readHeader reads and checks one frame header.
func (c *Conn) readHeader() (header, error) {
	for {
		h, n, err := parseHeader(c.rbuf[c.rr:c.rw])
		if err != nil {
			return h, c.fail(err)
		}
		if n > 0 {
			c.consume(n)
			if err := h.check(!c.isClient, c.rsvAllowed()); err != nil {
				return h, c.fail(err)
			}
			return h, nil
		}
		if err := c.fill(c.rw - c.rr + 1); err != nil {
			return h, err
		}
	}
}

// consume marks n buffered bytes read and gives the buffer back to its
// pool once it is drained, so an idle connection holds none.
func (c *Conn) consume(n int) {
	c.rr += n
	if c.rr == c.rw {
		c.releaseReadBuf()
		return
	}
	c.readAhead.Store(true)
}

func (c *Conn) releaseReadBuf() {
	c.readAhead.Store(false)
	if c.rbufp != nil {
		putBuf(c.rclass, c.rbufp)
		c.rbufp, c.rbuf = nil, nil
	}
	c.rr, c.rw = 0, 0
}

func (c *Conn) borrowReadBuf() {
	c.rbufp = getBuf(c.rclass)
	c.rbuf = *c.rbufp
	c.rr, c.rw = 0, 0
}

// fill reads from the socket until at least n bytes (n <= the buffer size)
// are buffered. A drained connection waits for bytes before it borrows a
// buffer where the socket allows it (see readFreshRaw).
func (c *Conn) fill(n int) error {
	for c.rw-c.rr < n {
		c.kickFlush() // about to block: held answers go out now
		if c.rbufp == nil {
			var err error
			if c.raw != nil { // called from here: one frame less under the wait
				err = c.readFreshRaw()
			} else {
				err = c.readFresh()
			}
			if err != nil {
				return c.readFailed(err)
			}
			continue
		}
		if len(c.rbuf)-c.rr < n {
			c.rw = copy(c.rbuf, c.rbuf[c.rr:c.rw])
			c.rr = 0
		}
		m, err := c.conn.Read(c.rbuf[c.rw:])
		c.rw += m
		if m == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return c.readFailed(err)
		}
	}
	return nil
}

// readFresh reads into a newly borrowed buffer, on a socket without the
// wait-then-borrow path (readFreshRaw, used where c.raw is set).
func (c *Conn) readFresh() error {
	c.borrowReadBuf()
	n, err := c.conn.Read(c.rbuf)
	c.rw = n
	if n == 0 {
		c.releaseReadBuf()
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	return nil
}

// readFailed records a transport error as the sticky read error. io.EOF
// becomes a 1006 CloseError, as in gorilla.
func (c *Conn) readFailed(err error) error {
	if c.readErr != nil {
		return c.readErr
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errUnexpectedEOF()
	}
	c.setReadErr(err)
	return err
}

func (c *Conn) setReadErr(err error) {
	if c.readErr == nil {
		c.readErr = err
		c.releaseReadBuf()
		c.readDone.fire()
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
	if c.readErr != nil {
		return c.readErr
	}
	c.setReadErr(sticky)
	reason := pe.Reason
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
	}
	c.WriteControl(CloseMessage, FormatCloseMessage(pe.Code, reason), time.Now().Add(controlWriteWait))
	c.Close()
	return sticky
}

// failLimit fails the connection with 1009 and reports ErrReadLimit.
func (c *Conn) failLimit() error {
	return c.failWith(protocolError(CloseMessageTooBig, "message exceeds the read limit of "+strconv.FormatInt(c.readLimit.Load(), 10)+" bytes"), ErrReadLimit)
}
