package websocket

import (
	"bytes"
	"compress/flate"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/deflatetest"
)

// ---- fuzzing the inflate path ----

// FuzzInflate feeds arbitrary compressed payloads, whole or fragmented,
// to a connection and compares what it reads with compress/flate.
func FuzzInflate(f *testing.F) {
	for _, s := range []string{"f248cdc9c90700", "f348cdc9c9070000", "000500faff48656c6c6f00", "f24805000000ffffcac9c90700", "00", "", "0700"} {
		z, _ := hex.DecodeString(s)
		f.Add(z, uint8(0), false)
		f.Add(z, uint8(3), true)
	}
	f.Add((&pmdDeflater{}).compress(bytes.Repeat([]byte("fuzz "), 3000)), uint8(100), false)
	f.Fuzz(func(t *testing.T, payload []byte, frag uint8, text bool) {
		const limit = 16 << 10
		c, nc := newFuzzConn(payload, int(frag), text, limit)
		defer nc.Close()
		_, got, err := c.ReadMessage()

		// The reference: compress/flate on payload + tail, reading no more
		// than the limit and a byte.
		tail := deflateTail[:]
		if len(payload) == 0 {
			tail = tail[4:]
		}
		src := bytes.NewReader(append(bytes.Clone(payload), tail...))
		want, rerr := io.ReadAll(io.LimitReader(flate.NewReader(src), limit+1))
		consumedPayload := int(src.Size())-src.Len() >= len(payload)
		switch {
		case err == nil:
			if len(got) > limit {
				t.Fatalf("read %d bytes past the limit", len(got))
			}
			if !bytes.HasPrefix(got, want) && rerr == nil {
				t.Fatalf("read %q, flate %q", got, want)
			}
			if text && !validUTF8(got) {
				t.Fatal("invalid UTF-8 accepted")
			}
		case rerr == nil && consumedPayload && len(want) <= limit && (!text || validUTF8(want)):
			t.Fatalf("flate reads %d bytes, the connection fails: %v", len(want), err)
		}
	})
}

func validUTF8(b []byte) bool {
	var v utf8Validator
	return v.feed(b) && v.done()
}

// newFuzzConn returns a connection whose peer has sent payload as one
// compressed message, in frames of frag bytes (0: one frame).
func newFuzzConn(payload []byte, frag int, text bool, limit int64) (*Conn, net.Conn) {
	op := byte(opBinary)
	if text {
		op = opText
	}
	var in []byte
	if frag == 0 || len(payload) == 0 {
		in = pmdFrame(true, bitRsv1, op, payload)
	} else {
		for i := 0; i < len(payload); i += frag {
			end := min(i+frag, len(payload))
			o, rsv := byte(opContinuation), byte(0)
			if i == 0 {
				o, rsv = op, bitRsv1
			}
			in = append(in, pmdFrame(end == len(payload), rsv, o, payload[i:end])...)
		}
	}
	nc := &fuzzNetConn{}
	return newConn(nc, connConfig{readLimit: limit, deflate: deflateConfig{enabled: true, params: pmdTakeover}}, in), nc
}

// fuzzNetConn is a net.Conn at EOF that swallows writes.
type fuzzNetConn struct{ net.Conn }

func (fuzzNetConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (fuzzNetConn) Write(b []byte) (int, error)      { return len(b), nil }
func (fuzzNetConn) Close() error                     { return nil }
func (fuzzNetConn) SetDeadline(time.Time) error      { return nil }
func (fuzzNetConn) SetReadDeadline(time.Time) error  { return nil }
func (fuzzNetConn) SetWriteDeadline(time.Time) error { return nil }
func (fuzzNetConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (fuzzNetConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }

// FuzzWindowedDeflate: whatever the data, window (9 to 14 bits), level (1
// or 6) and write sizes, the segmented compressor's output inflates to the
// data with no back-reference beyond the window (internal/deflatetest's
// decoder).
func FuzzWindowedDeflate(f *testing.F) {
	f.Add([]byte("abcabcabcabc"), uint8(0), uint8(1), uint16(3))
	f.Add(bytes.Repeat([]byte("the window slides "), 200), uint8(3), uint8(6), uint16(700))
	f.Add(pmdEdgeData(rand.New(rand.NewPCG(1, 1)), 512, 5000), uint8(0), uint8(9), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, bitsIn, levelIn uint8, piece uint16) {
		bits := 9 + int(bitsIn)%6
		level := [...]int{1, 1, 1, 6}[levelIn%4] // 2 to 9 clear 640 KB per segment: slow to fuzz
		// Whole, as WriteMessage and prepared messages compress.
		whole := appendDeflate(nil, data, level, bits)
		// Streamed in pieces, as a NextWriter message is.
		var s appendSink
		d := new(windowedDeflate)
		fw := getFlateWriter(level, &d.gate)
		d.start(fw, &s, bits)
		for p := data; len(p) > 0; {
			n := min(len(p), 1+int(piece))
			d.Write(p[:n])
			p = p[n:]
		}
		fw.Flush()
		d.finish()
		putFlateWriter(level, fw)
		streamed := s.b[:len(s.b)-4]
		for _, z := range [][]byte{whole, streamed} {
			got, err := deflatetest.Decode(nil, append(bytes.Clone(z), 0, 0, 0xff, 0xff), 1<<bits)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("bits %d level %d: %v (%d of %d bytes)", bits, level, err, len(got), len(data))
			}
		}
	})
}
