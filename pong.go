package websocket

// Answering pings (RFC 6455 §5.5.2) without ever blocking the reader or
// cutting a frame.
//
// The default ping handler never writes to the socket itself: it holds the
// pong with the frames waiting to be written (wr.pend, see deferFrame),
// and they go out with the next write or as soon as the reader is about to
// wait for input (kickFlush), in order with the data written meanwhile. A
// reader that works through a burst of pings fills the held frames; on a
// raw socket they are then written without blocking, as much as the
// socket takes. When the socket takes no more, or another goroutine holds
// it (a write blocked on a peer that does not read), the pongs are parked
// in a bounded buffer of their own, written in order by one goroutine once
// the socket is free; when that buffer is full only the newest pong is
// kept, since an endpoint may answer only the most recent ping (§5.5.3).
// So a ping flood from a peer that does not read costs at most one parked
// buffer and one goroutine, never a deadline that cuts a frame, and the
// reader goes on reading.

import (
	"sync"
	"time"
)

// parkedPongsClass is the size class of the parked-pong buffer: 16 KiB,
// about 120 pongs of the largest size.
const parkedPongsClass = 6

// writeRare is the write side's state for rare events, made on first use:
// parked pongs, and the write failure that closed the connection.
type writeRare struct {
	mu     sync.Mutex
	pongsp *[]byte // borrowed buffer of parked pong frames
	pongs  []byte  // the parked pong frames, oldest first
	writer bool    // a writeParkedPongs goroutine runs
	cause  error   // the failed write that closed the connection
}

func (c *Conn) writeRare() *writeRare {
	if r := c.wr.rare.Load(); r != nil {
		return r
	}
	c.wr.rare.CompareAndSwap(nil, new(writeRare))
	return c.wr.rare.Load()
}

// defaultPingHandler answers a ping with a pong carrying its payload. The
// reader does not come here for its own pings (see answerPing).
func (c *Conn) defaultPingHandler(appData string) error {
	c.answerPing([]byte(appData))
	if c.wr.pendN.Load() != 0 {
		c.armFlush() // any goroutine may call it: the pong goes out within 1 ms
	}
	return nil
}

// answerPing answers a ping with a pong carrying appData, which it does
// not retain. handleControl calls it with the payload where it lies in the
// read buffer when no ping handler is set: no string is made, and the
// reader's goroutine stays on its small stack. A held pong is not timed
// here: the caller has it written, advanceFrame when the reader is about
// to read the socket (flushBeforeRead) or within 1 ms (armFlush), from a
// shallower frame than this one, whose depth plus the runtime's timer
// code would grow the reader's stack past 2 KiB for good.
func (c *Conn) answerPing(appData []byte) {
	if c.cl.sent.Load() {
		return // nothing follows our close frame (RFC 6455 §5.5.1)
	}
	if c.obs != nil {
		c.obs.h.pong(c, DirectionSent, len(appData)) // queued, in order
	}
	if !c.pongsParked() && c.wr.frameSem.tryAcquire() {
		held := c.holdPong(appData)
		c.wr.frameSem.release()
		if held {
			return
		}
	}
	c.parkPong(appData)
}

// pongsParked reports whether parked pongs wait: a newer one must then
// queue behind them.
func (c *Conn) pongsParked() bool {
	r := c.wr.rare.Load()
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writer
}

// appendPong appends the pong frame answering appData to b.
func (c *Conn) appendPong(b []byte, appData []byte) []byte {
	var key [4]byte
	if c.wr.client {
		key = newMaskKey()
	}
	b = appendHeader(b, true, 0, opPong, len(appData), c.wr.client, key)
	n := len(b)
	b = append(b, appData...)
	if c.wr.client {
		mask(key, 0, b[n:])
	}
	return b
}

// holdPong adds the pong to the held frames, writing them first without
// blocking when they are full. It reports false when the pong could not be
// held. The caller holds frameSem, and has a held pong written (see
// answerPing).
func (c *Conn) holdPong(appData []byte) bool {
	if c.wr.err != nil || c.cl.sent.Load() {
		return true // nothing more goes out: the pong is moot
	}
	need := maxHeaderSize + len(appData)
	if c.wr.pendp != nil && len(c.wr.pend)+need > cap(c.wr.pend) && !c.writeHeldNow() {
		return false
	}
	if c.wr.err != nil {
		return true // writeHeldNow failed: nothing more goes out
	}
	if c.wr.pendp == nil {
		c.wr.pendp = getBuf(c.wr.class)
		c.wr.pend = (*c.wr.pendp)[:0]
	}
	if len(c.wr.pend)+need > cap(c.wr.pend) {
		return false
	}
	c.wr.pend = c.appendPong(c.wr.pend, appData)
	c.wr.pendN.Store(int32(len(c.wr.pend)))
	c.wr.pongHeld = true
	return true
}

// writeHeldNow writes the held frames as far as the socket takes them
// without blocking (raw sockets only); what it did not take, a frame cut
// in two included, stays held at the front, to be written before anything
// else. It reports whether the held frames are all written. The caller
// holds frameSem.
func (c *Conn) writeHeldNow() bool {
	s := c.rawTransport()
	if !haveWritev || s == nil {
		return false
	}
	w := writevPool.Get().(*writevState)
	bufs := append(w.bufs[:0], c.wr.pend)
	n, err := w.writev(s, bufs)
	clear(bufs)
	w.bufs = bufs[:0]
	writevPool.Put(w)
	if err != nil {
		c.writeFailed(err, n > 0 || c.wr.pendCut)
		return true // the write side has failed: nothing is held any more
	}
	if n == len(c.wr.pend) {
		c.releasePend()
		return true
	}
	if n > 0 {
		c.wr.pendCut = true // what is left starts inside a frame
	}
	c.wr.pend = c.wr.pend[:copy(c.wr.pend, c.wr.pend[n:])]
	c.wr.pendN.Store(int32(len(c.wr.pend)))
	return false
}

var writevPool = sync.Pool{New: func() any { return new(writevState) }}

// parkPong parks the pong behind those already parked (only the newest is
// kept when the buffer is full) and makes sure a goroutine writes them.
func (c *Conn) parkPong(appData []byte) {
	r := c.writeRare()
	r.mu.Lock()
	if r.pongsp == nil {
		r.pongsp = getBuf(parkedPongsClass)
		r.pongs = (*r.pongsp)[:0]
	}
	if len(r.pongs)+maxHeaderSize+len(appData) > cap(r.pongs) {
		r.pongs = r.pongs[:0] // RFC 6455 §5.5.3: the most recent ping is what counts
	}
	r.pongs = c.appendPong(r.pongs, appData)
	start := !r.writer
	r.writer = true
	r.mu.Unlock()
	if start {
		go c.writeParkedPongs(r)
	}
}

// writeParkedPongs waits for the socket, with no deadline of its own (the
// pongs go out whole when the peer reads, or not at all once the
// connection is closed), and writes the parked pongs, until none is left.
func (c *Conn) writeParkedPongs(r *writeRare) {
	for {
		err := c.acquireSlow(&c.wr.frameSem, time.Time{})
		r.mu.Lock()
		bufp, frames := r.pongsp, r.pongs
		r.pongsp, r.pongs = nil, nil
		if err != nil || bufp == nil {
			r.writer = false
			r.mu.Unlock()
			if bufp != nil {
				putBuf(parkedPongsClass, bufp)
			}
			if err == nil {
				c.wr.frameSem.release()
			}
			return
		}
		r.mu.Unlock()
		if !c.cl.sent.Load() {
			err = c.writeLocked(frames, nil)
		}
		putBuf(parkedPongsClass, bufp)
		c.wr.frameSem.release()
		if err != nil {
			// Held frames that WriteMessage accepted went with it.
			c.failDeferred(err)
		}
	}
}

// writeFailed records a failed write of the connection as the sticky
// write error. When part of a frame went out (a deadline passed in the
// middle of it, say) the stream is cut inside a frame: the connection is
// closed at once, with no further byte, and every later call reports why.
// The caller holds frameSem.
//
//go:noinline
func (c *Conn) writeFailed(err error, partial bool) error {
	if c.wr.err == nil {
		c.wr.err = err
	}
	c.releasePend()
	if partial {
		c.recordFailure(err)
		c.conn.Close() // Close's own path would try to flush first
		c.Close()
	}
	return c.wr.err
}

// failDeferred ends the connection after a held frame failed to go out
// (see the write coalescing in write_socket.go).
func (c *Conn) failDeferred(err error) {
	if c.cl.done.fired() {
		return // closed already: the write failed because of that
	}
	c.recordFailure(err)
	c.Close()
}

// recordFailure makes err the reason the connection ended, reported by
// every later read, write and Close.
func (c *Conn) recordFailure(err error) {
	r := c.writeRare()
	r.mu.Lock()
	if r.cause == nil {
		r.cause = err
	}
	r.mu.Unlock()
	c.cl.failed.Store(true)
}

// writeCause returns the failed write that closed the connection, if any.
func (c *Conn) writeCause() error {
	r := c.wr.rare.Load()
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cause
}
