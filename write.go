package websocket

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
)

var (
	errBadWriteType            = fmt.Errorf("%w for a write", ErrUnsupportedMessage)
	errControlTooLong          = errors.New("websocket: control message payload over 125 bytes")
	errInvalidCompressionLevel = errors.New("websocket: invalid compression level")
	errWriteTimeout            = &net.OpError{Op: "write", Err: os.ErrDeadlineExceeded}
)

// writeReserve is the room left in front of a buffered payload for the
// longest frame header (a client's, with its masking key), so a frame goes
// out in one write without moving the payload.
const writeReserve = maxHeaderSize

// messageWriter is the io.WriteCloser NextWriter hands out. It collects
// the payload in a borrowed buffer and sends a frame each time the buffer
// fills; Close sends the final frame. A Conn owns two and alternates, so a
// writer kept past its Close is recognised.
type messageWriter struct {
	c        *Conn
	bufp     *[]byte
	bufClass int // size class of bufp: the Conn's wclass, or larger (growBuffer)
	buf      []byte
	n        int  // payload occupies buf[writeReserve:n]
	active   bool // the flags share a word
	op       byte // opcode of the next frame: the message type, then continuation

	// permessage-deflate (compress.go)
	rsv     byte          // RSV bits of the next frame
	lazy    bool          // may compress; still plain, under the threshold
	deflate bool          // compressing through fw
	fw      *flate.Writer // the message's compressor
	fwLvl   int
}

// WriteMessage writes a whole message of the given type. Data messages
// wait for a message being written by another goroutine to finish; a
// control message type is sent as with [Conn.WriteControl], bounded by the
// write deadline. data is not retained.
//
// Write coalescing: a small data message written while the connection's
// read buffer still holds unread input from the peer (a pipelining peer)
// may be held back for at most 1 ms, so that the answers to one read leave
// in one write; WriteMessage then returns nil before its frame reached the
// socket. The held frame goes out with the next write, when the reader is
// about to wait for input, after 1 ms, or on Close. If that deferred write
// fails, the connection is closed and the failure is returned by the next
// write, the next read and Close.
func (c *Conn) WriteMessage(messageType int, data []byte) error {
	err := c.fr.writeMessage(c, messageType, data)
	if c.obs != nil && err == nil {
		c.messageWrittenHook(messageType, len(data))
	}
	return err
}

// messageWrittenHook reports a data message written whole (hooks.go). The
// bytes on the wire are the frame's; a compressed message reports its
// payload there (its compressed size is not kept).
//
//go:noinline
func (c *Conn) messageWrittenHook(messageType, n int) {
	if messageType != TextMessage && messageType != BinaryMessage {
		return
	}
	compressed := c.compressMessage(n)
	c.obs.h.messageWritten(c, messageType, int64(n), int64(c.fr.wireSize(n, c.wr.client)), compressed)
}

func (*rfc6455) writeMessage(c *Conn, messageType int, data []byte) error {
	switch messageType {
	case TextMessage, BinaryMessage:
	case CloseMessage, PingMessage, PongMessage:
		return c.WriteControl(messageType, data, c.currentWriteDeadline())
	default:
		return errBadWriteType
	}
	if c.compressMessage(len(data)) {
		return c.writeMessageDeflate(messageType, data)
	}
	if err := c.acquireMsg(); err != nil {
		return err
	}
	defer func() { c.wr.msgSem.release() }()
	return c.writeWhole(byte(messageType), data)
}

// frameInPlace puts the header of a frame in front of the payload that
// buf holds at [writeReserve:n] and returns the frame. A client's payload
// is masked in place with a fresh key (RFC 6455 §5.3).
func (c *Conn) frameInPlace(buf []byte, n int, fin bool, rsv, op byte) []byte {
	payload := n - writeReserve
	var key [4]byte
	if c.wr.client {
		key = newMaskKey()
		mask(key, 0, buf[writeReserve:n])
	}
	start := writeReserve - headerSize(payload, c.wr.client)
	appendHeader(buf[start:start], fin, rsv, op, payload, c.wr.client, key)
	return buf[start:n]
}

// writeWhole sends data as one final frame. Up to copyMax bytes, the
// frame is built in a borrowed buffer (the write buffer, or a pooled one
// of the frame's size) and goes out in one write; larger data goes out
// behind its header in one writev, uncopied. A client copies (its payload
// is masked) a buffer at a time, one frame each.
//
// Why copy at all: on loopback (cmd/bench, 1 connection × 64 KiB) the
// copy and one write cost less server CPU than a writev of the caller's
// slice (43 against 56-61 µs per echo); at 1 MiB the two were level at one
// connection and the copy lost at 64, so large data is not copied.
func (c *Conn) writeWhole(op byte, data []byte) error {
	if c.wr.client {
		return c.writeWholeMasked(op, data)
	}
	hlen := headerSize(len(data), false)
	class := c.wr.class
	if hlen+len(data) > 1<<(class+minClassShift) && len(data) <= copyMax {
		class = sizeClass(hlen+len(data), 0)
	}
	var bufp *[]byte
	if class == c.wr.class {
		bufp = c.getWriteBuf()
	} else {
		bufp = getBuf(class)
	}
	b := appendHeader((*bufp)[:0], true, 0, op, len(data), false, [4]byte{})
	var err error
	if hlen+len(data) <= len(*bufp) {
		err = c.writeFrame(append(b, data...), nil)
	} else {
		err = c.writeFrame(b, data) // the header from the pool: a local would escape
	}
	c.putWriteBufClass(class, bufp)
	return err
}

// copyMax is the largest payload writeWhole copies behind its header.
const copyMax = 64 << 10

func (c *Conn) writeWholeMasked(op byte, data []byte) error {
	bufp := c.getWriteBuf()
	defer c.putWriteBuf(bufp)
	buf := *bufp
	for {
		n := writeReserve + copy(buf[writeReserve:], data)
		data = data[n-writeReserve:]
		if err := c.writeFrame(c.frameInPlace(buf, n, len(data) == 0, 0, op), nil); err != nil {
			return err
		}
		if len(data) == 0 {
			return nil
		}
		op = opContinuation
	}
}

// NextWriter returns a writer for a message of the given type; the message
// is complete when the writer is closed. Until then a data message's writer
// holds the connection's message slot: other goroutines' data messages
// wait (bounded by the write deadline), control messages do not. The writer
// may be used by one goroutine at a time and must be closed. Bytes passed
// to Write are not retained.
//
// As in gorilla, NextWriter closes the previous writer if the application
// has not already done so: a writer the calling goroutine got from
// NextWriter and left open is closed (its message ends) before the new one
// starts, and so does [Conn.WriteMessage] called by that goroutine. A
// writer another goroutine is still using is not touched: the call waits
// for its Close.
//
// For [CloseMessage], [PingMessage] and [PongMessage] the writer collects
// at most 125 bytes (a longer Write fails) and Close sends them as one
// control frame, as [Conn.WriteControl] with the write deadline does; it
// does not hold the message slot.
func (c *Conn) NextWriter(messageType int) (io.WriteCloser, error) {
	switch messageType {
	case CloseMessage, PingMessage, PongMessage:
		c.closeOwnWriter()
		return &controlWriter{c: c, typ: messageType}, nil
	}
	if err := c.fr.writerType(messageType); err != nil {
		return nil, err
	}
	if err := c.acquireMsg(); err != nil {
		return nil, err
	}
	if c.cl.sent.Load() {
		c.wr.msgSem.release()
		return nil, ErrCloseSent
	}
	c.wr.cur ^= 1
	w := &c.wr.writers[c.wr.cur]
	w.active = true
	c.wr.owner.Store(curg())
	c.wr.open.Store(w)
	w.op = byte(messageType)
	w.bufp = c.getWriteBuf()
	w.buf = *w.bufp
	w.bufClass = c.wr.class
	w.n = writeReserve
	w.initDeflate()
	if o := c.obs; o != nil {
		o.written, o.writeType, o.quiet = 0, messageType, false
	}
	return w, nil
}

func (c *Conn) getWriteBuf() *[]byte {
	if c.wr.pool != nil {
		if b, ok := c.wr.pool.Get().(*[]byte); ok && len(*b) == 1<<(c.wr.class+minClassShift) {
			return b
		}
		b := make([]byte, 1<<(c.wr.class+minClassShift))
		return &b
	}
	return getBuf(c.wr.class)
}

// putWriteBufClass returns a buffer of the given class: to the
// connection's write pool when it is of the connection's own size.
func (c *Conn) putWriteBufClass(class int, b *[]byte) {
	if class != c.wr.class {
		putBuf(class, b)
		return
	}
	c.putWriteBuf(b)
}

func (c *Conn) putWriteBuf(b *[]byte) {
	if c.wr.pool != nil {
		c.wr.pool.Put(b)
		return
	}
	putBuf(c.wr.class, b)
}

// Write adds p to the message, sending a frame whenever the buffer fills.
// A large p written while the buffer is empty goes out as its own frame
// without being copied.
func (w *messageWriter) Write(p []byte) (int, error) {
	if !w.active {
		return 0, ErrWriterClosed
	}
	if w.lazy || w.deflate {
		return w.writeDeflate(p) // counts p for the hooks
	}
	if o := w.c.obs; o != nil {
		o.written += int64(len(p))
	}
	total := len(p)
	for len(p) > 0 {
		if w.n == writeReserve && len(p) >= len(w.buf)-writeReserve && !w.c.wr.client {
			if err := w.flushDirect(p); err != nil {
				return total - len(p), err
			}
			return total, nil
		}
		m := copy(w.buf[w.n:], p)
		w.n += m
		p = p[m:]
		if w.n == len(w.buf) {
			if err := w.flush(false); err != nil {
				return total - len(p), err
			}
		}
	}
	return total, nil
}

// ReadFrom reads r to its end straight into the message buffer, sending
// frames as it fills; io.Copy uses it, so copying a message from a reader
// costs no intermediate buffer.
func (w *messageWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.active {
		return 0, ErrWriterClosed
	}
	if w.lazy || w.deflate {
		return w.readFromDeflate(r) // its writeDeflate counts for the hooks
	}
	if mr, ok := r.(*messageReader); ok && mr.c.rd.f.remain >= largeFrame {
		w.growBuffer(mr.c.rd.f.remain)
	}
	var total int64
	for {
		if w.n == len(w.buf) {
			if err := w.flush(false); err != nil {
				return total, err
			}
		}
		n, err := r.Read(w.buf[w.n:])
		w.n += n
		total += int64(n)
		if err == io.EOF {
			if w.c.obs != nil {
				w.c.obs.written += total
			}
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// largeFrame is the frame size from which ReadFrom moves the message to a
// buffer as large as the incoming frame (up to 2 MiB), borrowed for the
// rest of the message, so a big message goes out in a few large frames
// and reads rather than one per write buffer.
const largeFrame = 32 << 10

// growBuffer swaps the writer's buffer for a pooled one that holds frame
// bytes of payload, keeping what is buffered.
func (w *messageWriter) growBuffer(frame int64) {
	class := sizeClass(int(min(frame, 2<<20))+writeReserve, 0)
	if class <= w.bufClass {
		return
	}
	bufp := getBuf(class)
	copy(*bufp, w.buf[:w.n])
	w.c.putWriteBufClass(w.bufClass, w.bufp)
	w.bufp, w.buf, w.bufClass = bufp, *bufp, class
}

// flush sends the buffered payload as a frame (see framing.flush).
func (w *messageWriter) flush(fin bool) error { return w.c.fr.flush(w, fin) }

func (*rfc6455) writerType(messageType int) error {
	switch messageType {
	case TextMessage, BinaryMessage:
		return nil
	}
	return errBadWriteType
}

func (*rfc6455) flush(w *messageWriter, fin bool) error {
	err := w.c.writeFrame(w.c.frameInPlace(w.buf, w.n, fin, 0, w.op), nil)
	w.op = opContinuation
	w.n = writeReserve
	if err != nil {
		w.release()
	}
	return err
}

// flushDirect sends p as a non-final frame without copying it.
func (w *messageWriter) flushDirect(p []byte) error { return w.c.fr.flushDirect(w, p) }

func (*rfc6455) flushDirect(w *messageWriter, p []byte) error {
	// The header goes in the writer's buffer, empty here: a local array
	// would escape (one allocation per frame).
	b := appendHeader(w.buf[:0], false, 0, w.op, len(p), false, [4]byte{})
	err := w.c.writeFrame(b, p)
	w.op = opContinuation
	if err != nil {
		w.release()
	}
	return err
}

// Close sends the final frame of the message and frees the connection for
// the next message. Closing twice returns [ErrWriterClosed].
func (w *messageWriter) Close() error {
	if !w.active {
		return ErrWriterClosed
	}
	if w.c.obs != nil {
		return w.closeObserved()
	}
	if w.lazy || w.deflate {
		return w.closeDeflate()
	}
	err := w.flush(true)
	w.release()
	return err
}

// closeObserved is Close on a connection with hooks; apart, so that Close
// keeps the small frame the idle-stack test measures.
//
//go:noinline
func (w *messageWriter) closeObserved() error {
	var err error
	compressed := w.deflate || w.lazy && w.n-writeReserve >= w.threshold()
	if w.lazy || w.deflate {
		err = w.closeDeflate()
	} else {
		err = w.flush(true)
		w.release()
	}
	w.writtenHook(w.c.obs, compressed, err)
	return err
}

// writtenHook reports the message the writer ended (hooks.go).
//
//go:noinline
func (w *messageWriter) writtenHook(o *connHooks, compressed bool, err error) {
	n := o.written
	o.written = 0
	if err == nil && !o.quiet {
		o.h.messageWritten(w.c, o.writeType, n, n+int64(headerSize(int(n), w.c.wr.client)), compressed)
	}
}

// release gives back the buffer and the message slot after the message
// ended or failed; the writer refuses further use.
func (w *messageWriter) release() {
	if !w.active {
		return
	}
	w.active = false
	w.c.wr.open.CompareAndSwap(w, nil)
	w.c.putWriteBufClass(w.bufClass, w.bufp)
	w.bufp, w.buf = nil, nil
	w.c.wr.msgSem.release()
}
