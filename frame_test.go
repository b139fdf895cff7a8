package websocket

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

type frameVector struct {
	name    string
	header  []byte // header bytes
	payload []byte // payload as on the wire
}

func loadFrameVectors(t testing.TB) []frameVector {
	f, err := os.Open("testdata/rfc6455-examples.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []frameVector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Fields(line)
		var raw []byte
		for _, fld := range fields[1:] {
			if n, ok := strings.CutPrefix(fld, "len:"); ok {
				k, _ := strconv.Atoi(n)
				raw = append(raw, make([]byte, k)...)
				continue
			}
			b, err := hex.DecodeString(fld)
			if err != nil {
				t.Fatal(err)
			}
			raw = append(raw, b...)
		}
		_, n, perr := parseHeader(raw)
		if perr != nil || n == 0 {
			t.Fatalf("%s: cannot parse header: %v", fields[0], perr)
		}
		out = append(out, frameVector{fields[0], raw[:n], raw[n:]})
	}
	return out
}

func TestParseHeader_rfcExamples(t *testing.T) {
	t.Parallel()
	want := map[string]header{
		"unmasked-text-hello": {fin: true, op: opText, length: 5},
		"masked-text-hello":   {fin: true, op: opText, masked: true, key: [4]byte{0x37, 0xfa, 0x21, 0x3d}, length: 5},
		"fragment-1-hel":      {fin: false, op: opText, length: 3},
		"fragment-2-lo":       {fin: true, op: opContinuation, length: 2},
		"unmasked-ping-hello": {fin: true, op: opPing, length: 5},
		"masked-pong-hello":   {fin: true, op: opPong, masked: true, key: [4]byte{0x37, 0xfa, 0x21, 0x3d}, length: 5},
		"binary-256":          {fin: true, op: opBinary, length: 256},
		"binary-65536":        {fin: true, op: opBinary, length: 65536},
	}
	for _, v := range loadFrameVectors(t) {
		h, n, err := parseHeader(append(v.header, v.payload...))
		if err != nil || n != len(v.header) {
			t.Fatalf("%s: n=%d err=%v", v.name, n, err)
		}
		if h != want[v.name] {
			t.Errorf("%s: got %+v, want %+v", v.name, h, want[v.name])
		}
		if int64(len(v.payload)) != h.length {
			t.Errorf("%s: payload %d bytes, header says %d", v.name, len(v.payload), h.length)
		}
		// appendHeader writes the same bytes back.
		if got := appendHeader(nil, h.fin, h.rsv, h.op, int(h.length), h.masked, h.key); !bytes.Equal(got, v.header) {
			t.Errorf("%s: appendHeader = % x, want % x", v.name, got, v.header)
		}
		if headerSize(int(h.length), h.masked) != len(v.header) {
			t.Errorf("%s: headerSize wrong", v.name)
		}
		// Every proper prefix of the header asks for more bytes.
		for i := 0; i < len(v.header); i++ {
			if _, n, err := parseHeader(v.header[:i]); n != 0 || err != nil {
				t.Errorf("%s: prefix of %d bytes gave n=%d err=%v", v.name, i, n, err)
			}
		}
	}
}

func TestParseHeader_rejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
	}{
		{"64-bit length with MSB set", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}},
		{"2^63-1 is fine to parse but 16-bit non-minimal is not", []byte{0x82, 0xfe, 0x00, 0x7d, 1, 2, 3, 4}},
		{"64-bit non-minimal", []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		if _, _, err := parseHeader(tt.in); err == nil || err.Code != CloseProtocolError {
			t.Errorf("%s: got %v, want a 1002 protocol error", tt.name, err)
		}
	}
	// The largest legal length parses.
	h, _, err := parseHeader([]byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	if err != nil || h.length != 1<<63-1 {
		t.Fatalf("2^63-1: %v %v", h.length, err)
	}
}

func TestHeaderCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    header
		rsv  byte
		ok   bool
	}{
		{"masked text", header{fin: true, op: opText, masked: true}, 0, true},
		{"unmasked text", header{fin: true, op: opText}, 0, false},
		{"rsv1 without extension", header{fin: true, op: opText, masked: true, rsv: bitRsv1}, 0, false},
		{"rsv1 with extension", header{fin: true, op: opText, masked: true, rsv: bitRsv1}, bitRsv1, true},
		{"rsv2 with rsv1 extension", header{fin: true, op: opText, masked: true, rsv: bitRsv2}, bitRsv1, false},
		{"rsv1 on ping even with extension", header{fin: true, op: opPing, masked: true, rsv: bitRsv1}, bitRsv1, false},
		{"opcode 3", header{fin: true, op: 3, masked: true}, 0, false},
		{"opcode 0xB", header{fin: true, op: 0xB, masked: true}, 0, false},
		{"fragmented ping", header{op: opPing, masked: true}, 0, false},
		{"ping of 125", header{fin: true, op: opPing, masked: true, length: 125}, 0, true},
		{"ping of 126", header{fin: true, op: opPing, masked: true, length: 126}, 0, false},
	}
	for _, tt := range tests {
		err := tt.h.check(true, tt.rsv)
		if (err == nil) != tt.ok {
			t.Errorf("%s: got %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && err.Code != CloseProtocolError {
			t.Errorf("%s: code %d, want 1002", tt.name, err.Code)
		}
	}
}

func TestParseClosePayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       []byte
		wantCode int
		wantErr  int // close code of the error, 0 for none
	}{
		{"empty", nil, CloseNoStatusReceived, 0},
		{"one byte", []byte{0x03}, 0, CloseProtocolError},
		{"1000", []byte{0x03, 0xe8}, 1000, 0},
		{"1000 with reason", []byte("\x03\xe8bye"), 1000, 0},
		{"4999", []byte{0x13, 0x87}, 4999, 0},
		{"1005 on the wire", []byte{0x03, 0xed}, 0, CloseProtocolError},
		{"999", []byte{0x03, 0xe7}, 0, CloseProtocolError},
		{"5000", []byte{0x13, 0x88}, 0, CloseProtocolError},
		{"invalid utf8 reason", []byte("\x03\xe8\xce\xba\xed\xa0\x80"), 0, CloseInvalidFramePayloadData},
	}
	for _, tt := range tests {
		code, _, err := parseClosePayload(tt.in)
		switch {
		case tt.wantErr == 0 && (err != nil || code != tt.wantCode):
			t.Errorf("%s: got %d %v, want %d", tt.name, code, err, tt.wantCode)
		case tt.wantErr != 0 && (err == nil || err.Code != tt.wantErr):
			t.Errorf("%s: got %v, want close %d", tt.name, err, tt.wantErr)
		}
	}
	for code := 0; code < 5100; code++ {
		want := (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
		if validCloseCode(code) != want {
			t.Fatalf("validCloseCode(%d) = %v", code, !want)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, v := range loadFrameVectors(f) {
		f.Add(append(v.header, v.payload[:min(len(v.payload), 8)]...))
	}
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseHeader(b)
		if err != nil || n == 0 {
			return
		}
		if n > len(b) || n > maxHeaderSize || h.length < 0 {
			t.Fatalf("n=%d len=%d length=%d", n, len(b), h.length)
		}
		if h.length > math.MaxInt {
			return // a length this platform's int cannot hold (32-bit)
		}
		// A header that parses is re-encoded to the same bytes.
		if got := appendHeader(nil, h.fin, h.rsv, h.op, int(h.length), h.masked, h.key); !bytes.Equal(got, b[:n]) {
			t.Fatalf("re-encoded % x, parsed from % x", got, b[:n])
		}
		h.check(true, bitRsv1)
	})
}

func FuzzParseClosePayload(f *testing.F) {
	f.Add([]byte{0x03, 0xe8})
	f.Add([]byte("\x0f\xa0reason"))
	f.Add([]byte{0x03})
	f.Fuzz(func(t *testing.T, p []byte) {
		code, text, err := parseClosePayload(p)
		if err != nil {
			return
		}
		if len(p) > 0 && (!validCloseCode(code) || text != string(p[2:])) {
			t.Fatalf("accepted code %d text %q", code, text)
		}
		if got := FormatCloseMessage(code, text); !bytes.Equal(got, p) && len(p) > 0 {
			t.Fatalf("FormatCloseMessage round trip: % x vs % x", got, p)
		}
	})
}
