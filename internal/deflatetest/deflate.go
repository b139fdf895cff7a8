package deflatetest

import (
	"errors"
	"fmt"
)

// A small DEFLATE (RFC 1951) codec, written for checking rather than
// speed: Encode makes one fixed-Huffman block whose back-references reach
// exactly as far as a given window (which compress/flate cannot do), and
// Decode is a bit-at-a-time decoder in the manner of zlib's puff.c that
// refuses any distance beyond a given window.

var (
	lengthBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// ---- encoder ----

type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

// bits writes the low n bits of v, least significant first.
func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

// code writes a Huffman code of n bits, most significant bit first.
func (w *bitWriter) code(c uint64, n uint) {
	var r uint64
	for i := uint(0); i < n; i++ {
		r = r<<1 | c>>i&1
	}
	w.bits(r, n)
}

func (w *bitWriter) align() {
	if w.nacc > 0 {
		w.bits(0, 8-w.nacc)
	}
}

// fixedLitLen writes literal/length symbol s with the fixed code of
// RFC 1951 §3.2.6.
func (w *bitWriter) fixedLitLen(s int) {
	switch {
	case s < 144:
		w.code(uint64(0x30+s), 8)
	case s < 256:
		w.code(uint64(0x190+s-144), 9)
	case s < 280:
		w.code(uint64(s-256), 7)
	default:
		w.code(uint64(0xc0+s-280), 8)
	}
}

// Encode compresses msg as one permessage-deflate payload: a fixed-Huffman
// block, then a sync flush whose trailing 0x00 0x00 0xff 0xff is removed
// (RFC 7692 §7.2.1). Matches may refer into hist (the peer's window of
// earlier messages) and reach back at most window bytes.
func Encode(hist, msg []byte, window int) []byte {
	buf := append(append([]byte(nil), hist...), msg...)
	start := len(hist)
	head := make(map[uint32]int)
	prev := make([]int, len(buf))
	hash := func(i int) uint32 { return uint32(buf[i]) | uint32(buf[i+1])<<8 | uint32(buf[i+2])<<16 }
	insert := func(i int) {
		if i+2 < len(buf) {
			h := hash(i)
			if p, ok := head[h]; ok {
				prev[i] = p
			} else {
				prev[i] = -1
			}
			head[h] = i
		}
	}
	for i := 0; i < start; i++ {
		insert(i)
	}
	var w bitWriter
	w.bits(0, 1) // BFINAL 0
	w.bits(1, 2) // BTYPE 01, fixed codes
	for i := start; i < len(buf); {
		bestLen, bestDist := 0, 0
		if i+2 < len(buf) {
			p, ok := head[hash(i)]
			for chain := 0; ok && p >= 0 && i-p <= window && chain < 64; chain++ {
				n := 0
				for n < 258 && i+n < len(buf) && buf[p+n] == buf[i+n] {
					n++
				}
				if n > bestLen {
					bestLen, bestDist = n, i-p
				}
				p = prev[p]
			}
		}
		if bestLen < 3 {
			w.fixedLitLen(int(buf[i]))
			insert(i)
			i++
			continue
		}
		s := 28
		for lengthBase[s] > bestLen {
			s--
		}
		w.fixedLitLen(257 + s)
		w.bits(uint64(bestLen-lengthBase[s]), lengthExtra[s])
		d := 29
		for distBase[d] > bestDist {
			d--
		}
		w.code(uint64(d), 5)
		w.bits(uint64(bestDist-distBase[d]), distExtra[d])
		for j := 0; j < bestLen; j++ {
			insert(i + j)
		}
		i += bestLen
	}
	w.fixedLitLen(256) // end of block
	w.bits(0, 3)       // the sync flush's empty stored block header
	w.align()
	return w.out // 0x00 0x00 0xff 0xff left out
}

// ---- decoder ----

type bitReader struct {
	in   []byte
	pos  int
	acc  uint32
	nacc uint
}

var errShort = errors.New("deflate: input ends inside a block")

func (r *bitReader) bits(n uint) (int, error) {
	for r.nacc < n {
		if r.pos == len(r.in) {
			return 0, errShort
		}
		r.acc |= uint32(r.in[r.pos]) << r.nacc
		r.pos++
		r.nacc += 8
	}
	v := int(r.acc & (1<<n - 1))
	r.acc >>= n
	r.nacc -= n
	return v, nil
}

type huffman struct {
	count  [16]int
	symbol []int
}

// newHuffman builds a canonical decoding table from code lengths; an
// over-subscribed set is an error.
func newHuffman(lengths []int) (*huffman, error) {
	h := &huffman{symbol: make([]int, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - h.count[l]
		if left < 0 {
			return nil, errors.New("deflate: over-subscribed code")
		}
	}
	var offs [16]int
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for s, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = s
			offs[l]++
		}
	}
	return h, nil
}

func (r *bitReader) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := r.bits(1)
		if err != nil {
			return 0, err
		}
		code |= b
		count := h.count[l]
		if code-count < first {
			return h.symbol[index+(code-first)], nil
		}
		index += count
		first += count
		first <<= 1
		code <<= 1
	}
	return 0, errors.New("deflate: invalid Huffman code")
}

var fixedLit, fixedDist *huffman

func init() {
	var l [288]int
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	fixedLit, _ = newHuffman(l[:])
	var d [30]int
	for i := range d {
		d[i] = 5
	}
	fixedDist, _ = newHuffman(d[:])
}

// Decode inflates a permessage-deflate message with its 0x00 0x00 0xff
// 0xff restored, block by block until the input ends on a block boundary.
// hist is the window of earlier messages; a back-reference further than
// window bytes, or beyond hist, is an error.
func Decode(hist, in []byte, window int) ([]byte, error) {
	r := &bitReader{in: in}
	out := append([]byte(nil), hist...)
	base := len(hist)
	for r.pos < len(in) {
		final, err := r.bits(1)
		if err != nil {
			return nil, err
		}
		typ, err := r.bits(2)
		if err != nil {
			return nil, err
		}
		switch typ {
		case 0:
			r.acc, r.nacc = 0, 0 // to the byte boundary
			if r.pos+4 > len(in) {
				return nil, errShort
			}
			n := int(in[r.pos]) | int(in[r.pos+1])<<8
			if n != ^(int(in[r.pos+2])|int(in[r.pos+3])<<8)&0xffff {
				return nil, errors.New("deflate: stored length mismatch")
			}
			r.pos += 4
			if r.pos+n > len(in) {
				return nil, errShort
			}
			out = append(out, in[r.pos:r.pos+n]...)
			r.pos += n
		case 1:
			if out, err = r.codes(out, base, fixedLit, fixedDist, window); err != nil {
				return nil, err
			}
		case 2:
			lit, dist, err := r.dynamic()
			if err != nil {
				return nil, err
			}
			if out, err = r.codes(out, base, lit, dist, window); err != nil {
				return nil, err
			}
		default:
			return nil, errors.New("deflate: reserved block type")
		}
		if final == 1 {
			return nil, errors.New("deflate: BFINAL block in a server message")
		}
	}
	return out[base:], nil
}

func (r *bitReader) dynamic() (*huffman, *huffman, error) {
	nlen, err := r.bits(5)
	if err != nil {
		return nil, nil, err
	}
	ndist, err := r.bits(5)
	if err != nil {
		return nil, nil, err
	}
	ncode, err := r.bits(4)
	if err != nil {
		return nil, nil, err
	}
	nlen, ndist, ncode = nlen+257, ndist+1, ncode+4
	if nlen > 286 || ndist > 30 {
		return nil, nil, errors.New("deflate: bad counts")
	}
	order := [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
	var cl [19]int
	for i := 0; i < ncode; i++ {
		if cl[order[i]], err = r.bits(3); err != nil {
			return nil, nil, err
		}
	}
	lencode, err := newHuffman(cl[:])
	if err != nil {
		return nil, nil, err
	}
	lengths := make([]int, nlen+ndist)
	for i := 0; i < len(lengths); {
		s, err := r.decode(lencode)
		if err != nil {
			return nil, nil, err
		}
		if s < 16 {
			lengths[i] = s
			i++
			continue
		}
		val, rep := 0, 0
		switch s {
		case 16:
			if i == 0 {
				return nil, nil, errors.New("deflate: repeat with no first length")
			}
			val = lengths[i-1]
			rep, err = r.bits(2)
			rep += 3
		case 17:
			rep, err = r.bits(3)
			rep += 3
		default:
			rep, err = r.bits(7)
			rep += 11
		}
		if err != nil {
			return nil, nil, err
		}
		if i+rep > len(lengths) {
			return nil, nil, errors.New("deflate: too many lengths")
		}
		for ; rep > 0; rep-- {
			lengths[i] = val
			i++
		}
	}
	lit, err := newHuffman(lengths[:nlen])
	if err != nil {
		return nil, nil, err
	}
	dist, err := newHuffman(lengths[nlen:])
	return lit, dist, err
}

func (r *bitReader) codes(out []byte, base int, lit, dist *huffman, window int) ([]byte, error) {
	for {
		s, err := r.decode(lit)
		if err != nil {
			return nil, err
		}
		switch {
		case s < 256:
			out = append(out, byte(s))
			continue
		case s == 256:
			return out, nil
		case s > 285:
			return nil, errors.New("deflate: bad length symbol")
		}
		s -= 257
		extra, err := r.bits(lengthExtra[s])
		if err != nil {
			return nil, err
		}
		n := lengthBase[s] + extra
		ds, err := r.decode(dist)
		if err != nil {
			return nil, err
		}
		if ds > 29 {
			return nil, errors.New("deflate: bad distance symbol")
		}
		extra, err = r.bits(distExtra[ds])
		if err != nil {
			return nil, err
		}
		d := distBase[ds] + extra
		if d > window {
			return nil, fmt.Errorf("deflate: distance %d beyond the %d-byte window", d, window)
		}
		if d > len(out) {
			return nil, fmt.Errorf("deflate: distance %d beyond the %d bytes of history", d, len(out))
		}
		for i := 0; i < n; i++ {
			out = append(out, out[len(out)-d])
		}
	}
}
