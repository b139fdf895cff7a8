package websocket

import (
	"compress/flate"
	"io"
	"sync"
)

// Small windows (RFC 7692 §7.1.2).
//
// compress/flate always looks back up to 32 KiB, and has no window
// setting. A peer that limits our window (server_max_window_bits offered
// by a client, client_max_window_bits answered to our Dialer; RFC 7692
// §7.1.2) can only inflate back-references that reach no further than
// 2^bits bytes (RFC 1951 §3.2.5: a distance counts bytes back from the
// byte being produced). windowedDeflate keeps compress/flate within such a
// window by cutting the input into segments:
//
//   - each segment starts with a fresh compressor (Reset) primed with the
//     last D = W/4 bytes of the input before it: those are compressed
//     into a sink that discards them, then flushed, so they are in the
//     compressor's history but not in the output;
//   - each segment holds at most K = W - D input bytes, and ends with a
//     sync flush (an empty stored block, RFC 1951 §3.2.4), so the next one
//     starts on a byte boundary.
//
// A back-reference made while compressing byte i of a segment (0 <= i < K)
// reaches at most the first primed byte, D + i <= D + K - 1 = W - 1 bytes
// back. The peer's inflater holds those D bytes at the same distance: they
// are the last D bytes of the message it has inflated so far. Each message
// starts with an empty history, since the server declines context takeover
// for a limited window (acceptDeflateOffer) and the Dialer never offers it.
//
// Measured on 1 MiB at level 1 (go test -run TestCompress_smallWindow_ratio
// -v): repetitive text costs 6.6 KB with the full window, 66 KB at 9 bits,
// 14 KB at 12, 8.5 KB at 14, against 578 KB Huffman-only; JSON lines with
// random numbers 274 KB with the full window, 425 KB at 9 bits, 279 KB at
// 12, against 603 KB. Priming costs a second pass over D bytes per segment
// and two flate blocks instead of one (BenchmarkCompressWindow); restarting
// cold (D = 0) is cheaper in CPU but doubles the size of repetitive text at
// 9 bits, and D = W/2 compresses worse than W/4. Levels 2 to 9 clear
// 640 KB of hash tables at every Reset, so they cost much more CPU than
// level 1 at small windows. At 8 bits (W = 256) the blocks' headers eat
// most of the gain, so such messages stay Huffman-only.
type windowedDeflate struct {
	fw     *flate.Writer
	gate   gateSink
	seg    int     // K: input bytes per segment
	histSz int     // D: bytes primed into each new segment
	n      int     // input bytes in the current segment
	hist   []byte  // streaming: the last D input bytes
	histp  *[]byte // hist's pooled buffer
}

// minSegmentBits is the smallest window cut into segments (see above).
const minSegmentBits = 9

// gateSink passes a compressor's output on to dst, or drops it while off.
type gateSink struct {
	dst io.Writer
	off bool
}

func (g *gateSink) Write(p []byte) (int, error) {
	if g.off {
		return len(p), nil
	}
	return g.dst.Write(p)
}

// start begins a message compressed by fw (already Reset to &d.gate) into
// dst within a window of 2^bits bytes.
func (d *windowedDeflate) start(fw *flate.Writer, dst io.Writer, bits int) {
	w := 1 << bits
	d.fw, d.gate.dst, d.gate.off = fw, dst, false
	d.histSz = w / 4
	d.seg = w - d.histSz
	d.n = 0
}

var windowedPool sync.Pool

// getWindowed returns a segmenter from the pool, for one message: an idle
// connection holds none.
func getWindowed() *windowedDeflate {
	if d, _ := windowedPool.Get().(*windowedDeflate); d != nil {
		return d
	}
	return new(windowedDeflate)
}

// putWindowed finishes d and returns it to the pool.
func putWindowed(d *windowedDeflate) {
	d.finish()
	windowedPool.Put(d)
}

// finish forgets the compressor, which goes back to its owner, and gives
// the history buffer back to its pool.
func (d *windowedDeflate) finish() {
	d.fw, d.gate.dst = nil, nil
	if d.histp != nil {
		putBuf(sizeClass(cap(*d.histp), 0), d.histp)
		d.histp, d.hist = nil, nil
	}
}

// Write compresses p, a piece of a streamed message, starting a new
// segment every K bytes.
func (d *windowedDeflate) Write(p []byte) (int, error) {
	if d.histp == nil {
		d.histp = getBuf(sizeClass(d.histSz, 0))
		d.hist = (*d.histp)[:0]
	}
	total := len(p)
	for len(p) > 0 {
		if d.n == d.seg {
			if err := d.restart(d.hist); err != nil {
				return total - len(p), err
			}
		}
		m := min(len(p), d.seg-d.n)
		if _, err := d.fw.Write(p[:m]); err != nil {
			return total - len(p), err
		}
		d.remember(p[:m])
		d.n += m
		p = p[m:]
	}
	return total, nil
}

// writeWhole compresses a whole message, priming each segment straight
// from data.
func (d *windowedDeflate) writeWhole(data []byte) error {
	for off := 0; off < len(data); off += d.seg {
		if off > 0 {
			if err := d.restart(data[off-d.histSz : off]); err != nil {
				return err
			}
		}
		if _, err := d.fw.Write(data[off:min(off+d.seg, len(data))]); err != nil {
			return err
		}
	}
	return nil
}

// restart ends the segment with a sync flush and primes a fresh
// compressor with prime (the D bytes before the next segment), whose
// output is dropped.
func (d *windowedDeflate) restart(prime []byte) error {
	if err := d.fw.Flush(); err != nil {
		return err
	}
	d.gate.off = true
	d.fw.Reset(&d.gate)
	d.fw.Write(prime) // into the gate: cannot fail
	d.fw.Flush()
	d.gate.off = false
	d.n = 0
	return nil
}

// remember keeps the last D bytes of the input in d.hist.
func (d *windowedDeflate) remember(p []byte) {
	if len(p) >= d.histSz {
		d.hist = append(d.hist[:0], p[len(p)-d.histSz:]...)
		return
	}
	if over := len(d.hist) + len(p) - d.histSz; over > 0 {
		d.hist = d.hist[:copy(d.hist, d.hist[over:])]
	}
	d.hist = append(d.hist, p...)
}
