package main

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"sync"
)

// The deflate scenario: an echo of compressible text with permessage-deflate
// (RFC 7692) negotiated without context takeover either way. The load
// client compresses and inflates with the standard library's compress/flate;
// the server's CPU is what is measured, as in every scenario.

// deflateOffer is the client's offer: no context takeover either way, so
// every message is compressed and inflated on its own.
const deflateOffer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// storedSeqHeader starts a DEFLATE stream (RFC 1951 §3.2.4) with a
// non-final stored block of seqLen bytes: the sequence number, patched per
// send like the plain message's, stays readable in the compressed frame.
var storedSeqHeader = [5]byte{0x00, seqLen, 0x00, ^byte(seqLen), 0xff}

var deflateTemplates sync.Map // size -> []byte

// deflateTemplate returns size bytes of printable text made of words, which
// compresses about as well as JSON or chat text does (about 3:1 at level 1).
func deflateTemplate(size int) []byte {
	if p, ok := deflateTemplates.Load(size); ok {
		return p.([]byte)
	}
	words := []string{"the", "message", "user", "id", "time", "value", "event", "status", "ok", "error",
		"session", "channel", "room", "hello", "world", "data", "price", "quantity", "order", "update",
		"{\"type\":", "\"text\":", "\"ts\":", "1700000000", "true", "false", "null", "websocket", "server", "client"}
	var b bytes.Buffer
	x := uint64(size)*0x9e3779b97f4a7c15 + 1
	for b.Len() < size {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b.WriteString(words[x%uint64(len(words))])
		b.WriteByte(" ,:\n"[x>>60&3])
	}
	p := b.Bytes()[:size]
	v, _ := deflateTemplates.LoadOrStore(size, p)
	return v.([]byte)
}

// newDeflateMessage builds a compressed text message of size bytes: a
// masked frame with RSV1 whose payload is the stored block holding the
// sequence number, then the rest of the text compressed once.
func newDeflateMessage(size int) *message {
	m := &message{payload: slices.Clone(deflateTemplate(size)), seqOff: len(storedSeqHeader), hexSeq: true}
	var z bytes.Buffer
	z.Write(storedSeqHeader[:])
	z.Write(m.payload[:seqLen])
	fw, _ := flate.NewWriter(&z, flate.BestSpeed)
	fw.Write(m.payload[seqLen:])
	fw.Flush()
	body := z.Bytes()
	body = body[:len(body)-4] // RFC 7692 §7.2.1: the sync flush's tail goes
	rand.Read(m.key[:])
	hdr := appendHeader(make([]byte, 0, 14+len(body)), opText, true, len(body))
	hdr[0] |= 0x40 // RSV1: compressed
	hdr = append(hdr, m.key[:]...)
	m.off = len(hdr)
	m.frame = append(hdr, body...)
	maskWords(m.key, m.frame[m.off:])
	return m
}

// inflater inflates the server's compressed messages.
type inflater struct {
	fr  io.ReadCloser
	src bytes.Reader
	buf []byte
}

var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflate returns payload inflated (RFC 7692 §7.2.2: the tail appended),
// in a buffer reused by the next call.
func (f *inflater) inflate(payload []byte) ([]byte, error) {
	in := append(payload, deflateTail...)
	f.src.Reset(in)
	if f.fr == nil {
		f.fr = flate.NewReader(&f.src)
	} else {
		f.fr.(flate.Resetter).Reset(&f.src, nil)
	}
	out := f.buf[:0]
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := f.fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			f.buf = out
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: inflate: %v", errVerify, err)
		}
	}
}
