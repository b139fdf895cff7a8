// Package wstest is an independent RFC 6455 test client for the library's
// own tests. It speaks the protocol directly on a net.Conn, with its own
// handshake, framing and masking code, and shares nothing with the package
// under test: a bug in the library's frame code cannot hide itself by being
// reused here.
//
// The client gives full control of what goes on the wire (any header bit,
// opcode, length form or masking, frames cut into chops with pauses between)
// and strict expectations on what comes back ([Client.ExpectMessage],
// [Client.ExpectClose], [Client.ExpectConnClosed]). Every helper takes the
// testing.TB given to [Dial] and fails the test itself; none may be called
// from a goroutine other than the test's, except [Client.WriteRaw],
// [Client.WriteFrame] and [Client.WriteChopped], which only return errors.
package wstest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// acceptGUID is the fixed string of RFC 6455 §1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// DefaultTimeout bounds each read and write of a [Client] unless its Timeout
// field says otherwise.
const DefaultTimeout = 5 * time.Second

// NewKey returns a fresh Sec-WebSocket-Key: 16 random bytes, base64 encoded
// (RFC 6455 §4.1).
func NewKey() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

// AcceptKey returns the Sec-WebSocket-Accept value the server must send for
// key: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2 step 5.4).
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// DefaultHeader returns the headers of a valid RFC 6455 opening handshake for
// host with the given key. Keys are in canonical form, so Set and Del on the
// result replace them.
func DefaultHeader(host, key string) http.Header {
	h := http.Header{}
	h.Set("Host", host)
	h.Set("Upgrade", "websocket")
	h.Set("Connection", "Upgrade")
	h.Set("Sec-WebSocket-Key", key)
	h.Set("Sec-WebSocket-Version", "13")
	return h
}

// BuildRequest returns the bytes of an HTTP request: the request line
// "method target proto", Host first when present, the other headers sorted by
// name (each value of a key on its own line), and the blank line. Nothing is
// checked or added, so it can build any malformed request.
func BuildRequest(method, target, proto string, h http.Header) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", method, target, proto)
	keys := make([]string, 0, len(h))
	for k := range h {
		if k != "Host" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if _, ok := h["Host"]; ok {
		keys = append([]string{"Host"}, keys...)
	}
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// Response is an HTTP response as read off the wire by the client.
type Response struct {
	StatusLine string // e.g. "HTTP/1.1 101 Switching Protocols"
	Proto      string // e.g. "HTTP/1.1"
	StatusCode int
	Header     http.Header
	// Raw holds the status line and header block exactly as received,
	// including the final blank line.
	Raw []byte
	// Extra holds a copy of the bytes that arrived after the header block in
	// the same reads (for a 101, the first frames). The client keeps them
	// buffered: ReadFrame returns them first.
	Extra []byte
	// Body is the response body; [RawHandshake] fills it for non-101
	// responses.
	Body []byte
}

// Client is a raw WebSocket client connection. Its methods are not safe for
// concurrent use, except that one goroutine may write (WriteRaw, WriteFrame,
// WriteChopped) while the test goroutine reads.
type Client struct {
	// Timeout bounds each read and write; zero means DefaultTimeout.
	Timeout time.Duration
	// Resp is the handshake response.
	Resp *Response

	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

// Conn returns the underlying connection.
func (c *Client) Conn() net.Conn { return c.conn }

// Close closes the TCP connection. [Dial] and [RawDial] also register it with
// t.Cleanup.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Dial connects to addr, performs the RFC 6455 opening handshake for path and
// checks the answer: status 101, Upgrade containing "websocket", Connection
// containing "Upgrade" and the right Sec-WebSocket-Accept. Entries of hdr
// replace the default headers of the same name (see [DefaultHeader]); an
// entry with no values removes that header. It fails the test on any error.
func Dial(t testing.TB, addr, path string, hdr http.Header) *Client {
	t.Helper()
	return DialPipelined(t, addr, path, hdr, nil)
}

// DialPipelined is [Dial] with after written in the same Write call as the
// request, so the server finds those bytes (typically frames) already
// buffered behind the handshake.
func DialPipelined(t testing.TB, addr, path string, hdr http.Header, after []byte) *Client {
	t.Helper()
	h := DefaultHeader(addr, NewKey())
	for k, v := range hdr {
		k = http.CanonicalHeaderKey(k)
		if len(v) == 0 {
			delete(h, k)
			continue
		}
		h[k] = v
	}
	req := append(BuildRequest("GET", path, "HTTP/1.1", h), after...)
	c := RawDial(t, addr, req)
	r := c.Resp
	if r.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("wstest: handshake for %s: status %q, want 101; response:\n%s", path, r.StatusLine, r.Raw)
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		t.Fatalf("wstest: 101 without Upgrade: websocket; response:\n%s", r.Raw)
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		t.Fatalf("wstest: 101 without Connection: Upgrade; response:\n%s", r.Raw)
	}
	acc := r.Header.Values("Sec-WebSocket-Accept")
	if want := AcceptKey(h.Get("Sec-WebSocket-Key")); len(acc) != 1 || acc[0] != want {
		t.Fatalf("wstest: Sec-WebSocket-Accept %q, want [%q]; response:\n%s", acc, want, r.Raw)
	}
	return c
}

// RawDial connects to addr, writes req as one Write call and reads the
// response's status line and headers into c.Resp, whatever the status. The
// body, if any, is left unread. Use it for handshakes [Dial] cannot express;
// it fails the test only on I/O errors.
func RawDial(t testing.TB, addr string, req []byte) *Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, DefaultTimeout)
	if err != nil {
		t.Fatalf("wstest: dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &Client{t: t, conn: conn, br: bufio.NewReaderSize(conn, 64<<10)}
	if err := c.WriteRaw(req); err != nil {
		t.Fatalf("wstest: write handshake request: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(c.timeout()))
	resp, err := readResponseHead(c.br)
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		t.Fatalf("wstest: read handshake response: %v (read so far: %q)", err, resp.Raw)
	}
	if n := c.br.Buffered(); n > 0 {
		p, _ := c.br.Peek(n)
		resp.Extra = append([]byte(nil), p...)
	}
	c.Resp = resp
	return c
}

// RawHandshake sends req on a fresh connection and returns the response
// with its body (read by Content-Length, chunked encoding, or up to the
// connection's end), then closes the connection. For handshake-negative
// tests: the request bytes are sent exactly as given.
func RawHandshake(t testing.TB, addr string, req []byte) *Response {
	t.Helper()
	c := RawDial(t, addr, req)
	defer c.Close()
	r := c.Resp
	if r.StatusCode == http.StatusSwitchingProtocols {
		return r
	}
	c.conn.SetReadDeadline(time.Now().Add(c.timeout()))
	var body io.Reader
	switch {
	case strings.EqualFold(r.Header.Get("Transfer-Encoding"), "chunked"):
		body = httputil.NewChunkedReader(c.br)
	case r.Header.Get("Content-Length") != "":
		n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
		if err != nil || n < 0 {
			t.Fatalf("wstest: bad Content-Length in response:\n%s", r.Raw)
		}
		body = io.LimitReader(c.br, n)
	default:
		body = c.br
	}
	b, err := io.ReadAll(body)
	if err != nil && !isConnEnd(err) {
		t.Fatalf("wstest: read response body: %v (got %q)", err, b)
	}
	r.Body = b
	return r
}

// readResponseHead reads a status line and header lines up to the blank
// line. The returned Response is never nil; Raw holds what was read.
func readResponseHead(br *bufio.Reader) (*Response, error) {
	r := &Response{Header: http.Header{}}
	first := true
	for {
		line, err := br.ReadString('\n')
		r.Raw = append(r.Raw, line...)
		if err != nil {
			return r, noEOF(err)
		}
		if !strings.HasSuffix(line, "\r\n") {
			return r, fmt.Errorf("line not ended by CRLF: %q", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if first {
			first = false
			r.StatusLine = line
			proto, rest, ok1 := strings.Cut(line, " ")
			code, _, _ := strings.Cut(rest, " ")
			n, err := strconv.Atoi(code)
			if !ok1 || err != nil || len(code) != 3 || !strings.HasPrefix(proto, "HTTP/") {
				return r, fmt.Errorf("malformed status line %q", line)
			}
			r.Proto, r.StatusCode = proto, n
			continue
		}
		if line == "" {
			return r, nil
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.TrimSpace(k) != k {
			return r, fmt.Errorf("malformed header line %q", line)
		}
		r.Header.Add(k, strings.Trim(v, " \t"))
	}
}

// headerHasToken reports whether a comma-separated header contains token,
// ignoring case (RFC 7230 §7 lists).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}
