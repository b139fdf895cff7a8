package websocket

import (
	"crypto/rand"
	"encoding/binary"
)

// Opcodes (RFC 6455 §5.2). The data and control opcodes double as the
// exported message types.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Bits of the first header byte (RFC 6455 §5.2).
const (
	bitFin  = 0x80
	bitRsv1 = 0x40
	bitRsv2 = 0x20
	bitRsv3 = 0x10
	bitMask = 0x80 // in the second byte
)

// maxHeaderSize is the longest frame header: 2 bytes, a 64-bit length and
// a masking key.
const maxHeaderSize = 2 + 8 + 4

// header is a decoded frame header.
type header struct {
	fin    bool
	rsv    byte // the RSV1..RSV3 bits, in place (bitRsv1|bitRsv2|bitRsv3)
	op     byte
	masked bool
	key    [4]byte
	length int64
}

func isControl(op byte) bool { return op&0x8 != 0 }

// parseHeader decodes the frame header at the start of b. It returns the
// header and the number of bytes it occupies, or n == 0 (and no error)
// when b does not yet hold the whole header; the caller then reads more
// and calls again. It allocates nothing.
//
// It rejects what the wire encoding itself forbids (RFC 6455 §5.2): a
// 64-bit length with its most significant bit set and lengths not in their
// minimal encoding. Rules that depend on the connection's state are in
// [header.check].
func parseHeader(b []byte) (h header, n int, err *ProtocolError) {
	if len(b) < 2 {
		return h, 0, nil
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&bitFin != 0
	h.rsv = b0 & (bitRsv1 | bitRsv2 | bitRsv3)
	h.op = b0 & 0x0F
	h.masked = b1&bitMask != 0
	n = 2
	switch l := b1 & 0x7F; l {
	case 126:
		if len(b) < 4 {
			return h, 0, nil
		}
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
		n = 4
		if h.length < 126 {
			return h, 0, protocolError(CloseProtocolError, "16-bit length used for a payload under 126 bytes")
		}
	case 127:
		if len(b) < 10 {
			return h, 0, nil
		}
		u := binary.BigEndian.Uint64(b[2:])
		n = 10
		if u>>63 != 0 {
			return h, 0, protocolError(CloseProtocolError, "64-bit payload length has its most significant bit set")
		}
		if u <= 0xFFFF {
			return h, 0, protocolError(CloseProtocolError, "64-bit length used for a payload under 65536 bytes")
		}
		h.length = int64(u)
	default:
		h.length = int64(l)
	}
	if h.masked {
		if len(b) < n+4 {
			return h, 0, nil
		}
		copy(h.key[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// check applies the rules of RFC 6455 §5 that do not depend on the
// message in progress: RSV bits only where an extension defined them
// (rsvAllowed, checked for data frames only; §5.2), no reserved opcodes,
// control frames final and at most 125 bytes (§5.5), and frames from a
// client masked (§5.1). needMask is true on a server.
func (h *header) check(needMask bool, rsvAllowed byte) *ProtocolError {
	switch h.op {
	case opContinuation, opText, opBinary:
		if h.rsv&^rsvAllowed != 0 {
			return protocolError(CloseProtocolError, "reserved bits set without a negotiated extension")
		}
	case opClose, opPing, opPong:
		if h.rsv != 0 {
			return protocolError(CloseProtocolError, "reserved bits set on a control frame")
		}
		if !h.fin {
			return protocolError(CloseProtocolError, "fragmented control frame")
		}
		if h.length > maxControlPayload {
			return protocolError(CloseProtocolError, "control frame payload over 125 bytes")
		}
	default:
		return protocolError(CloseProtocolError, "reserved opcode")
	}
	if h.masked != needMask {
		if needMask {
			return protocolError(CloseProtocolError, "client frame not masked")
		}
		return protocolError(CloseProtocolError, "server frame masked")
	}
	return nil
}

// appendHeader appends a frame header for a payload of length bytes. A
// masked header carries key (the client side, RFC 6455 §5.3); a server
// never masks.
func appendHeader(dst []byte, fin bool, rsv, op byte, length int, masked bool, key [4]byte) []byte {
	b0 := rsv | op
	if fin {
		b0 |= bitFin
	}
	var mb byte
	if masked {
		mb = bitMask
	}
	switch {
	case length < 126:
		dst = append(dst, b0, mb|byte(length))
	case length <= 0xFFFF:
		dst = append(dst, b0, mb|126, byte(length>>8), byte(length))
	default:
		dst = append(dst, b0, mb|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(length))
	}
	if masked {
		dst = append(dst, key[:]...)
	}
	return dst
}

// headerSize returns the size of the header appendHeader writes.
func headerSize(length int, masked bool) int {
	n := 2
	switch {
	case length < 126:
	case length <= 0xFFFF:
		n += 2
	default:
		n += 8
	}
	if masked {
		n += 4
	}
	return n
}

// parseClosePayload decodes a close frame payload (RFC 6455 §5.5.1): an
// empty payload means no status (1005); otherwise a valid status code
// (§7.4) and a UTF-8 reason (§8.1).
func parseClosePayload(p []byte) (code int, text string, err *ProtocolError) {
	switch len(p) {
	case 0:
		return CloseNoStatusReceived, "", nil
	case 1:
		return 0, "", protocolError(CloseProtocolError, "close payload of 1 byte")
	}
	code = int(binary.BigEndian.Uint16(p))
	if !validCloseCode(code) {
		return 0, "", protocolError(CloseProtocolError, "invalid close code")
	}
	var v utf8Validator
	if !v.feed(p[2:]) || !v.done() {
		return 0, "", protocolError(CloseInvalidFramePayloadData, "invalid UTF-8 in close reason")
	}
	return code, string(p[2:]), nil
}

func protocolError(code int, reason string) *ProtocolError {
	return &ProtocolError{Code: code, Reason: reason}
}

// newMaskKey returns a fresh masking key from crypto/rand, as RFC 6455
// §5.3 requires of a client for every frame.
func newMaskKey() (key [4]byte) {
	rand.Read(key[:])
	return key
}
