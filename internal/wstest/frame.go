package wstest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
)

// Opcodes (RFC 6455 §5.2). Values 3-7 and 0xB-0xF are reserved; tests send
// them on purpose.
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// Reserved header bits for [Frame.Rsv] (RFC 6455 §5.2): RSV1 is the frame's
// bit 6 of byte 0, RSV3 its bit 4.
const (
	Rsv1 uint8 = 4
	Rsv2 uint8 = 2
	Rsv3 uint8 = 1
)

// LenEncoding is the wire form of a frame's payload length (RFC 6455 §5.2).
type LenEncoding int

const (
	LenMinimal LenEncoding = iota // the smallest form that fits (RFC 6455 requires it)
	Len7                          // length in the 7-bit field
	Len16                         // 126 followed by a 16-bit length
	Len64                         // 127 followed by a 64-bit length
)

func (e LenEncoding) String() string {
	switch e {
	case LenMinimal:
		return "minimal"
	case Len7:
		return "7-bit"
	case Len16:
		return "16-bit"
	case Len64:
		return "64-bit"
	}
	return fmt.Sprintf("LenEncoding(%d)", int(e))
}

// Frame is one RFC 6455 frame as it goes on the wire. Payload is always the
// unmasked application data; masking happens while encoding.
//
// The zero value is an unmasked continuation frame with FIN clear: set every
// field a test depends on, or start from [Msg] or [Frag].
type Frame struct {
	Fin     bool
	Rsv     uint8 // 3 bits: Rsv1|Rsv2|Rsv3
	Opcode  byte  // 4 bits, not checked: reserved values go out as given
	Masked  bool
	Key     [4]byte // masking key, used when Masked
	Payload []byte

	// LenEncoding forces the length form when writing (it may be non-minimal,
	// or too small for the payload, which corrupts the frame on purpose). When
	// reading it reports the form the peer used.
	LenEncoding LenEncoding
	// LenOverride, when not nil, is written as the payload length instead of
	// len(Payload): a lie the peer has to cope with. Ignored when reading.
	LenOverride *uint64
}

// Uint64 returns a pointer to n, for [Frame.LenOverride].
func Uint64(n uint64) *uint64 { return &n }

// Msg returns a final (FIN set), masked frame with a random key: what a
// well-behaved client sends for a whole message or a control frame.
func Msg(op byte, payload []byte) Frame { return Frag(op, true, payload) }

// Frag returns a masked frame with a random key and the given FIN bit, for
// building fragmented messages: Frag(OpText, false, a), Frag(OpContinuation,
// true, b).
func Frag(op byte, fin bool, payload []byte) Frame {
	return Frame{Fin: fin, Opcode: op, Masked: true, Key: NewMaskKey(), Payload: payload}
}

// NewMaskKey returns a random, non-zero masking key.
func NewMaskKey() [4]byte {
	for {
		v := rand.Uint32()
		if v != 0 {
			var k [4]byte
			binary.BigEndian.PutUint32(k[:], v)
			return k
		}
	}
}

// CloseBody returns a close frame payload: the 2-byte big-endian code
// followed by reason (RFC 6455 §5.5.1). The reason is not checked, so tests can
// send invalid UTF-8 or over-long reasons.
func CloseBody(code uint16, reason string) []byte {
	b := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), code)
	return append(b, reason...)
}

// IsControl reports whether op is a control opcode (high bit set).
func IsControl(op byte) bool { return op&0x8 != 0 }

// AppendFrame appends the wire encoding of f to b and returns the result. The
// payload is copied and masked when f.Masked; f.Payload is not modified.
func AppendFrame(b []byte, f Frame) []byte {
	b0 := f.Opcode & 0x0F
	if f.Fin {
		b0 |= 0x80
	}
	b0 |= (f.Rsv & 0x7) << 4
	b = append(b, b0)

	n := uint64(len(f.Payload))
	if f.LenOverride != nil {
		n = *f.LenOverride
	}
	enc := f.LenEncoding
	if enc == LenMinimal {
		switch {
		case n <= 125:
			enc = Len7
		case n <= 0xFFFF:
			enc = Len16
		default:
			enc = Len64
		}
	}
	var maskBit byte
	if f.Masked {
		maskBit = 0x80
	}
	switch enc {
	case Len7:
		b = append(b, maskBit|byte(n&0x7F))
	case Len16:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, n)
	}
	if f.Masked {
		b = append(b, f.Key[:]...)
	}
	start := len(b)
	b = append(b, f.Payload...)
	if f.Masked {
		mask(f.Key, 0, b[start:])
	}
	return b
}

// mask XORs b with key, starting at key position pos (0-3), and returns the
// position for the next byte (RFC 6455 §5.3). A plain byte loop on purpose:
// it is the reference the library's word-at-a-time version is checked against.
func mask(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[pos&3]
		pos++
	}
	return pos & 3
}

// MaxReadPayload caps the payload length [ReadFrame] accepts, so a corrupt
// header cannot make a test allocate gigabytes.
const MaxReadPayload = 64 << 20

// errFrameTooBig is returned by readFrame for lengths over MaxReadPayload.
var errFrameTooBig = errors.New("wstest: frame payload over MaxReadPayload")

// ReadFrameFrom reads one frame from r, for tests that hold the raw
// socket rather than a Client; see readFrame.
func ReadFrameFrom(r io.Reader) (Frame, error) { return readFrame(r) }

// readFrame reads one frame from r. It unmasks a masked payload and records
// the length form in LenEncoding. It does not judge the frame: callers check
// RSV, opcode and lengths themselves.
func readFrame(r io.Reader) (Frame, error) {
	var f Frame
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return f, err
	}
	f.Fin = h[0]&0x80 != 0
	f.Rsv = (h[0] >> 4) & 0x7
	f.Opcode = h[0] & 0x0F
	f.Masked = h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	f.LenEncoding = Len7
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return f, noEOF(err)
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
		f.LenEncoding = Len16
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return f, noEOF(err)
		}
		n = binary.BigEndian.Uint64(ext[:])
		f.LenEncoding = Len64
	}
	if f.Masked {
		if _, err := io.ReadFull(r, f.Key[:]); err != nil {
			return f, noEOF(err)
		}
	}
	if n > MaxReadPayload {
		return f, fmt.Errorf("%w: length %d", errFrameTooBig, n)
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return f, noEOF(err)
	}
	if f.Masked {
		mask(f.Key, 0, f.Payload)
	}
	return f, nil
}

// ParseFrame decodes the first frame in b and returns it with the number of
// bytes it used. It fails with io.ErrUnexpectedEOF when b holds only part of a
// frame.
func ParseFrame(b []byte) (Frame, int, error) {
	r := &countReader{b: b}
	f, err := readFrame(r)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return f, r.n, err
}

type countReader struct {
	b []byte
	n int
}

func (r *countReader) Read(p []byte) (int, error) {
	if r.n >= len(r.b) {
		return 0, io.EOF
	}
	k := copy(p, r.b[r.n:])
	r.n += k
	return k, nil
}

// noEOF turns an io.EOF met inside a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// minimalEncoding returns the length form RFC 6455 §5.2 requires for n.
func minimalEncoding(n int) LenEncoding {
	switch {
	case n <= 125:
		return Len7
	case n <= 0xFFFF:
		return Len16
	}
	return Len64
}

// String describes f briefly, for test failures: opcode, flags, length and
// the first bytes of the payload.
func (f Frame) String() string {
	const show = 32
	p := f.Payload
	more := ""
	if len(p) > show {
		p, more = p[:show], "..."
	}
	return fmt.Sprintf("{fin=%t rsv=%03b op=%#x masked=%t len=%d payload=%q%s}",
		f.Fin, f.Rsv, f.Opcode, f.Masked, len(f.Payload), p, more)
}
