package websocket

import "encoding/binary"

// maskGo XORs b in place with the masking key (RFC 6455 §5.3), starting at
// key position pos (0–3), and returns the key position that follows b, so
// that a payload can be unmasked in pieces as it streams in.
//
// It works a 64-bit word at a time, four words per iteration, with the key
// rotated to pos and repeated across the word; only the last few bytes go
// one by one. Masking is its own inverse.
func maskGo(key [4]byte, pos int, b []byte) int {
	n := len(b)
	if n == 0 {
		return pos & 3
	}
	pos &= 3
	// The key stream from pos onwards, as a little-endian word, so that
	// byte i of a word is XORed with key[(pos+i)%4].
	k32 := uint32(key[pos]) | uint32(key[(pos+1)&3])<<8 |
		uint32(key[(pos+2)&3])<<16 | uint32(key[(pos+3)&3])<<24
	k64 := uint64(k32) | uint64(k32)<<32

	for len(b) >= 32 {
		w := b[:32:32]
		binary.LittleEndian.PutUint64(w[0:], binary.LittleEndian.Uint64(w[0:])^k64)
		binary.LittleEndian.PutUint64(w[8:], binary.LittleEndian.Uint64(w[8:])^k64)
		binary.LittleEndian.PutUint64(w[16:], binary.LittleEndian.Uint64(w[16:])^k64)
		binary.LittleEndian.PutUint64(w[24:], binary.LittleEndian.Uint64(w[24:])^k64)
		b = b[32:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
		b = b[8:]
	}
	// Whole words do not move the key position; the tail starts at pos.
	for i := range b {
		b[i] ^= byte(k64 >> (8 * uint(i)))
	}
	return (pos + n) & 3
}
