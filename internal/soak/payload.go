package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
)

// A soak message carries its own check: 8 hex digits of a per-connection
// sequence number, 8 hex digits of the CRC-32 of the body, then the body.
// The header is ASCII and text bodies are ASCII, so every message is valid
// UTF-8 and fits a hixie-76 text frame. The server checks each message it
// reads (sequence and checksum); the client compares each echo byte for
// byte with what it sent, in order.
const headerLen = 16

// closeRequest is the text message asking the server to start the closing
// handshake; it is shorter than any soak message.
const closeRequest = "CLOSE"

var words = []string{"soak", "frame", "message", "websocket", "deflate", "hixie", "lorem", "ipsum", "echo", "ping", "sequence", "checksum", "server", "client", " ", ", ", ".\n"}

// messageSize draws a size between minSize and maxSize, log-uniformly, so
// that small messages are as common as large ones per order of magnitude.
func messageSize(rng *rand.Rand, minSize, maxSize int) int {
	if maxSize <= minSize {
		return minSize
	}
	f := math.Log2(float64(maxSize) / float64(minSize))
	n := int(float64(minSize) * math.Exp2(rng.Float64()*f))
	return min(max(n, minSize), maxSize)
}

// makeMessage builds message seq of n bytes (n >= headerLen) into buf and
// returns it. Text bodies are words; binary bodies are random bytes half
// of the time (incompressible) and words otherwise.
func makeMessage(rng *rand.Rand, buf []byte, seq uint32, n int, binary bool) []byte {
	n = max(n, headerLen)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	p := buf[:n]
	body := p[headerLen:]
	if binary && rng.IntN(2) == 0 {
		for i := 0; i < len(body); i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8 && i+j < len(body); j++ {
				body[i+j] = byte(v >> (8 * j))
			}
		}
	} else {
		for i := 0; i < len(body); {
			i += copy(body[i:], words[rng.IntN(len(words))])
		}
	}
	var h [8]byte
	h[0], h[1], h[2], h[3] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	sum := crc32.ChecksumIEEE(body)
	h[4], h[5], h[6], h[7] = byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum)
	hex.Encode(p[:headerLen], h[:])
	return p
}

var errShort = errors.New("message shorter than its header")

// parseHeader returns the sequence number and checksum of a message
// header.
func parseHeader(p []byte) (seq, sum uint32, err error) {
	if len(p) < headerLen {
		return 0, 0, errShort
	}
	var h [8]byte
	if _, err := hex.Decode(h[:], p[:headerLen]); err != nil {
		return 0, 0, fmt.Errorf("bad header %q: %v", p[:headerLen], err)
	}
	seq = uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])
	sum = uint32(h[4])<<24 | uint32(h[5])<<16 | uint32(h[6])<<8 | uint32(h[7])
	return seq, sum, nil
}

// checkMessage verifies a whole message: its checksum, and that its
// sequence number is want.
func checkMessage(p []byte, want uint32) error {
	seq, sum, err := parseHeader(p)
	if err != nil {
		return err
	}
	if seq != want {
		return fmt.Errorf("sequence %d, want %d (lost or reordered)", seq, want)
	}
	if got := crc32.ChecksumIEEE(p[headerLen:]); got != sum {
		return fmt.Errorf("message %d (%d bytes): checksum %08x, header says %08x (corrupted)", seq, len(p), got, sum)
	}
	return nil
}

// streamCheck verifies a message written to it in pieces, as a streaming
// reader delivers it.
type streamCheck struct {
	hdr  [headerLen]byte
	nhdr int
	crc  uint32
	n    int
}

func (s *streamCheck) Write(p []byte) (int, error) {
	n := len(p)
	s.n += n
	if s.nhdr < headerLen {
		k := copy(s.hdr[s.nhdr:], p)
		s.nhdr += k
		p = p[k:]
	}
	s.crc = crc32.Update(s.crc, crc32.IEEETable, p)
	return n, nil
}

// check verifies the streamed message against want.
func (s *streamCheck) check(want uint32) error {
	seq, sum, err := parseHeader(s.hdr[:s.nhdr])
	if err != nil {
		return err
	}
	if seq != want {
		return fmt.Errorf("sequence %d, want %d (lost or reordered)", seq, want)
	}
	if s.crc != sum {
		return fmt.Errorf("message %d (%d bytes): checksum %08x, header says %08x (corrupted)", seq, s.n, s.crc, sum)
	}
	return nil
}
