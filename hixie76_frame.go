package websocket

// The framing half of draft-hixie-76 (see hixie76.go for the handshake):
// 0x00 <UTF-8> 0xFF text frames, length-prefixed frames skipped by their
// length (draft-76 §5.3), and the 0xFF 0x00 closing handshake (§6).

import (
	"bytes"
	"io"
	"math"
	"net"
	"time"
	"unicode/utf8"
)

// hixie76 is the framing of draft-hixie-76 (framing.go), and its write
// state.
type hixie76 struct {
	// frameOpen is set while a text frame streamed by NextWriter is open
	// on the wire (its 0x00 went out, its 0xFF not yet), so that a close
	// written meanwhile ends it first. Guarded by wr.frameSem.
	frameOpen bool
}

// hixie-76 has no ping or pong, and its frames are not RFC 6455's.
func (*hixie76) sharedFrames() bool { return false }
func (*hixie76) canPing() bool      { return false }

// wireSize: 0x00, the text, 0xFF.
func (*hixie76) wireSize(n int, _ bool) int { return n + 2 }

// --- Reading (draft-76 §5.3) ---

// nextReader is NextReader for a hixie-76 conn: it discards the rest
// of the current message, then reads frames until a text frame (type 0x00)
// begins. Frames with the type's high bit set are skipped by their length,
// except 0xFF 0x00, the closing frame; frames of another low type are read
// to their 0xFF and dropped. The read limit bounds every frame and every
// length. The caller holds the read lock.
func (*hixie76) nextReader(c *Conn) (*messageReader, error) {
	if c.rd.err != nil {
		return nil, c.rd.err
	}
	if c.cl.failed.Load() {
		return nil, c.readFailed(net.ErrClosed) // reports the write failure
	}
	c.rd.readers[c.rd.cur].active = false
	if c.rd.msgOpen {
		if err := c.hixieSkipText(true); err != nil {
			return nil, err
		}
		var r messageReader
		if err := c.endMessage(&r); err != nil {
			return nil, err
		}
	}
	for {
		t, err := c.hixieReadByte()
		if err != nil {
			return nil, err
		}
		if t&0x80 != 0 {
			n, err := c.hixieReadLength()
			if err != nil {
				return nil, err
			}
			if t == 0xFF && n == 0 {
				return nil, c.hixieCloseReceived()
			}
			if err := c.hixieSkip(n); err != nil {
				return nil, err
			}
			continue
		}
		c.rd.msgLen = 0
		if t != 0x00 {
			if err := c.hixieSkipText(false); err != nil {
				return nil, err
			}
			continue
		}
		c.rd.msgOpen, c.rd.msgType = true, TextMessage
		if o := c.obs; o != nil {
			o.readWire = 2 // 0x00 ... 0xFF
		}
		break
	}
	c.rd.cur ^= 1
	rd := &c.rd.readers[c.rd.cur]
	rd.active, rd.eof = true, false
	return rd, nil
}

// readData is messageReader.Read for a hixie-76 conn: it returns
// the text bytes that are there, up to the frame's 0xFF (which valid UTF-8
// never contains), validated as UTF-8 as they arrive. Invalid UTF-8 fails
// the connection: the draft leaves the server's behaviour undefined
// (§5.4), and closing is the safest choice. The caller holds the read lock.
func (*hixie76) readData(c *Conn, r *messageReader, p []byte) (int, error) {
	if !r.active {
		return 0, ErrReaderReplaced
	}
	if r.eof {
		return 0, io.EOF
	}
	if c.rd.err != nil {
		return 0, c.rd.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.rd.pos == c.rd.end {
		if err := c.fill(1); err != nil {
			return 0, err
		}
	}
	buf := c.rd.buf[c.rd.pos:c.rd.end]
	i := bytes.IndexByte(buf, 0xFF)
	end := i >= 0
	if !end {
		i = len(buf)
	}
	if limit := c.rd.limit.Load(); limit > 0 && int64(i) > limit-c.rd.msgLen {
		return 0, c.failLimit()
	}
	n := copy(p, buf[:i])
	if !c.rd.utf8.feed(p[:n]) {
		return 0, c.fail(protocolError(CloseInvalidFramePayloadData, "invalid UTF-8 in text message"))
	}
	c.rd.msgLen += int64(n)
	if end && n == i {
		c.consume(n + 1)
		if err := c.endMessage(r); err != nil {
			return 0, err
		}
		return n, io.EOF
	}
	c.consume(n)
	return n, nil
}

// hixieReadByte reads one byte.
func (c *Conn) hixieReadByte() (byte, error) {
	if c.rd.pos == c.rd.end {
		if err := c.fill(1); err != nil {
			return 0, err
		}
	}
	b := c.rd.buf[c.rd.pos]
	c.consume(1)
	return b, nil
}

// hixieReadLength reads the length of a frame whose type has the high bit
// set: 7-bit groups, most significant first, while a byte has 0x80 set.
// The accumulator is bounded by the read limit, and by int64 when there is
// none.
func (c *Conn) hixieReadLength() (int64, error) {
	limit := c.rd.limit.Load()
	var n int64
	for {
		b, err := c.hixieReadByte()
		if err != nil {
			return 0, err
		}
		if n > math.MaxInt64>>7 {
			return 0, c.fail(protocolError(CloseMessageTooBig, "hixie-76 frame length overflows"))
		}
		n = n<<7 | int64(b&0x7F)
		if limit > 0 && n > limit {
			return 0, c.failLimit()
		}
		if b&0x80 == 0 {
			return n, nil
		}
	}
}

// hixieSkip discards n bytes.
func (c *Conn) hixieSkip(n int64) error {
	for n > 0 {
		if c.rd.pos == c.rd.end {
			if err := c.fill(1); err != nil {
				return err
			}
		}
		k := min(int64(c.rd.end-c.rd.pos), n)
		c.consume(int(k))
		n -= k
	}
	return nil
}

// hixieSkipText discards bytes up to and including the 0xFF that ends the
// current text frame, within the read limit, validating them as UTF-8 when
// they belong to a message.
func (c *Conn) hixieSkipText(validate bool) error {
	limit := c.rd.limit.Load()
	for {
		if c.rd.pos == c.rd.end {
			if err := c.fill(1); err != nil {
				return err
			}
		}
		buf := c.rd.buf[c.rd.pos:c.rd.end]
		i := bytes.IndexByte(buf, 0xFF)
		end := i >= 0
		if !end {
			i = len(buf)
		}
		if limit > 0 && int64(i) > limit-c.rd.msgLen {
			return c.failLimit()
		}
		if validate && !c.rd.utf8.feed(buf[:i]) {
			return c.fail(protocolError(CloseInvalidFramePayloadData, "invalid UTF-8 in text message"))
		}
		c.rd.msgLen += int64(i)
		if end {
			c.consume(i + 1)
			return nil
		}
		c.consume(i)
	}
}

// hixieCloseReceived handles the peer's 0xFF 0x00 (draft-76 §6): the close
// handler runs with CloseNoStatusReceived (the draft's close carries no
// code), the server answers 0xFF 0x00 unless it sent its own already,
// discards whatever follows and closes the TCP connection.
func (c *Conn) hixieCloseReceived() error {
	c.cl.received.Store(true)
	if o := c.obs; o != nil {
		o.rec.note(ClosePeer, CloseNoStatusReceived, "")
	}
	var err error = &CloseError{Code: CloseNoStatusReceived}
	if herr := c.CloseHandler()(CloseNoStatusReceived, ""); herr != nil {
		err = herr
	}
	c.setReadErr(err)
	c.fr.(*hixie76).writeClose(c, time.Now().Add(controlWriteWait)) // ErrCloseSent when ours went out
	c.Close()
	return err
}

// --- Writing (draft-76 §5.3, §6) ---

// write writes b then extra (see writeLocked) as part of a text frame:
// opens says the bytes start the frame (0x00), ends that they end it
// (0xFF).
func (h *hixie76) write(c *Conn, b, extra []byte, opens, ends bool) error {
	if err := c.lockFrame(c.currentWriteDeadline()); err != nil {
		return err
	}
	defer func() { c.wr.frameSem.release() }()
	if c.cl.sent.Load() {
		return ErrCloseSent
	}
	err := c.writeLocked(b, extra)
	if err == nil {
		switch {
		case ends:
			h.frameOpen = false
		case opens:
			h.frameOpen = true
		}
	}
	return err
}

// writeClose sends the closing frame 0xFF 0x00, after a 0xFF that ends
// a text frame NextWriter left open, and then nothing more.
func (h *hixie76) writeClose(c *Conn, deadline time.Time) error {
	if err := c.lockFrame(deadline); err != nil {
		return err
	}
	defer func() { c.wr.frameSem.release() }()
	if c.cl.sent.Load() {
		return ErrCloseSent
	}
	b := hixieClose
	if h.frameOpen {
		b = hixieEndAndClose
	}
	if !deadline.Equal(c.currentWriteDeadline()) {
		c.conn.SetWriteDeadline(deadline)
		defer func() { c.conn.SetWriteDeadline(c.currentWriteDeadline()) }()
	}
	err := c.writeLocked(b, nil)
	if err == nil {
		h.frameOpen = false
		if o := c.obs; o != nil {
			o.rec.note(CloseLocal, CloseNoStatusReceived, "")
		}
		c.cl.sent.Store(true)
		c.finishCloseLocked()
	}
	return err
}

// writeControl is WriteControl for a hixie-76 conn: a close message
// becomes 0xFF 0x00 (its code and reason have no place on the wire); ping
// and pong do not exist.
func (h *hixie76) writeControl(c *Conn, messageType int, data []byte, deadline time.Time) error {
	switch messageType {
	case CloseMessage:
	case PingMessage, PongMessage:
		return errHixieUnsupported
	default:
		return errBadWriteType
	}
	if len(data) > maxControlPayload {
		return errControlTooLong
	}
	return h.writeClose(c, deadline)
}

// writeMessage is WriteMessage for a hixie-76 conn: text goes out as
// 0x00 data 0xFF once it is known to be valid UTF-8.
func (h *hixie76) writeMessage(c *Conn, messageType int, data []byte) error {
	switch messageType {
	case TextMessage:
	case CloseMessage:
		return h.writeControl(c, messageType, data, c.currentWriteDeadline())
	case BinaryMessage, PingMessage, PongMessage:
		return errHixieUnsupported
	default:
		return errBadWriteType
	}
	if !utf8.Valid(data) {
		return errHixieInvalidUTF8
	}
	if err := c.acquireMsg(); err != nil {
		return err
	}
	defer func() { c.wr.msgSem.release() }()
	if len(data)+2 <= 1<<(c.wr.class+minClassShift) {
		bufp := c.getWriteBuf()
		b := append((*bufp)[:0], 0x00)
		b = append(b, data...)
		b = append(b, 0xFF)
		err := h.write(c, b, nil, true, true)
		c.putWriteBuf(bufp)
		return err
	}
	if err := h.write(c, hixieOpen, data, true, false); err != nil {
		return err
	}
	return h.write(c, hixieEnd, nil, false, true)
}

// writerType is NextWriter's check of the message type on a hixie-76
// conn: text only.
func (*hixie76) writerType(messageType int) error {
	switch messageType {
	case TextMessage:
		return nil
	case BinaryMessage, PingMessage, PongMessage, CloseMessage:
		return errHixieUnsupported
	}
	return errBadWriteType
}

// writePrepared is WritePreparedMessage for a hixie-76 conn.
func (h *hixie76) writePrepared(c *Conn, pm *PreparedMessage) error {
	switch pm.messageType {
	case TextMessage:
	case CloseMessage:
		return h.writeControl(c, CloseMessage, nil, c.currentWriteDeadline())
	default:
		return errHixieUnsupported
	}
	frame, err := pm.hixieFrame()
	if err != nil {
		return err
	}
	if err := c.acquireMsg(); err != nil {
		return err
	}
	defer func() { c.wr.msgSem.release() }()
	return h.write(c, frame, nil, true, true)
}

// hixieFrame returns pm as a hixie-76 text frame, 0x00 data 0xFF, built on
// first use and shared by every hixie-76 conn it is written to.
func (pm *PreparedMessage) hixieFrame() ([]byte, error) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.other == nil {
		if !utf8.Valid(pm.data) {
			return nil, errHixieInvalidUTF8
		}
		b := make([]byte, 0, len(pm.data)+2)
		b = append(b, 0x00)
		b = append(b, pm.data...)
		pm.other = append(b, 0xFF)
	}
	return pm.other, nil
}

// flush is messageWriter.flush for a hixie-76 conn. The first flush
// opens the frame with 0x00 (in the reserve in front of the payload), the
// final one ends it with 0xFF. Only whole UTF-8 sequences go out: a
// sequence cut by the end of the buffer stays in it for the next Write, so
// the bytes on the wire are valid UTF-8 even if a close ends the frame
// early.
func (h *hixie76) flush(w *messageWriter, fin bool) error {
	data := w.buf[writeReserve:w.n]
	send, ok := len(data), utf8.Valid(data)
	if !fin {
		send, ok = splitUTF8(data)
	}
	if !ok {
		return h.abort(w)
	}
	opens := w.op != opContinuation
	start, end := writeReserve, writeReserve+send
	if opens {
		start--
		w.buf[start] = 0x00
	}
	var extra []byte
	if fin {
		if end < len(w.buf) {
			w.buf[end] = 0xFF
			end++
		} else {
			extra = hixieEnd
		}
	}
	err := h.write(w.c, w.buf[start:end], extra, opens, fin)
	w.op = opContinuation
	w.n = writeReserve + copy(w.buf[writeReserve:], data[send:])
	if err != nil {
		w.release()
	}
	return err
}

// flushDirect is messageWriter.flushDirect for a hixie-76 conn: p
// goes out without a copy, but for an incomplete UTF-8 sequence at its
// end, which is kept in the buffer.
func (h *hixie76) flushDirect(w *messageWriter, p []byte) error {
	send, ok := splitUTF8(p)
	if !ok {
		return h.abort(w)
	}
	var err error
	if opens := w.op != opContinuation; opens {
		err = h.write(w.c, hixieOpen, p[:send], true, false)
	} else {
		err = h.write(w.c, p[:send], nil, false, false)
	}
	w.op = opContinuation
	w.n = writeReserve + copy(w.buf[writeReserve:], p[send:])
	if err != nil {
		w.release()
	}
	return err
}

// abort ends a streamed message whose text is not valid UTF-8. None
// of the invalid bytes is sent; a frame already open on the wire is ended
// with 0xFF, so the peer receives the text written so far and the
// connection stays usable. The writer is released and the error returned.
func (h *hixie76) abort(w *messageWriter) error {
	if w.op == opContinuation {
		h.write(w.c, hixieEnd, nil, false, true)
	}
	w.release()
	return errHixieInvalidUTF8
}

// splitUTF8 returns how many bytes of p may be sent now: all of p but an
// incomplete UTF-8 sequence at its end, which must wait for the bytes that
// complete it. ok is false when p is not valid UTF-8 up to there, or its
// incomplete tail cannot begin a valid sequence.
func splitUTF8(p []byte) (n int, ok bool) {
	n = len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		if c := p[i]; c < 0x80 || c >= 0xC0 {
			if c >= 0xC0 && len(p)-i < seqLen(c) {
				n = i
			}
			break
		}
	}
	if n < len(p) && !validPrefix(p[n:]) {
		return 0, false
	}
	return n, utf8.Valid(p[:n])
}
