package wstest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// unhex decodes a hex string written with spaces, as in RFC 6455 §5.7.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var hello = []byte("Hello")

// rfcKey is the masking key of the RFC 6455 §5.7 examples.
var rfcKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func TestAcceptKey_rfc6455Section1_3(t *testing.T) {
	t.Parallel()
	if got, want := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("AcceptKey = %q, want %q", got, want)
	}
}

func TestNewKey_is16Base64Bytes(t *testing.T) {
	t.Parallel()
	a, b := NewKey(), NewKey()
	if len(a) != 24 || !strings.HasSuffix(a, "==") || a == b {
		t.Fatalf("NewKey = %q, %q; want distinct 24-char base64 of 16 bytes", a, b)
	}
}

// The examples of RFC 6455 §5.7, byte for byte.
var rfcVectors = []struct {
	name string
	f    Frame
	hex  string
}{
	{"unmasked text Hello", Frame{Fin: true, Opcode: OpText, Payload: hello}, "81 05 48 65 6c 6c 6f"},
	{"masked text Hello", Frame{Fin: true, Opcode: OpText, Masked: true, Key: rfcKey, Payload: hello}, "81 85 37 fa 21 3d 7f 9f 4d 51 58"},
	{"first fragment Hel", Frame{Opcode: OpText, Payload: []byte("Hel")}, "01 03 48 65 6c"},
	{"last fragment lo", Frame{Fin: true, Opcode: OpContinuation, Payload: []byte("lo")}, "80 02 6c 6f"},
	{"unmasked ping Hello", Frame{Fin: true, Opcode: OpPing, Payload: hello}, "89 05 48 65 6c 6c 6f"},
	{"masked pong Hello", Frame{Fin: true, Opcode: OpPong, Masked: true, Key: rfcKey, Payload: hello}, "8a 85 37 fa 21 3d 7f 9f 4d 51 58"},
}

func TestAppendFrame_rfc6455Section5_7(t *testing.T) {
	t.Parallel()
	for _, tt := range rfcVectors {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.hex)
			if got := AppendFrame(nil, tt.f); !bytes.Equal(got, want) {
				t.Fatalf("AppendFrame = % x, want % x", got, want)
			}
		})
	}
}

func TestParseFrame_rfc6455Section5_7(t *testing.T) {
	t.Parallel()
	for _, tt := range rfcVectors {
		t.Run(tt.name, func(t *testing.T) {
			b := unhex(t, tt.hex)
			f, n, err := ParseFrame(b)
			if err != nil || n != len(b) {
				t.Fatalf("ParseFrame = %v, %d, %v; want %d bytes used", f, n, err, len(b))
			}
			w := tt.f
			if f.Fin != w.Fin || f.Opcode != w.Opcode || f.Masked != w.Masked || f.Key != w.Key || !bytes.Equal(f.Payload, w.Payload) || f.LenEncoding != Len7 {
				t.Fatalf("ParseFrame = %v, want %v", f, w)
			}
		})
	}
}

func TestAppendFrame_lengthForms(t *testing.T) {
	t.Parallel()
	p256 := bytes.Repeat([]byte{0xAB}, 256)
	p64k := bytes.Repeat([]byte{0xCD}, 65536)
	tests := []struct {
		name string
		f    Frame
		head string // expected header bytes
	}{
		// RFC 6455 §5.7: 256 bytes binary in a single unmasked frame.
		{"256 bytes 16-bit", Frame{Fin: true, Opcode: OpBinary, Payload: p256}, "82 7e 01 00"},
		// RFC 6455 §5.7: 64 KiB binary in a single unmasked frame.
		{"64KiB 64-bit", Frame{Fin: true, Opcode: OpBinary, Payload: p64k}, "82 7f 00 00 00 00 00 01 00 00"},
		{"125 bytes 7-bit", Frame{Fin: true, Opcode: OpText, Payload: p256[:125]}, "81 7d"},
		{"126 bytes 16-bit", Frame{Fin: true, Opcode: OpText, Payload: p256[:126]}, "81 7e 00 7e"},
		{"65535 bytes 16-bit", Frame{Fin: true, Opcode: OpText, Payload: p64k[:65535]}, "81 7e ff ff"},
		{"5 bytes forced 16-bit", Frame{Fin: true, Opcode: OpText, Payload: hello, LenEncoding: Len16}, "81 7e 00 05"},
		{"5 bytes forced 64-bit", Frame{Fin: true, Opcode: OpText, Payload: hello, LenEncoding: Len64}, "81 7f 00 00 00 00 00 00 00 05"},
		{"length MSB override", Frame{Fin: true, Opcode: OpBinary, Payload: hello, LenOverride: Uint64(1 << 63)}, "82 7f 80 00 00 00 00 00 00 00"},
		{"rsv bits", Frame{Fin: true, Rsv: Rsv1 | Rsv3, Opcode: OpText}, "d1 00"},
		{"reserved opcode", Frame{Fin: false, Rsv: Rsv2, Opcode: 0xB}, "2b 00"},
		{"masked empty", Frame{Fin: true, Opcode: OpClose, Masked: true, Key: rfcKey}, "88 80 37 fa 21 3d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.head)
			got := AppendFrame(nil, tt.f)
			if !bytes.HasPrefix(got, want) || len(got) != len(want)+len(tt.f.Payload) {
				t.Fatalf("AppendFrame header = % x (total %d), want % x + %d payload bytes", got[:min(len(got), 16)], len(got), want, len(tt.f.Payload))
			}
		})
	}
}

func TestAppendFrame_doesNotModifyPayload(t *testing.T) {
	t.Parallel()
	p := []byte("Hello")
	AppendFrame(nil, Frame{Fin: true, Opcode: OpText, Masked: true, Key: rfcKey, Payload: p})
	if string(p) != "Hello" {
		t.Fatalf("payload changed to %q", p)
	}
}

func TestParseFrame_roundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		for _, enc := range []LenEncoding{LenMinimal, Len16, Len64} {
			if enc == Len16 && n > 0xFFFF {
				continue
			}
			p := make([]byte, n)
			for i := range p {
				p[i] = byte(i * 7)
			}
			in := Frame{Fin: n%2 == 0, Rsv: Rsv2, Opcode: OpBinary, Masked: true, Key: NewMaskKey(), Payload: p, LenEncoding: enc}
			b := AppendFrame(nil, in)
			out, used, err := ParseFrame(append(b, 0x99))
			if err != nil || used != len(b) {
				t.Fatalf("n=%d %v: ParseFrame used %d of %d: %v", n, enc, used, len(b), err)
			}
			wantEnc := enc
			if enc == LenMinimal {
				wantEnc = minimalEncoding(n)
			}
			if out.Fin != in.Fin || out.Rsv != in.Rsv || out.Opcode != in.Opcode || !out.Masked || out.Key != in.Key || !bytes.Equal(out.Payload, p) || out.LenEncoding != wantEnc {
				t.Fatalf("n=%d %v: round trip gave %v (enc %v)", n, enc, out, out.LenEncoding)
			}
		}
	}
}

func TestParseFrame_truncated(t *testing.T) {
	t.Parallel()
	b := unhex(t, "81 85 37 fa 21 3d 7f 9f 4d 51 58")
	for i := 0; i < len(b); i++ {
		if _, _, err := ParseFrame(b[:i]); err == nil {
			t.Fatalf("ParseFrame of %d of %d bytes succeeded", i, len(b))
		}
	}
	if _, _, err := ParseFrame(unhex(t, "82 7f 80 00 00 00 00 00 00 00")); err == nil {
		t.Fatal("ParseFrame accepted a 2^63 length")
	}
}

func TestMask_streamingMatchesWhole(t *testing.T) {
	t.Parallel()
	// RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
	b := []byte("Hello")
	if pos := mask(rfcKey, 0, b); pos != 1 || !bytes.Equal(b, unhex(t, "7f 9f 4d 51 58")) {
		t.Fatalf("mask(Hello) = % x, pos %d", b, pos)
	}
	whole := bytes.Repeat([]byte("0123456789"), 10)
	mask(rfcKey, 0, whole)
	parts := bytes.Repeat([]byte("0123456789"), 10)
	pos := 0
	for _, cut := range [][2]int{{0, 3}, {3, 4}, {4, 11}, {11, 50}, {50, 100}} {
		pos = mask(rfcKey, pos, parts[cut[0]:cut[1]])
	}
	if !bytes.Equal(whole, parts) {
		t.Fatal("masking in parts differs from masking at once")
	}
}

func TestBuildRequest_layout(t *testing.T) {
	t.Parallel()
	h := DefaultHeader("example.com", "dGhlIHNhbXBsZSBub25jZQ==")
	h.Set("Origin", "http://example.com")
	got := string(BuildRequest("GET", "/chat", "HTTP/1.1", h))
	want := "GET /chat HTTP/1.1\r\n" +
		"Host: example.com\r\n" +
		"Connection: Upgrade\r\n" +
		"Origin: http://example.com\r\n" +
		"Sec-Websocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-Websocket-Version: 13\r\n" +
		"Upgrade: websocket\r\n" +
		"\r\n"
	if got != want {
		t.Fatalf("BuildRequest =\n%s\nwant\n%s", got, want)
	}
}

func TestReadResponseHead(t *testing.T) {
	t.Parallel()
	raw := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n\r\n\x81\x05Hello"
	br := bufio.NewReader(strings.NewReader(raw))
	r, err := readResponseHead(br)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 101 || r.Proto != "HTTP/1.1" || r.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("got %+v", r)
	}
	if string(r.Raw) != raw[:strings.Index(raw, "\r\n\r\n")+4] {
		t.Fatalf("Raw = %q", r.Raw)
	}
	f, err := readFrame(br)
	if err != nil || string(f.Payload) != "Hello" {
		t.Fatalf("frame after header: %v, %v", f, err)
	}
	for _, bad := range []string{"HTTP/1.1 1O1 x\r\n\r\n", "HTTP/1.1 101 ok\r\nno colon\r\n\r\n", "HTTP/1.1 101 ok\n\n", "HTTP/1.1 101 ok\r\nA: b\r\n"} {
		if _, err := readResponseHead(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readResponseHead(%q) succeeded", bad)
		}
	}
}

// fakeServer accepts one connection, answers the handshake (status 101 with
// a correct accept unless accept is set) and then writes script, and closes
// the connection. It returns the address and a channel with the request.
func fakeServer(t *testing.T, accept string, script []byte) (string, <-chan *http.Request) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reqc := make(chan *http.Request, 1)
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			return
		}
		reqc <- req
		acc := accept
		if acc == "" {
			acc = AcceptKey(req.Header.Get("Sec-WebSocket-Key"))
		}
		fmt.Fprintf(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc)
		conn.Write(script)
	}()
	return ln.Addr().String(), reqc
}

func TestDial_expectMessageAndClose(t *testing.T) {
	t.Parallel()
	var script []byte
	script = AppendFrame(script, Frame{Fin: true, Opcode: OpText, Payload: hello})
	script = AppendFrame(script, Frame{Opcode: OpBinary, Payload: []byte{1, 2}})
	script = AppendFrame(script, Frame{Fin: true, Opcode: OpPong, Payload: []byte("p")})
	script = AppendFrame(script, Frame{Fin: true, Opcode: OpContinuation, Payload: []byte{3}})
	script = AppendFrame(script, Frame{Fin: true, Opcode: OpClose, Payload: CloseBody(1000, "bye")})
	addr, reqc := fakeServer(t, "", script)
	c := Dial(t, addr, "/x?y=1", http.Header{"Origin": {"http://o.example"}})
	req := <-reqc
	if req.URL.RequestURI() != "/x?y=1" || req.Header.Get("Origin") != "http://o.example" || req.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("server saw %s %v", req.URL, req.Header)
	}
	c.ExpectMessage(OpText, hello)
	// A pong inside a fragmented message is not something ReadMessage
	// reassembles, so read this part frame by frame.
	if f, err := c.ReadFrame(); err != nil || f.Opcode != OpBinary || f.Fin {
		t.Fatalf("ReadFrame = %v, %v", f, err)
	}
	c.ExpectMessage(OpPong, []byte("p"))
	if f, err := c.ReadFrame(); err != nil || f.Opcode != OpContinuation || !f.Fin {
		t.Fatalf("ReadFrame = %v, %v", f, err)
	}
	if code := c.ExpectClose(1000); code != 1000 {
		t.Fatalf("ExpectClose = %d", code)
	}
}

func TestDial_keepsBytesAfterHeader(t *testing.T) {
	t.Parallel()
	script := AppendFrame(nil, Frame{Fin: true, Opcode: OpClose})
	addr, _ := fakeServer(t, "", script)
	c := Dial(t, addr, "/", nil)
	// The close frame may or may not have arrived with the header; either
	// way ReadFrame must find it.
	if len(c.Resp.Extra) > 0 && !bytes.HasPrefix(script, c.Resp.Extra) {
		t.Fatalf("Extra = % x, want a prefix of % x", c.Resp.Extra, script)
	}
	if code := c.ExpectClose(NoStatus); code != NoStatus {
		t.Fatalf("ExpectClose = %d", code)
	}
}

// recorder is a testing.TB that records failures instead of failing, to
// check that the helpers catch bad servers.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(r)
}

// failures runs f with a recorder and returns what it reported.
func failures(t *testing.T, f func(tb testing.TB)) (errs []string) {
	r := &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		errs = r.errs
	}()
	f(r)
	return r.errs
}

func TestDial_rejectsWrongAccept(t *testing.T) {
	t.Parallel()
	addr, _ := fakeServer(t, AcceptKey("something else"), nil)
	errs := failures(t, func(tb testing.TB) { Dial(tb, addr, "/", nil) })
	if len(errs) != 1 || !strings.Contains(errs[0], "Sec-WebSocket-Accept") {
		t.Fatalf("failures = %q", errs)
	}
}

func TestExpectClose_catchesServerFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script []byte
		want   string
	}{
		{"wrong code", AppendFrame(nil, Frame{Fin: true, Opcode: OpClose, Payload: CloseBody(1000, "")}), "got close code 1000"},
		{"masked", AppendFrame(nil, Frame{Fin: true, Opcode: OpClose, Masked: true, Key: rfcKey, Payload: CloseBody(1002, "")}), "masked"},
		{"bytes after close", append(AppendFrame(nil, Frame{Fin: true, Opcode: OpClose, Payload: CloseBody(1002, "")}), 0x81, 0x00), "after its close frame"},
		{"non-minimal length", AppendFrame(nil, Frame{Fin: true, Opcode: OpClose, Payload: CloseBody(1002, ""), LenEncoding: Len16}), "length"},
		{"bad reason", AppendFrame(nil, Frame{Fin: true, Opcode: OpClose, Payload: CloseBody(1002, "\xff")}), "UTF-8"},
		{"no close", nil, "waiting for close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, _ := fakeServer(t, "", tt.script)
			errs := failures(t, func(tb testing.TB) {
				c := Dial(tb, addr, "/", nil)
				c.ExpectClose(1002)
			})
			if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), tt.want) {
				t.Fatalf("failures = %q, want one containing %q", errs, tt.want)
			}
		})
	}
}

func TestExpectConnClosed_timesOutOnOpenConn(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			bufio.NewReader(conn).ReadString('\n') // hold it open until the request starts
			fmt.Fprintf(conn, "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno")
		}
		accepted <- conn
	}()
	errs := failures(t, func(tb testing.TB) {
		c := RawDial(tb, ln.Addr().String(), []byte("GET / HTTP/1.1\r\n\r\n"))
		if c.Resp.StatusCode != 400 {
			tb.Errorf("status %d", c.Resp.StatusCode)
		}
		c.Timeout = 100 * time.Millisecond
		c.ExpectConnClosed()
	})
	if conn := <-accepted; conn != nil {
		conn.Close()
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "after its close frame") || !strings.Contains(errs[1], "did not end") {
		t.Fatalf("failures = %q", errs)
	}
}

func TestSplitAt(t *testing.T) {
	t.Parallel()
	got := SplitAt([]byte("abcdefgh"), 3, 7)
	if len(got) != 3 || string(got[0]) != "abc" || string(got[1]) != "defg" || string(got[2]) != "h" {
		t.Fatalf("SplitAt = %q", got)
	}
}
