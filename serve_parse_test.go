package websocket

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
	"time"
)

// rawOutcome is what a client sees after sending a raw request: the
// response's status (0 when the server closed without answering), its
// header and body.
type rawOutcome struct {
	status int
	header http.Header
	close  bool // Connection: close (which http.ReadResponse removes from header)
	body   string
}

// sendRaw sends req on a fresh loopback connection to addr, half-closing
// the connection after it when halfClose is set, and reads the answer.
func sendRaw(t *testing.T, addr string, req string, halfClose bool) rawOutcome {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { // the server may answer before reading it all
		io.WriteString(nc, req)
		if halfClose {
			nc.(*net.TCPConn).CloseWrite()
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		if isTimeout(err) {
			t.Fatalf("no answer and no close: %v", err)
		}
		return rawOutcome{}
	}
	defer resp.Body.Close()
	var body []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ = io.ReadAll(resp.Body)
	}
	return rawOutcome{resp.StatusCode, resp.Header, resp.Close, string(body)}
}

// upgradeServers starts the two servers the differential tests compare:
// net/http's, whose handler calls Upgrade, and Serve on a bare listener,
// both with the zero Upgrader. It returns their addresses.
func upgradeServers(t *testing.T) (viaHTTP, viaServe string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := (&Upgrader{}).Upgrade(w, r, nil); err == nil {
			c.Close()
		}
	}))
	t.Cleanup(srv.Close)
	viaServe = serveRaw(t, &Upgrader{}, func(c *Conn, r *http.Request) {})
	return srv.Listener.Addr().String(), viaServe
}

// validRequest is an acceptable opening handshake; extra lines go before
// the blank line.
func validRequest(extra string) string {
	return "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// requestWith is validRequest with its request line replaced.
func requestWith(line string) string {
	return line + "\r\n" + strings.SplitN(validRequest(""), "\r\n", 2)[1]
}

// parserCases are raw requests with the outcome net/http's server gives
// them, which Serve must give too (serveStatus, where set, records a
// deliberate difference).
var parserCases = []struct {
	name        string
	req         string
	halfClose   bool
	status      int // through net/http: 101, a refusal, or 0 (closed, no answer)
	serveStatus int // through Serve when it differs on purpose
}{
	{name: "valid", req: validRequest(""), status: 101},
	{name: "valid, bare LF line ends", req: strings.ReplaceAll(validRequest(""), "\r\n", "\n"), status: 101},
	{name: "valid, lower-case names", req: validRequest("")[:20] + strings.ToLower(validRequest("")[20:]), status: 101},
	{name: "valid, white space around values", req: validRequest("X-A: \t a b \t\r\n"), status: 101},
	{name: "valid, obs-text in a value", req: validRequest("X-A: caf\xc3\xa9\r\n"), status: 101},
	{name: "CR before CRLF", req: validRequest("X-A: a\r\r\n"), status: 400},
	{name: "valid, 8 KiB value", req: validRequest("X-Big: " + strings.Repeat("b", 8<<10) + "\r\n"), status: 101},
	{name: "valid, empty Host", req: strings.Replace(validRequest(""), "Host: example.com", "Host:", 1), status: 101},
	{name: "valid, absolute-form target", req: requestWith("GET http://example.com/chat?x=1 HTTP/1.1"), status: 101},
	{name: "valid, escaped path", req: requestWith("GET /a%20b?q=%zz HTTP/1.1"), status: 101},
	{name: "valid, HTTP/1.2", req: requestWith("GET / HTTP/1.2"), status: 101},
	{name: "valid, Expect 100-continue", req: validRequest("Expect: 100-continue\r\n"), status: 101},
	{name: "valid, Content-Length 0", req: validRequest("Content-Length: 0\r\n"), status: 101},
	{name: "valid, Connection also close", req: strings.Replace(validRequest(""), "Connection: Upgrade", "Connection: Upgrade, close", 1), status: 101},

	{name: "space before colon (RFC 9112 §5.1)", req: validRequest("Origin : http://evil.example\r\n"), status: 400},
	{name: "tab before colon", req: validRequest("Origin\t: http://evil.example\r\n"), status: 400},
	{name: "userinfo in Host", req: strings.Replace(validRequest(""), "example.com", "evil.example@victim.example", 1), status: 400},
	{name: "slash in Host", req: strings.Replace(validRequest(""), "example.com", "example.com/x", 1), status: 400},
	{name: "space in Host", req: strings.Replace(validRequest(""), "example.com", "example .com", 1), status: 400},
	{name: "two Hosts", req: validRequest("Host: example.com\r\n"), status: 400},
	{name: "two Hosts, other case", req: validRequest("host: other\r\n"), status: 400},
	{name: "no Host", req: strings.Replace(validRequest(""), "Host: example.com\r\n", "", 1), status: 400},
	{name: "obs-fold (RFC 9112 §5.2)", req: validRequest("X-A: a\r\n b\r\n"), status: 101, serveStatus: 400},
	{name: "first header line folded", req: strings.Replace(validRequest(""), "Host", " Host", 1), status: 400},
	{name: "no colon", req: validRequest("no colon here\r\n"), status: 400},
	{name: "empty name", req: validRequest(": x\r\n"), status: 400},
	{name: "delimiter in name", req: validRequest("X(A): b\r\n"), status: 400},
	{name: "NUL in name", req: validRequest("X\x00A: b\r\n"), status: 400},
	{name: "non-ASCII name", req: validRequest("X\xc3\xa9: b\r\n"), status: 400},
	{name: "NUL in value", req: validRequest("X-A: a\x00b\r\n"), status: 400},
	{name: "DEL in value", req: validRequest("X-A: a\x7fb\r\n"), status: 400},
	{name: "bare CR in value", req: validRequest("X-A: a\rb\r\n"), status: 400},
	{name: "empty first line", req: "\r\n" + validRequest(""), status: 400},
	{name: "garbage request line", req: "HELLO\r\n\r\n", status: 400},
	{name: "two spaces in request line", req: requestWith("GET  / HTTP/1.1"), status: 400},
	{name: "trailing space in request line", req: requestWith("GET / HTTP/1.1 "), status: 400},
	{name: "space in target", req: requestWith("GET /a b HTTP/1.1"), status: 400},
	{name: "delimiter in method", req: requestWith("G(T / HTTP/1.1"), status: 400},
	{name: "lower-case method", req: requestWith("get / HTTP/1.1"), status: 405},
	{name: "POST", req: requestWith("POST / HTTP/1.1"), status: 405},
	{name: "lower-case protocol", req: requestWith("GET / http/1.1"), status: 400},
	{name: "three-digit version", req: requestWith("GET / HTTP/1.10"), status: 400},
	{name: "HTTP/2.0", req: requestWith("GET / HTTP/2.0"), status: 505},
	{name: "HTTP/0.9", req: requestWith("GET / HTTP/0.9"), status: 505},
	{name: "HTTP/1.0 without Host", req: "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", status: 400},
	{name: "control byte in target", req: requestWith("GET /\x01 HTTP/1.1"), status: 400},
	{name: "relative target", req: requestWith("GET chat HTTP/1.1"), status: 400},
	{name: "bad escape in path", req: requestWith("GET /a%zz HTTP/1.1"), status: 400},
	{name: "CONNECT", req: "CONNECT example.com:443 HTTP/1.1\r\n\r\n", status: 405},
	{name: "Transfer-Encoding gzip", req: validRequest("Transfer-Encoding: gzip\r\n"), status: 501},
	{name: "two Transfer-Encodings", req: validRequest("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), status: 501},
	{name: "Content-Length not a number", req: validRequest("Content-Length: abc\r\n"), status: 400},
	{name: "Content-Length signed", req: validRequest("Content-Length: +0\r\n"), status: 400},
	{name: "Content-Length empty", req: validRequest("Content-Length:\r\n"), status: 400},
	{name: "Content-Lengths differ", req: validRequest("Content-Length: 0\r\nContent-Length: 1\r\n"), status: 400},
	{name: "Expect other", req: validRequest("Expect: something\r\n"), status: 417},
	{name: "headers over 1 MiB", req: validRequest("X-Big: " + strings.Repeat("a", 2<<20) + "\r\n"), status: 431},
	{name: "ends mid-head", req: "GET / HTTP/1.1\r\nHost: x\r\n", halfClose: true, status: 400},
	{name: "ends mid-request-line", req: "GET / HTTP/1.1", halfClose: true, status: 400},
	{name: "ends before a byte", req: "", halfClose: true, status: 0},
}

// The bare-listener parser answers every request of parserCases as
// net/http's server (with Upgrade in the handler) does, both checked over
// loopback, apart from the deliberate differences listed.
func TestServe_parserAgreesWithNetHTTP(t *testing.T) {
	t.Parallel()
	viaHTTP, viaServe := upgradeServers(t)
	for _, tc := range parserCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := sendRaw(t, viaHTTP, tc.req, tc.halfClose).status; got != tc.status {
				t.Errorf("net/http answers %d, the table says %d", got, tc.status)
			}
			want := tc.status
			if tc.serveStatus != 0 {
				want = tc.serveStatus
			}
			got := sendRaw(t, viaServe, tc.req, tc.halfClose)
			if got.status != want {
				t.Fatalf("Serve answers %d, want %d (%q)", got.status, want, got.body)
			}
			if got.status > 101 && !got.close {
				t.Errorf("refusal without Connection: close: %v", got.header)
			}
		})
	}
}

// Serve's refusals state a fixed reason and never echo the request (RFC
// 9110 §15.5 leaves the content to the server; echoing attacker bytes into
// a page is how reflected scripting starts), and they are marked
// text/plain, nosniff and Connection: close.
func TestServe_refusalsHaveFixedReasons(t *testing.T) {
	t.Parallel()
	addr := serveRaw(t, &Upgrader{}, func(c *Conn, r *http.Request) {})
	const mark = "<script>alert(1)</script>"
	for _, req := range []string{
		"GET /" + mark + " HTTP/1.1\r\n\r\n",
		requestWith("GET /%" + mark + " HTTP/1.1"),
		requestWith("G" + mark + "T / HTTP/1.1"),
		validRequest("X-A: " + mark + "\x00\r\n"),
		validRequest(mark + ": a\r\n"),
		validRequest("X-A: a\r\n " + mark + "\r\n"),
		strings.Replace(validRequest(""), "example.com", mark, 1),
		validRequest("Content-Length: " + mark + "\r\n"),
		validRequest("Transfer-Encoding: " + mark + "\r\n"),
		validRequest("Expect: " + mark + "\r\n"),
		requestWith("GET /" + mark + " HTTP/2.0"),
		strings.Replace(validRequest(""), "websocket\r\n", mark+"\r\n", 1),
		strings.Replace(validRequest(""), "Version: 13", "Version: "+mark, 1),
		strings.Replace(validRequest(""), "dGhlIHNhbXBsZSBub25jZQ==", mark, 1),
		validRequest("Origin: http://" + mark + "\r\n"),
	} {
		got := sendRaw(t, addr, req, false)
		switch {
		case got.status < 400:
			t.Errorf("%q: status %d, want a refusal", req, got.status)
		case strings.Contains(got.body, "script") || strings.Contains(got.body, "alert"):
			t.Errorf("%q: the body echoes the request: %q", req, got.body)
		case got.header.Get("X-Content-Type-Options") != "nosniff" ||
			got.header.Get("Content-Type") != "text/plain; charset=utf-8" ||
			!got.close:
			t.Errorf("%q: headers %v", req, got.header)
		}
	}
}

// A request announcing a body (RFC 9112 §6) reaches Upgrade with its
// ContentLength and TransferEncoding set as net/http sets them, and is
// refused with 400 and a close on both paths (the shared check in
// checkUpgradeRequest).
func TestServe_requestWithBodyIsRefused(t *testing.T) {
	t.Parallel()
	viaHTTP, viaServe := upgradeServers(t)
	for _, tc := range []struct{ name, req string }{
		{"Content-Length", validRequest("Content-Length: 5\r\n") + "hello"},
		{"chunked", validRequest("Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n0\r\n\r\n"},
		{"chunked and Content-Length", validRequest("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n") + "0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, addr := range map[string]string{"net/http": viaHTTP, "Serve": viaServe} {
				got := sendRaw(t, addr, tc.req, false)
				if got.status != http.StatusBadRequest || !got.close {
					t.Fatalf("%s: status %d, headers %v; want 400 and Connection: close", name, got.status, got.header)
				}
			}
		})
	}
}

// parseRequestBytes runs UpgradeConn's parser over in, as it reads from a
// connection.
func parseRequestBytes(in []byte) (*http.Request, error) {
	p := &requestParser{br: bufio.NewReaderSize(nil, 4096)}
	p.lr = io.LimitedReader{R: strings.NewReader(string(in)), N: maxRequestHeaderBytes + 4096}
	p.br.Reset(&p.lr)
	return p.readRequest()
}

// The parser sets the framing fields as http.ReadRequest does.
func TestParseRequest_framing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		extra string
		cl    int64
		te    []string
	}{
		{"", 0, nil},
		{"Content-Length: 5\r\n", 5, nil},
		{"Content-Length: 5\r\nContent-Length:  5 \r\n", 5, nil},
		{"Transfer-Encoding: chunked\r\n", -1, []string{"chunked"}},
		{"Transfer-Encoding: Chunked\r\nContent-Length: 7\r\n", -1, []string{"chunked"}},
	} {
		r, err := parseRequestBytes([]byte(validRequest(tc.extra)))
		if err != nil {
			t.Fatalf("%q: %v", tc.extra, err)
		}
		if r.ContentLength != tc.cl || strings.Join(r.TransferEncoding, ",") != strings.Join(tc.te, ",") {
			t.Errorf("%q: ContentLength %d, TransferEncoding %q; want %d, %q", tc.extra, r.ContentLength, r.TransferEncoding, tc.cl, tc.te)
		}
		if _, ok := r.Header["Transfer-Encoding"]; ok {
			t.Errorf("%q: Transfer-Encoding left in the header map", tc.extra)
		}
		var re *requestError
		if errors.As(err, &re) {
			t.Errorf("unexpected refusal %v", re)
		}
	}
}

// netHTTPVerdict is what net/http's server makes of a request head: the
// request as http.ReadRequest reads it, after the checks of the server's
// conn.readRequest and its Expect handling, or the status it answers
// with (0: it closes without an answer).
func netHTTPVerdict(in []byte) (*http.Request, int) {
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(in))))
	switch {
	case err == io.EOF:
		return nil, 0
	case err != nil && strings.Contains(err.Error(), "transfer encoding"):
		return nil, http.StatusNotImplemented
	case err != nil:
		return nil, http.StatusBadRequest
	}
	h2 := req.Method == "PRI" && len(req.Header) == 0 && req.URL.Path == "*" && req.Proto == "HTTP/2.0"
	if req.ProtoMajor != 1 && !h2 {
		return nil, http.StatusHTTPVersionNotSupported
	}
	// http.ReadRequest drops the Host lines the server checks: read them
	// again as it did.
	tp := textproto.NewReader(bufio.NewReader(strings.NewReader(string(in))))
	tp.ReadLine()
	mh, _ := tp.ReadMIMEHeader()
	hosts, haveHost := mh["Host"]
	if req.ProtoAtLeast(1, 1) && !haveHost && !h2 && req.Method != "CONNECT" {
		return nil, http.StatusBadRequest
	}
	if len(hosts) == 1 && strings.Trim(hosts[0], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$%&'()*+,-.:;=[]_~") != "" {
		return nil, http.StatusBadRequest // httpguts.ValidHostHeader
	}
	for k := range req.Header {
		if k == "" || strings.ContainsAny(k, " \t\"(),/:;<=>?@[\\]{}") {
			return nil, http.StatusBadRequest // httpguts.ValidHeaderFieldName
		}
	}
	delete(req.Header, "Host")
	if e := req.Header.Get("Expect"); e != "" && !valuesHaveToken([]string{e}, "100-continue") {
		return nil, http.StatusExpectationFailed
	}
	return req, 0
}

// FuzzParseRequest holds UpgradeConn's parser to net/http's: for any
// bytes, it accepts exactly the request heads net/http's server accepts
// (bar obsolete line folding, which it refuses on purpose), reads them
// into the same request (method, target, URL, Host, headers, framing),
// and refuses the others with the same status.
func FuzzParseRequest(f *testing.F) {
	for _, tc := range parserCases {
		if len(tc.req) < 4096 {
			f.Add([]byte(tc.req))
		}
	}
	for _, br := range benchRequests {
		f.Add([]byte(br.req))
	}
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	f.Add([]byte(validRequest("Pragma: no-cache\r\nContent-Length: 3\r\nContent-Length: 3\r\n")))
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantStatus := netHTTPVerdict(in)
		got, err := parseRequestBytes(in)
		if err != nil {
			status := 0
			var re *requestError
			if errors.As(err, &re) {
				status = re.status
			}
			if re == errMalformedRequest && hasObsFold(in) {
				return // the deliberate difference
			}
			if want != nil || status != wantStatus {
				t.Fatalf("parser: %d (%v); net/http: %d, %v", status, err, wantStatus, want)
			}
			return
		}
		if want == nil {
			t.Fatalf("parser accepts %+v; net/http answers %d", got, wantStatus)
		}
		if got.Method != want.Method || got.RequestURI != want.RequestURI || got.Proto != want.Proto ||
			got.ProtoMajor != want.ProtoMajor || got.ProtoMinor != want.ProtoMinor || got.Host != want.Host ||
			!reflect.DeepEqual(got.URL, want.URL) || got.ContentLength != want.ContentLength || got.Close != want.Close ||
			!reflect.DeepEqual(got.TransferEncoding, want.TransferEncoding) || !reflect.DeepEqual(got.Header, want.Header) {
			t.Fatalf("parser reads\n%+v\nnet/http reads\n%+v", got, want)
		}
	})
}

// hasObsFold reports whether a header line of in's head starts with white
// space (obsolete line folding, RFC 9112 §5.2).
func hasObsFold(in []byte) bool {
	head, _, _ := strings.Cut(strings.ReplaceAll(string(in), "\r\n", "\n"), "\n\n")
	return strings.Contains(head, "\n ") || strings.Contains(head, "\n\t")
}

// addrString formats TCP addresses as net.TCPAddr.String does.
func TestAddrString(t *testing.T) {
	t.Parallel()
	for _, a := range []net.Addr{
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80},
		&net.TCPAddr{IP: net.ParseIP("::1"), Port: 443},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 8080, Zone: "eth0"},
		&net.TCPAddr{IP: net.ParseIP("::ffff:10.0.0.1"), Port: 1},
		&net.TCPAddr{IP: net.ParseIP("2001:db8::ff00:42:8329"), Port: 65535},
		&net.TCPAddr{Port: 9},
		&net.UnixAddr{Name: "/tmp/s", Net: "unix"},
	} {
		if got, want := addrString(a), a.String(); got != want {
			t.Errorf("addrString(%#v) = %q, want %q", a, got, want)
		}
	}
}
