//go:build !amd64 || purego

package websocket

// mask XORs b in place with the masking key from key position pos and
// returns the next key position; see maskGo. Without assembly (other
// architectures, or the purego build tag) the portable Go path is all.
func mask(key [4]byte, pos int, b []byte) int { return maskGo(key, pos, b) }
