package websocket

import "unicode/utf8"

// utf8Validator checks a text message for well-formed UTF-8 as it arrives
// in pieces of any size (RFC 6455 §8.1: fail the connection as soon as the
// bytes cannot begin a valid sequence). It remembers at most three bytes
// of a sequence that a piece cut in two.
//
// The zero value is ready for a new message.
type utf8Validator struct {
	pend [4]byte // the start of an incomplete sequence
	n    uint8   // bytes in pend (at most 3); a byte, so Conn stays small
}

// seqLen returns the length of the sequence that lead byte b starts, or 0
// when b cannot start one (a continuation byte, C0, C1 or F5–FF).
func seqLen(b byte) int {
	switch {
	case b < 0x80:
		return 1
	case b < 0xC2:
		return 0
	case b < 0xE0:
		return 2
	case b < 0xF0:
		return 3
	case b < 0xF5:
		return 4
	}
	return 0
}

// secondByteOK reports whether c may follow lead byte b (Unicode Table 3-7:
// no overlong forms, no surrogates, nothing above U+10FFFF).
func secondByteOK(b, c byte) bool {
	switch b {
	case 0xE0:
		return c >= 0xA0 && c <= 0xBF
	case 0xED:
		return c >= 0x80 && c <= 0x9F
	case 0xF0:
		return c >= 0x90 && c <= 0xBF
	case 0xF4:
		return c >= 0x80 && c <= 0x8F
	}
	return c >= 0x80 && c <= 0xBF
}

// validPrefix reports whether p, shorter than the sequence its first byte
// announces, can still be completed into a valid sequence.
func validPrefix(p []byte) bool {
	if len(p) == 0 || seqLen(p[0]) <= len(p) {
		return false
	}
	if len(p) >= 2 && !secondByteOK(p[0], p[1]) {
		return false
	}
	for _, c := range p[min(len(p), 2):] {
		if c < 0x80 || c > 0xBF {
			return false
		}
	}
	return true
}

// feed validates the next piece of the message. It returns false as soon
// as the bytes seen so far cannot be the start of valid UTF-8.
func (v *utf8Validator) feed(p []byte) bool {
	if v.n > 0 {
		need := seqLen(v.pend[0]) - int(v.n)
		take := min(need, len(p))
		copy(v.pend[v.n:], p[:take])
		v.n += uint8(take)
		p = p[take:]
		if take < need {
			return validPrefix(v.pend[:v.n])
		}
		if !utf8.Valid(v.pend[:v.n]) {
			return false
		}
		v.n = 0
	}
	// Find where the last sequence of p starts; if it is cut short, keep
	// it for the next piece and check that it is a valid beginning.
	tail := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-4; i-- {
		if c := p[i]; c < 0x80 || c >= 0xC0 {
			if c >= 0xC0 && len(p)-i < seqLen(c) {
				tail = i
			}
			break
		}
	}
	if !utf8.Valid(p[:tail]) {
		return false
	}
	if tail < len(p) {
		if !validPrefix(p[tail:]) {
			return false
		}
		v.n = uint8(copy(v.pend[:], p[tail:]))
	}
	return true
}

// done reports whether the message ended on a sequence boundary, and
// resets the validator for the next message.
func (v *utf8Validator) done() bool {
	ok := v.n == 0
	v.n = 0
	return ok
}
