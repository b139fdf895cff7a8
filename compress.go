package websocket

import (
	"compress/flate"
	"errors"
	"io"
	"sync"
)

// Per-message compression: the permessage-deflate extension of RFC 7692,
// built on compress/flate. Negotiation is in extensions.go, the read side
// in inflate.go, compression within a window the peer limited in
// compress_window.go; this file holds the per-connection state, the write
// side and prepared messages.
//
// Memory. compress/flate's compressor is large (about 1.2 MB, mostly hash
// tables) and its decompressor about 45 KB, so neither is kept by an idle
// connection unless context takeover makes that unavoidable.
// BenchmarkCompressConnMemory measures what an idle connection holds after
// one compressed message each way (amd64, Go 1.26; a connection without
// compression: about 0.8 KB):
//
//   - Without context takeover (the default: the server answers
//     server_no_context_takeover and client_no_context_takeover), flate
//     writers and readers come from package-wide pools for the length of
//     one message: +144 bytes per connection, the deflateState.
//   - With client context takeover (Upgrader.CompressionContextTakeover
//     and a client that did not offer client_no_context_takeover), the
//     connection keeps the last 2^client_max_window_bits bytes (32 KiB by
//     default) of what it inflated, and primes a pooled reader with them
//     (flate.Resetter) at the start of each compressed message: +33 KB.
//   - With server context takeover, the connection keeps its own
//     flate.Writer for as long as it lives: +1.2 MB.

// DefaultCompressionThreshold is the size, in bytes, under which a data
// message is sent uncompressed when [Upgrader.CompressionThreshold] is zero.
// Smaller messages rarely shrink enough to pay for the compressor.
const DefaultCompressionThreshold = 256

var errDeflateTail = errors.New("websocket: compressed message lacks the sync-flush marker")

// deflateConfig is what the handshake negotiated, for newConn.
type deflateConfig struct {
	enabled   bool
	params    deflateParams
	threshold int
}

// deflateState is a connection's permessage-deflate state; Conn.pmd is nil
// when the extension was not negotiated.
type deflateState struct {
	params    deflateParams
	threshold int // messages shorter than this go uncompressed; <= 0: all

	// Write side, guarded by the message slot (msgSem).
	sink   deflateSink
	fw     *flate.Writer // the takeover writer, nil without takeover
	fwLvl  int
	resetW bool             // a message went out that fw's history does not include
	lw     *windowedDeflate // the message's segmenter, under a limited window (pooled)

	// Read side, owned by the reading goroutine.
	inf      *inflater // while a compressed message is being read
	out      int64     // bytes inflated from the current message
	restarts int
	win      []byte // inflate window kept for client context takeover
	wpos     int    // next write position in win
	wfull    bool
	ahead    *inflateAhead // ReadMessage's rest of the message (pooled)
}

// initDeflate installs the negotiated extension on a new connection.
// Write compression starts enabled, as in gorilla.
func (c *Conn) initDeflate(cfg deflateConfig) {
	if !cfg.enabled {
		return
	}
	c.pmd = &deflateState{params: cfg.params, threshold: cfg.threshold}
	c.wr.compress.Store(true)
}

// rsvAllowed returns the RSV bits a data frame may carry: RSV1 when
// permessage-deflate was negotiated (RFC 7692 §6).
func (c *Conn) rsvAllowed() byte {
	if c.pmd != nil {
		return bitRsv1
	}
	return 0
}

// writeLevel is the flate level for the next compressed message. A client
// that limited server_max_window_bits to 8 gets Huffman-only blocks, which
// hold no back-references at all (see windowedDeflate for 9 to 14).
func (z *deflateState) writeLevel(c *Conn) int {
	if z.params.serverBits < minSegmentBits {
		return flate.HuffmanOnly
	}
	return int(c.wr.level.Load())
}

// windowed reports whether messages at level must be cut into segments to
// stay within the window the peer allows.
func (z *deflateState) windowed(level int) bool {
	return z.params.serverBits < 15 && makesReferences(level)
}

// makesReferences reports whether compress/flate at level makes
// back-references: every level but NoCompression and HuffmanOnly
// (DefaultCompression, -1, is level 6).
func makesReferences(level int) bool {
	return level != flate.NoCompression && level != flate.HuffmanOnly
}

// ---- Write side ----

var flateWriterPools [12]sync.Pool // by level + 2

func getFlateWriter(level int, dst io.Writer) *flate.Writer {
	if fw, _ := flateWriterPools[level+2].Get().(*flate.Writer); fw != nil {
		fw.Reset(dst)
		return fw
	}
	fw, _ := flate.NewWriter(dst, level) // level was checked by SetCompressionLevel
	return fw
}

func putFlateWriter(level int, fw *flate.Writer) {
	fw.Reset(nil)
	flateWriterPools[level+2].Put(fw)
}

// deflateSink receives a flate writer's output and lays it into the
// message writer's buffer, sending a frame each time the buffer fills. It
// always keeps the last four bytes back: at the end of the message they are
// the 0x00 0x00 0xff 0xff of the sync flush, which RFC 7692 §7.2.1 removes.
type deflateSink struct {
	w *messageWriter
}

func (s *deflateSink) Write(p []byte) (int, error) {
	w := s.w
	total := len(p)
	for len(p) > 0 {
		if w.n == len(w.buf) {
			var held [4]byte
			copy(held[:], w.buf[w.n-4:w.n])
			w.n -= 4
			if err := w.emitFrame(false); err != nil {
				return total - len(p), err
			}
			w.n += copy(w.buf[w.n:], held[:])
		}
		m := copy(w.buf[w.n:], p)
		w.n += m
		p = p[m:]
	}
	return total, nil
}

// emitFrame sends the buffered payload as a frame; the first frame of a
// compressed message carries RSV1. Unlike flush it leaves releasing the
// writer to the caller, which must first get out of the flate writer.
func (w *messageWriter) emitFrame(fin bool) error {
	err := w.c.writeFrame(w.c.frameInPlace(w.buf, w.n, fin, w.rsv, w.op), nil)
	w.op, w.rsv = opContinuation, 0
	w.n = writeReserve
	return err
}

// initDeflate prepares a new message writer: when compression is
// negotiated and enabled the message starts in the "lazy" state, buffering
// plain bytes until it reaches the compression threshold.
func (w *messageWriter) initDeflate() {
	w.rsv, w.deflate, w.lazy, w.fw = 0, false, false, nil
	if w.c.pmd != nil && w.c.wr.compress.Load() {
		w.lazy = true
	}
}

// threshold is the message size from which w compresses; never more than
// the buffer holds, so a lazy writer never has to send a plain frame.
func (w *messageWriter) threshold() int {
	return max(0, min(w.c.pmd.threshold, len(w.buf)-writeReserve))
}

// writeDeflate is messageWriter.Write when compression is possible.
func (w *messageWriter) writeDeflate(p []byte) (int, error) {
	if o := w.c.obs; o != nil {
		o.written += int64(len(p))
	}
	if w.lazy {
		if w.n-writeReserve+len(p) < w.threshold() {
			w.n += copy(w.buf[w.n:], p)
			return len(p), nil
		}
		if err := w.startDeflate(); err != nil {
			w.endDeflate(false)
			w.release()
			return 0, err
		}
	}
	n, err := w.compress(p)
	if err != nil {
		w.endDeflate(false)
		w.release()
	}
	return n, err
}

// startDeflate switches the message to compression, moving the plain bytes
// buffered so far through the compressor.
func (w *messageWriter) startDeflate() error {
	c := w.c
	z := c.pmd
	w.lazy, w.deflate, w.rsv = false, true, bitRsv1
	level := z.writeLevel(c)
	z.sink.w = w
	switch {
	case z.windowed(level):
		// Never with context takeover: see windowedDeflate.
		z.lw = getWindowed()
		w.fw = getFlateWriter(level, &z.lw.gate)
		z.lw.start(w.fw, &z.sink, z.params.serverBits)
	case z.params.serverNoTakeover:
		w.fw = getFlateWriter(level, &z.sink)
	default:
		if z.fw == nil || z.fwLvl != level {
			// A new compressor has no history: the peer's window still
			// holds ours, but nothing will refer to it.
			z.fw, _ = flate.NewWriter(&z.sink, level)
			z.fwLvl = level
		} else if z.resetW {
			z.fw.Reset(&z.sink)
		}
		z.resetW = false
		w.fw = z.fw
	}
	w.fwLvl = level
	pending := w.n - writeReserve
	if pending == 0 {
		return nil
	}
	class := sizeClass(pending, 0)
	tmp := getBuf(class)
	copy(*tmp, w.buf[writeReserve:w.n])
	w.n = writeReserve
	_, err := w.compress((*tmp)[:pending])
	putBuf(class, tmp)
	return err
}

// compress feeds p to the message's compressor, through the segmenter
// under a limited window.
func (w *messageWriter) compress(p []byte) (int, error) {
	if lw := w.c.pmd.lw; lw != nil {
		return lw.Write(p)
	}
	return w.fw.Write(p)
}

// endDeflate gives the flate writer of the message back: to the pool
// without takeover, to the connection with it (unless the message failed,
// in which case the history is not what the peer saw).
func (w *messageWriter) endDeflate(ok bool) {
	if w.fw == nil {
		return
	}
	z := w.c.pmd
	switch {
	case w.fw == z.fw:
		if !ok {
			z.fw = nil
		}
	case ok:
		putFlateWriter(w.fwLvl, w.fw)
	}
	w.fw = nil
	z.sink.w = nil
	if z.lw != nil {
		putWindowed(z.lw)
		z.lw = nil
	}
}

// readFromDeflate is messageWriter.ReadFrom when compression is possible.
func (w *messageWriter) readFromDeflate(r io.Reader) (int64, error) {
	class := w.c.wr.class
	bp := getBuf(class)
	defer putBuf(class, bp)
	var total int64
	for {
		n, err := r.Read(*bp)
		if n > 0 {
			if _, werr := w.writeDeflate((*bp)[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// closeDeflate is messageWriter.Close when compression is possible: a
// lazy message under the threshold goes out plain, a compressed one is
// flushed (RFC 7692 §7.2.1: sync flush, then the trailing 0x00 0x00 0xff
// 0xff removed).
func (w *messageWriter) closeDeflate() error {
	if w.lazy {
		if w.n-writeReserve < w.threshold() {
			w.lazy = false
			err := w.flush(true)
			w.release()
			return err
		}
		if err := w.startDeflate(); err != nil {
			w.endDeflate(false)
			w.release()
			return err
		}
	}
	err := w.fw.Flush()
	if err == nil {
		if w.n-writeReserve < 4 || string(w.buf[w.n-4:w.n]) != "\x00\x00\xff\xff" {
			err = errDeflateTail
		} else {
			w.n -= 4
			err = w.emitFrame(true)
		}
	}
	w.endDeflate(err == nil)
	w.release()
	return err
}

// wholeDeflateMax is the largest message writeMessageDeflate compresses
// whole into a buffer before writing it, rather than streaming it through
// the compressor.
const wholeDeflateMax = 64 << 10

// writeMessageDeflate is WriteMessage for a message to compress. Without
// context takeover (the default), a message of up to wholeDeflateMax bytes
// is compressed whole into a pooled buffer and the compressor goes back to
// its pool before the frame is written: a write blocked on a peer that
// does not read then holds the compressed bytes (a buffer of at most
// 128 KiB), not a compressor (about 1.2 MB for compress/flate). Larger
// messages, client messages (masked as they go) and messages with context
// takeover (the connection owns its compressor anyway) are streamed.
func (c *Conn) writeMessageDeflate(messageType int, data []byte) error {
	if len(data) <= wholeDeflateMax && !c.wr.client && c.pmd.params.serverNoTakeover {
		return c.writeMessageDeflateWhole(messageType, data)
	}
	w, err := c.NextWriter(messageType)
	if err != nil {
		return err
	}
	if o := c.obs; o != nil {
		o.quiet = true // WriteMessage reports this message itself
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	return w.Close()
}

func (c *Conn) writeMessageDeflateWhole(messageType int, data []byte) error {
	if err := c.acquireMsg(); err != nil {
		return err
	}
	class := sizeClass(maxHeaderSize+len(data)+64, 0)
	bufp := getBuf(class)
	// Compress behind room for the longest header, then put the header
	// right in front of the payload (as preparedFrame does).
	b := appendDeflate((*bufp)[:maxHeaderSize], data, c.pmd.writeLevel(c), c.pmd.params.serverBits)
	n := len(b) - maxHeaderSize
	start := maxHeaderSize - headerSize(n, false)
	appendHeader(b[start:start], true, bitRsv1, byte(messageType), n, false, [4]byte{})
	err := c.writeFrame(b[start:], nil)
	if cap(b) == cap(*bufp) { // not outgrown (incompressible data grows a little)
		putBuf(class, bufp)
	}
	c.wr.msgSem.release()
	return err
}

// compressMessage reports whether a data message of n bytes goes out
// compressed.
func (c *Conn) compressMessage(n int) bool {
	return c.pmd != nil && c.wr.compress.Load() && n >= c.pmd.threshold
}

// appendDeflate appends data compressed as one permessage-deflate payload
// (no history, trailing marker removed, back-references within 2^bits
// bytes) to dst.
func appendDeflate(dst, data []byte, level, bits int) []byte {
	s := appendSink{b: dst}
	if bits >= 15 || !makesReferences(level) {
		fw := getFlateWriter(level, &s)
		fw.Write(data) // appendSink never fails
		fw.Flush()
		putFlateWriter(level, fw)
		return s.b[:len(s.b)-4]
	}
	d := getWindowed()
	fw := getFlateWriter(level, &d.gate)
	d.start(fw, &s, bits)
	d.writeWhole(data) // appendSink never fails
	fw.Flush()
	putWindowed(d)
	putFlateWriter(level, fw)
	return s.b[:len(s.b)-4]
}

type appendSink struct{ b []byte }

func (s *appendSink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// preparedFrame returns the frame of pm to send on c: compressed when the
// connection compresses a message of that size, built once per flate level
// and shared by every connection. The caller holds the message slot.
func (c *Conn) preparedFrame(pm *PreparedMessage) []byte {
	if !c.compressMessage(len(pm.data)) {
		return pm.plain
	}
	z := c.pmd
	if !z.params.serverNoTakeover {
		// The peer's window now holds pm's data, which our compressor's
		// history lacks: start the next message afresh.
		z.resetW = true
	}
	level := z.writeLevel(c)
	if z.windowed(level) {
		// A frame made for a small window is valid for every larger one,
		// but poorer; one made for 32 KiB is invalid here. Rare enough
		// (a client that limits server_max_window_bits) to compress for
		// this connection alone.
		return deflatedFrame(pm.messageType, pm.data, level, z.params.serverBits)
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if f := pm.deflated[level+2]; f != nil {
		return f
	}
	f := deflatedFrame(pm.messageType, pm.data, level, 15)
	pm.deflated[level+2] = f
	return f
}

// deflatedFrame returns a new unmasked frame holding data compressed.
func deflatedFrame(messageType int, data []byte, level, bits int) []byte {
	// Compress behind room for the longest header, then put the header
	// right in front of the payload.
	b := appendDeflate(make([]byte, maxHeaderSize, maxHeaderSize+64+len(data)/2), data, level, bits)
	n := len(b) - maxHeaderSize
	start := maxHeaderSize - headerSize(n, false)
	appendHeader(b[start:start], true, bitRsv1, byte(messageType), n, false, [4]byte{})
	return b[start:]
}

// negotiateCompression answers the client's Sec-WebSocket-Extensions
// header lines when compression is enabled. It returns the connection's
// configuration and the response's extension list ("" for none). takeover
// is u.CompressionContextTakeover unless the Upgrader's
// CompressionContextTakeoverLimit is reached (upgrader.go).
func (u *Upgrader) negotiateCompression(offers []string, takeover bool) (deflateConfig, string) {
	if !u.EnableCompression {
		return deflateConfig{}, ""
	}
	p, answer, ok := negotiateDeflate(offers, takeover)
	if !ok {
		return deflateConfig{}, ""
	}
	threshold := u.CompressionThreshold
	switch {
	case threshold == 0:
		threshold = DefaultCompressionThreshold
	case threshold < 0:
		threshold = 0
	}
	return deflateConfig{enabled: true, params: p, threshold: threshold}, answer
}
