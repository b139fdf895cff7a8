package websocket

// The write side's access to the socket: the two write slots (a whole
// message, a frame), the sticky write error, the writes themselves (one
// writev where the transport supports it) and the coalescing of small
// frames that are held back while the reader has more input.

import (
	"io"
	"net"
	"sync"
	"time"
)

// acquireMsg takes the message slot, waiting while another goroutine
// writes a message, until the write deadline or until the connection is
// closed.
func (c *Conn) acquireMsg() error {
	if c.wr.msgSem.tryAcquire() {
		return nil
	}
	return c.acquireMsgSlow()
}

// acquireMsgSlow is acquireMsg when the slot is taken. When it is taken by
// a writer that this same goroutine got from NextWriter and left open,
// that writer is closed first, as in gorilla ("NextWriter closes the
// previous writer if the application has not already done so"); waiting
// for it would wait forever. A writer of another goroutine is waited for.
func (c *Conn) acquireMsgSlow() error {
	c.closeOwnWriter()
	if c.wr.msgSem.tryAcquire() {
		return nil
	}
	return c.acquireSlow(&c.wr.msgSem, c.currentWriteDeadline())
}

// closeOwnWriter closes the writer NextWriter handed to the calling
// goroutine, if it is still open.
func (c *Conn) closeOwnWriter() {
	if w := c.wr.open.Load(); w != nil {
		if me := curg(); me != 0 && c.wr.owner.Load() == me {
			w.Close()
		}
	}
}

// lockFrame takes the socket for writing, waiting until deadline (zero:
// no limit) or until the connection is closed.
func (c *Conn) lockFrame(deadline time.Time) error {
	if c.wr.frameSem.tryAcquire() {
		return nil
	}
	return c.acquireSlow(&c.wr.frameSem, deadline)
}

// waitFrame is lockFrame with the write deadline, for writeFrame, whose
// frame stays small without the deadline's time.Time in it: it is under
// every write (see TestServe_idleConnectionsStayOnSmallStacks).
//
//go:noinline
func (c *Conn) waitFrame() error {
	return c.acquireSlow(&c.wr.frameSem, c.currentWriteDeadline())
}

func (c *Conn) acquireSlow(s *sema, deadline time.Time) error {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return errWriteTimeout
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case s.channel() <- struct{}{}:
		return nil
	case <-timeout:
		return errWriteTimeout
	case <-c.cl.done.wait():
		if cause := c.writeCause(); cause != nil {
			return cause // a write cut a frame and closed the connection
		}
		return net.ErrClosed
	}
}

// writeLocked writes the deferred frames (see deferFrame), then b, then
// extra, with one writev where the socket supports it. The caller holds
// frameSem. A failed write leaves the stream in an unknown state, so the
// error is sticky.
func (c *Conn) writeLocked(b, extra []byte) error {
	if c.wr.err != nil {
		return c.wr.err
	}
	if len(c.wr.pend) == 0 && len(extra) == 0 {
		// The common case, kept in a small frame: a goroutine's stack
		// must not grow past 2 KiB on the way to the socket.
		if len(b) == 0 {
			return nil
		}
		if n, err := c.conn.Write(b); err != nil {
			return c.writeFailed(err, n > 0 && n < len(b))
		}
		return nil
	}
	return c.writeLockedVec(b, extra)
}

// writeLockedVec is writeLocked's path for held frames or a tail.
//
//go:noinline
func (c *Conn) writeLockedVec(b, extra []byte) error {
	cut := c.wr.pendCut // releasePend clears it
	v := vecPool.Get().(*vec)
	iov := v.arr[:0]
	for _, p := range [...][]byte{c.wr.pend, b, extra} {
		if len(p) > 0 {
			iov = append(iov, p)
		}
	}
	n, err := v.write(c.conn, iov)
	v.arr = [3][]byte{}
	vecPool.Put(v)
	c.releasePend()
	if err != nil {
		return c.writeFailed(err, n > 0 || cut)
	}
	return nil
}

// writeVecLocked writes the held frames and then frames[1:], with one
// writev where the socket supports it; frames[0] is scratch room for the
// held frames. The caller holds frameSem.
func (c *Conn) writeVecLocked(frames [][]byte) error {
	if c.wr.err != nil {
		return c.wr.err
	}
	bufs := frames[1:]
	if len(c.wr.pend) > 0 {
		frames[0] = c.wr.pend
		bufs = frames
	}
	cut := c.wr.pendCut // releasePend clears it
	v := vecPool.Get().(*vec)
	n, err := v.write(c.conn, bufs)
	vecPool.Put(v)
	c.releasePend()
	if err != nil {
		return c.writeFailed(err, n > 0 || cut)
	}
	return nil
}

// vec is scratch space for a writev: net.Buffers.WriteTo needs its receiver
// on the heap, so a local one would be allocated on every call; these are
// pooled instead (a Conn keeps none).
type vec struct {
	arr  [3][]byte
	bufs net.Buffers
}

var vecPool = sync.Pool{New: func() any { return new(vec) }}

// write writes bufs to w, with one writev where w supports it.
func (v *vec) write(w io.Writer, bufs [][]byte) (int64, error) {
	switch len(bufs) {
	case 0:
		return 0, nil
	case 1:
		n, err := w.Write(bufs[0])
		return int64(n), err
	}
	v.bufs = bufs
	n, err := v.bufs.WriteTo(w)
	v.bufs = nil
	return n, err
}

// releasePend gives back the buffer of held frames once they were written
// (or the write failed: the error is sticky).
func (c *Conn) releasePend() {
	if c.wr.pendp != nil {
		putBuf(c.wr.class, c.wr.pendp)
		c.wr.pendp, c.wr.pend = nil, nil
		c.wr.pendN.Store(0)
	}
	c.wr.pendCut, c.wr.pongHeld = false, false
}

// writeFrame sends one data frame made of buf (header already in place)
// and optionally a payload tail that was not copied into buf.
func (c *Conn) writeFrame(buf, tail []byte) error {
	if !c.wr.frameSem.tryAcquire() {
		if err := c.waitFrame(); err != nil {
			return err
		}
	}
	// No defer here: this frame is on the path of every write, and a
	// small one keeps a connection goroutine's stack at 2 KiB.
	var err error
	switch {
	case c.cl.sent.Load():
		err = ErrCloseSent
	case tail == nil && c.rd.ahead.Load() && c.deferFrame(buf):
	default:
		err = c.writeLocked(buf, tail)
	}
	c.wr.frameSem.release()
	return err
}

// Write coalescing. A server that answers pipelined messages would make
// one write per answer; instead, a small data frame written while the
// connection's read buffer still holds bytes from the peer (so the reader
// is about to return another message without blocking) is held back and
// goes out with the next write: the answers to the messages of one read
// leave in one write. A lone message is never held, because nothing is
// buffered behind it. Held frames are written by any later write (data or
// control), as soon as the reader is about to block for more input (by the
// flush timer's goroutine, so the reader never blocks on a write), by Close
// (for at most closeFlushWait), and at the latest coalesceDelay after they
// were held, so a handler that stops reading does not strand them. A failure to write them surfaces, sticky,
// on the next write.
const coalesceDelay = time.Millisecond

// deferFrame holds frame back when it fits the pending buffer. The caller
// holds frameSem.
func (c *Conn) deferFrame(frame []byte) bool {
	if c.wr.err != nil {
		return false
	}
	if c.wr.pendp == nil {
		if len(frame) > 1<<(c.wr.class+minClassShift)/2 {
			return false
		}
		c.wr.pendp = getBuf(c.wr.class)
		c.wr.pend = (*c.wr.pendp)[:0]
	}
	if len(c.wr.pend)+len(frame) > cap(c.wr.pend) {
		return false
	}
	c.wr.pend = append(c.wr.pend, frame...)
	c.wr.pendN.Store(int32(len(c.wr.pend)))
	c.armFlush()
	return true
}

// armFlush has the held frames written within coalesceDelay. The caller
// holds frameSem.
func (c *Conn) armFlush() { c.resetFlush(coalesceDelay) }

// resetFlush has the flush timer fire after d, making it on first use.
//
//go:noinline
func (c *Conn) resetFlush(d time.Duration) {
	if t := c.wr.flushTimer.Load(); t != nil {
		t.Reset(d)
		return
	}
	t := time.AfterFunc(d, c.flushPending)
	if !c.wr.flushTimer.CompareAndSwap(nil, t) { // kickFlush and armFlush raced
		t.Stop()
		c.wr.flushTimer.Load().Reset(d)
	}
}

// kickFlush has held frames written now, by the flush timer's goroutine:
// the reader calls it before it blocks for input, and must not block on a
// write itself (a peer that writes without reading would then deadlock
// with it).
func (c *Conn) kickFlush() {
	if c.wr.pendN.Load() != 0 {
		c.resetFlush(0)
	}
}

// flushBeforeRead writes the held frames as the reader is about to read
// the socket, when they include a pong it answered: itself, as far as the
// socket takes them without blocking (raw sockets; one writev, no
// goroutine woken), else through the flush timer. advanceFrame calls it,
// above the deep read path, so that answering a ping does not grow the
// reader's stack past 2 KiB for good (the runtime's timer code under fill
// did). Held data frames are left to kickFlush, as before: a writer that
// holds the socket writes them first anyway.
func (c *Conn) flushBeforeRead() {
	if !c.wr.frameSem.tryAcquire() {
		return
	}
	if c.wr.pongHeld && len(c.wr.pend) > 0 && !c.writeHeldNow() {
		c.resetFlush(0)
	}
	c.wr.frameSem.release()
}

// closeFlushWait bounds how long Close spends writing held frames.
const closeFlushWait = 100 * time.Millisecond

// flushBeforeClose writes held frames before Close closes the socket, for
// at most closeFlushWait: a message WriteMessage accepted should not be
// lost to the coalescing, but Close must not hang on a peer that does not
// read.
func (c *Conn) flushBeforeClose() {
	if c.wr.pendN.Load() == 0 {
		return
	}
	if !c.wr.frameSem.tryAcquire() {
		return // the writer holding the socket writes them first
	}
	if len(c.wr.pend) > 0 {
		c.conn.SetWriteDeadline(time.Now().Add(closeFlushWait))
		if err := c.writeLocked(nil, nil); err != nil {
			c.recordFailure(err) // accepted by WriteMessage, and lost: Close says so
		}
	}
	c.wr.frameSem.release()
}

// flushPending writes held frames, unless a writer holds the socket: that
// writer writes them first (writeLocked). It never blocks on the lock.
func (c *Conn) flushPending() {
	if c.wr.pendN.Load() == 0 {
		return
	}
	if !c.wr.frameSem.tryAcquire() {
		return
	}
	var err error
	if len(c.wr.pend) > 0 {
		err = c.writeLocked(nil, nil)
	}
	c.wr.frameSem.release()
	if err != nil {
		// Nobody waits for this write: a message that WriteMessage
		// accepted is lost, so the connection ends, and the next read,
		// write and Close report why.
		c.failDeferred(err)
	}
}
