package websocket

import (
	"compress/flate"
	"io"
	"math"
	"sync"
)

// The read side of permessage-deflate (RFC 7692 §7.2.2): a compressed
// message is inflated while it is read, its inflated bytes counted against
// the read limit and validated as UTF-8 for text, with a flate reader
// borrowed from a pool for the length of the message.

// deflateTail is what RFC 7692 §7.2.2 appends to a compressed message
// before inflating it (the empty stored block a sync flush ends with),
// followed by an empty final stored block so that flate reports io.EOF at
// the end of every well-formed message.
var deflateTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// maxFinalBlocks bounds how many times one message may end a DEFLATE
// stream with a BFINAL block and start another (RFC 7692 §7.2.3.3 allows
// the sender to flush that way); each restart resets the inflater.
const maxFinalBlocks = 16

// inflater is a pooled flate reader with the source it reads from.
type inflater struct {
	fr      io.ReadCloser
	src     inflateSource
	scratch [512]byte // for discarding a message
}

var inflaterPool sync.Pool

// inflateSource feeds a compressed message to the flate reader: the
// unmasked payload of its frames, then deflateTail. It reads through the
// connection, so control frames between the fragments are handled as
// usual.
type inflateSource struct {
	c      *Conn
	buf    [4096]byte
	r, w   int
	inTail bool // the payload is exhausted; buf holds (part of) the tail
	seen   bool // some payload was read
}

func (s *inflateSource) fill() error {
	c := s.c
	for {
		if c.rd.f.remain > 0 {
			n, err := c.readPayload(s.buf[:])
			if err != nil {
				return err
			}
			s.r, s.w, s.seen = 0, n, true
			return nil
		}
		if c.rd.f.fin {
			if s.inTail {
				return io.EOF
			}
			s.inTail = true
			t := deflateTail[:]
			if !s.seen {
				// An empty payload is read as an empty message, as
				// zlib-based peers do.
				t = t[4:]
			}
			s.r, s.w = 0, copy(s.buf[:], t)
			return nil
		}
		if err := c.advanceFrame(); err != nil {
			return err
		}
	}
}

func (s *inflateSource) ReadByte() (byte, error) {
	if s.r == s.w {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	b := s.buf[s.r]
	s.r++
	return b, nil
}

func (s *inflateSource) Read(p []byte) (int, error) {
	if s.r == s.w {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.r:s.w])
	s.r += n
	return n, nil
}

// frameLimit is the limit on the wire bytes of the message being read. A
// compressed message's limit applies to its inflated bytes (see
// readDeflate); its wire bytes get a little slack for the DEFLATE framing
// of incompressible data, and no more, so that a peer cannot keep the
// server inflating empty blocks forever.
func (c *Conn) frameLimit(limit int64) int64 {
	if !c.rd.f.deflate || limit <= 0 {
		return limit
	}
	slack := limit/8 + 1024
	if limit > math.MaxInt64-slack {
		return math.MaxInt64
	}
	return limit + slack
}

// startInflate takes a reader from the pool for the compressed message
// that starts, primed with the window of earlier messages when the client
// takes its context over.
func (c *Conn) startInflate() {
	z := c.pmd
	inf, _ := inflaterPool.Get().(*inflater)
	if inf == nil {
		inf = &inflater{fr: flate.NewReader(nil)}
	}
	s := &inf.src
	s.c, s.r, s.w, s.inTail, s.seen = c, 0, 0, false, false
	z.inf, z.out, z.restarts = inf, 0, 0
	z.resetInflater()
}

// resetInflater points the inflater at its source, with the window.
func (z *deflateState) resetInflater() {
	rs := z.inf.fr.(flate.Resetter)
	if z.params.clientNoTakeover || !z.wfull || z.wpos == 0 {
		dict := z.win
		if !z.wfull {
			dict = z.win[:z.wpos]
		}
		rs.Reset(&z.inf.src, dict)
		return
	}
	// Lay the ring out oldest first in a scratch buffer; Reset copies it.
	class := sizeClass(len(z.win), 0)
	tmp := getBuf(class)
	n := copy(*tmp, z.win[z.wpos:])
	copy((*tmp)[n:], z.win[:z.wpos])
	rs.Reset(&z.inf.src, (*tmp)[:len(z.win)])
	putBuf(class, tmp)
}

// remember adds inflated bytes to the window kept for client context
// takeover, a ring of 2^client_max_window_bits bytes (512 at least).
func (z *deflateState) remember(p []byte) {
	if z.params.clientNoTakeover {
		return
	}
	if z.win == nil {
		// At least 512 bytes: zlib cannot deflate with a 256-byte window
		// and uses 512 when asked for client_max_window_bits=8.
		z.win = make([]byte, max(1<<z.params.clientBits, 512))
	}
	if len(p) >= len(z.win) {
		copy(z.win, p[len(p)-len(z.win):])
		z.wpos, z.wfull = 0, true
		return
	}
	n := copy(z.win[z.wpos:], p)
	z.wpos += n
	if n < len(p) {
		z.wpos = copy(z.win, p[n:])
		z.wfull = true
	} else if z.wpos == len(z.win) {
		z.wpos, z.wfull = 0, true
	}
}

// finishInflate returns the reader of a message read to its end.
func (z *deflateState) finishInflate() {
	inf := z.inf
	z.inf = nil
	inf.src.c = nil
	inflaterPool.Put(inf)
}

// readDeflate is readMessageData for a compressed message: it inflates
// into p, counting inflated bytes against the read limit (so a small frame
// that inflates past it ends in 1009 having cost at most the limit), and
// validates text as it is inflated.
func (c *Conn) readDeflate(r *messageReader, p []byte) (int, error) {
	z := c.pmd
	if len(p) == 0 {
		return 0, nil
	}
	if z.ahead != nil {
		n, err := z.ahead.deliver(p)
		if err != nil {
			z.dropAhead()
			if err == io.EOF {
				r.eof = true // endMessage ran while inflating ahead
			}
		}
		return n, err
	}
	if z.inf == nil {
		c.startInflate()
	}
	limit := c.rd.limit.Load()
	if limit > 0 {
		if room := limit - z.out; int64(len(p)) > room {
			p = p[:max(room, 0)+1] // one byte more tells an overflow
		}
	}
	for {
		n, err := z.inf.fr.Read(p)
		if n > 0 {
			z.out += int64(n)
			if limit > 0 && z.out > limit {
				return 0, c.failLimit()
			}
			if c.rd.msgType == TextMessage && !c.rd.utf8.feed(p[:n]) {
				return 0, c.fail(protocolError(CloseInvalidFramePayloadData, "invalid UTF-8 in text message"))
			}
			z.remember(p[:n])
		}
		switch {
		case err == nil:
			return n, nil
		case err != io.EOF:
			if c.rd.err != nil {
				return 0, c.rd.err
			}
			return 0, c.fail(protocolError(CloseInvalidFramePayloadData, "invalid compressed data: "+err.Error()))
		}
		// The DEFLATE stream ended with a BFINAL block. The message ends
		// too unless more of its payload follows (RFC 7692 §7.2.3.3).
		s := &z.inf.src
		if !s.inTail && (s.r < s.w || c.rd.f.remain > 0 || !c.rd.f.fin) {
			if z.restarts++; z.restarts > maxFinalBlocks {
				return 0, c.fail(protocolError(CloseInvalidFramePayloadData, "invalid compressed data: too many final blocks"))
			}
			z.resetInflater()
			if n > 0 {
				return n, nil
			}
			continue
		}
		if o := c.obs; o != nil {
			o.inflated = z.out
		}
		z.finishInflate()
		if err := c.endMessage(r); err != nil {
			return 0, err
		}
		return n, io.EOF
	}
}

// discardDeflate is discardMessage for a compressed message: it is
// inflated all the same, since the window and the UTF-8 check need it.
func (c *Conn) discardDeflate() error {
	z := c.pmd
	if z.inf == nil {
		c.startInflate()
	}
	buf := z.inf.scratch[:]
	r := messageReader{active: true}
	for {
		if _, err := c.readDeflate(&r, buf); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// ---- ReadMessage: inflate ahead, then grow once ----
//
// ReadMessage cannot know how large a compressed message will be: the
// frame header gives the wire size. Growing its buffer by doubling as the
// inflated bytes arrive made a 34 KB bomb allocate 68 MiB (a chain of
// buffers up to the 32 MiB limit, then one past it to see the byte that
// overflows). Instead, the first time the buffer is full, the rest of the
// message is inflated ahead into pooled 64 KiB chunks, and the buffer
// grows once, to the exact size; the chunks go back to the pool as they
// are copied out. A bomb then costs its chunks, at most the read limit,
// taken from and returned to the pool, and nothing more
// (TestCompress_bombUnderDefaultLimit).

// aheadClass is the pool size class of the chunks: 64 KiB.
var aheadClass = sizeClass(64<<10, 0)

// inflateAhead holds the inflated rest of a message being read by
// ReadMessage; deflateState.ahead points to one, from aheadPool, from the
// moment the message is inflated ahead until its end is delivered.
type inflateAhead struct {
	chunks []*[]byte // pooled chunks, full but for the last
	fill   int       // bytes in the last chunk
	next   int       // chunk being delivered
	off    int       // bytes of it delivered
	err    error     // what the inflation ended with, io.EOF at the end
}

// inflateGrow is how much ReadMessage grows its buffer by for a compressed
// message, called when the buffer is full: the exact size of the rest of
// the message, inflated ahead (1 when that failed: the next read reports
// why). What the buffer holds and the usual growth do not matter.
func (c *Conn) inflateGrow(_, _ int) int {
	z := c.pmd
	if z.ahead != nil {
		return max(z.ahead.held(), 1)
	}
	return max(c.inflateAhead(), 1)
}

// inflateAhead inflates the rest of the current message into pooled
// chunks and returns how many bytes that made. The message ends (or
// fails) as it would have; its bytes and its end are then delivered by
// readDeflate.
func (c *Conn) inflateAhead() int {
	a, _ := aheadPool.Get().(*inflateAhead)
	if a == nil {
		a = new(inflateAhead)
	}
	r := messageReader{active: true} // takes endMessage's eof mark
	n := 0
	for {
		if len(a.chunks) == 0 || a.fill == len(*a.chunks[len(a.chunks)-1]) {
			a.chunks = append(a.chunks, getBuf(aheadClass))
			a.fill = 0
		}
		buf := *a.chunks[len(a.chunks)-1]
		m, err := c.readDeflate(&r, buf[a.fill:])
		a.fill += m
		n += m
		if err != nil {
			if a.fill == 0 { // an empty last chunk: deliver would not reach it
				putBuf(aheadClass, a.chunks[len(a.chunks)-1])
				a.chunks[len(a.chunks)-1] = nil
				a.chunks = a.chunks[:len(a.chunks)-1]
				if len(a.chunks) > 0 {
					a.fill = len(*a.chunks[len(a.chunks)-1])
				}
			}
			a.err = err
			if err != io.EOF {
				// The message is lost; its error is sticky.
				a.release()
				a.err = err
				n = 0
			}
			// Installed once the message is inflated: readDeflate
			// delivers from it from then on.
			c.pmd.ahead = a
			return n
		}
	}
}

// held returns the bytes inflated ahead and not yet delivered.
func (a *inflateAhead) held() int {
	n := 0
	for i := a.next; i < len(a.chunks); i++ {
		if i == len(a.chunks)-1 {
			n += a.fill
		} else {
			n += len(*a.chunks[i])
		}
	}
	return n - a.off
}

// deliver copies bytes inflated ahead into p; at the end it returns the
// error the inflation ended with and forgets the message.
func (a *inflateAhead) deliver(p []byte) (int, error) {
	n := 0
	for n < len(p) && a.next < len(a.chunks) {
		end := len(*a.chunks[a.next])
		if a.next == len(a.chunks)-1 {
			end = a.fill
		}
		m := copy(p[n:], (*a.chunks[a.next])[a.off:end])
		n += m
		a.off += m
		if a.off == end {
			putBuf(aheadClass, a.chunks[a.next])
			a.chunks[a.next] = nil
			a.next++
			a.off = 0
		}
	}
	if a.next < len(a.chunks) {
		return n, nil
	}
	return n, a.err
}

var aheadPool sync.Pool

// dropAhead returns the message's read-ahead state to its pool.
func (z *deflateState) dropAhead() {
	z.ahead.release()
	aheadPool.Put(z.ahead)
	z.ahead = nil
}

// release returns the chunks to the pool and forgets the message.
func (a *inflateAhead) release() {
	for i := a.next; i < len(a.chunks); i++ {
		putBuf(aheadClass, a.chunks[i])
	}
	clear(a.chunks)
	if cap(a.chunks) > 64 {
		a.chunks = nil // do not keep a long slice on an idle connection
	}
	a.chunks = a.chunks[:0]
	a.fill, a.next, a.off, a.err = 0, 0, 0, nil
}

// defaultDeflateReadLimit is the read limit of a connection that
// negotiated permessage-deflate and whose application set none: 4 MiB,
// where an uncompressed connection gets DefaultReadLimit (32 MiB).
//
// A compressed message can inflate to 1,032 times its wire size (RFC 1951
// §3.2.5: one 258-byte match in two bits), so it is the limit, not the
// bandwidth, that bounds what a peer makes a connection hold: under a
// limit L, ReadMessage of a message that inflates past it costs L (the
// pooled chunks it is inflated into, see inflateAhead) for about L/1032
// bytes on the wire, and a message that fits costs up to 2L while it is
// copied out. At 32 MiB that was 32 MiB held for a 34 KB frame; at 4 MiB it
// is 4 MiB for 4 KB, while JSON or text messages of a few MiB, the usual
// use of compression, still pass. An application that expects larger
// compressed messages sets Upgrader.ReadLimit or Conn.SetReadLimit.
const defaultDeflateReadLimit = 4 << 20

// defaultReadLimitFor returns the read limit of a new connection whose
// application set none (connConfig.readLimit == 0), by whether
// permessage-deflate was negotiated. newConn calls it.
func defaultReadLimitFor(deflate bool) int64 {
	if deflate {
		return defaultDeflateReadLimit
	}
	return DefaultReadLimit
}
