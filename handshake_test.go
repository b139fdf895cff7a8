package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hybi/websocket/internal/wstest"
)

// RFC 6455 §1.3.
func TestComputeAcceptKey_rfcVector(t *testing.T) {
	t.Parallel()
	if got := computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("got %q", got)
	}
}

func TestHeaderHasToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, header string
		values       []string
		token        string
		want         bool
	}{
		{"plain", "Connection", []string{"Upgrade"}, "upgrade", true},
		{"list any case", "Connection", []string{"keep-alive, UPGRADE"}, "upgrade", true},
		{"second line", "Connection", []string{"keep-alive", "upgrade"}, "upgrade", true},
		{"substring only", "Connection", []string{"upgraded"}, "upgrade", false},
		{"tabs", "Connection", []string{"\tupgrade\t"}, "upgrade", true},
		{"upgrade with version", "Upgrade", []string{"h2c, WebSocket/13"}, "websocket", true},
		{"absent", "Upgrade", nil, "websocket", false},
	}
	for _, tt := range tests {
		h := http.Header{}
		for _, v := range tt.values {
			h.Add(tt.header, v)
		}
		if got := headerHasToken(h, tt.header, tt.token); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

func TestSelectSubprotocol_serverPreference(t *testing.T) {
	t.Parallel()
	if got := selectSubprotocol([]string{"b", "a"}, []string{"a", "b"}); got != "b" {
		t.Fatalf("got %q, want the server's first choice b", got)
	}
	if got := selectSubprotocol([]string{"x"}, []string{"a"}); got != "" {
		t.Fatalf("got %q for no overlap", got)
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		origin []string
		host   string
		want   bool
	}{
		{nil, "example.com", true},
		{[]string{"http://example.com"}, "example.com", true},
		{[]string{"https://EXAMPLE.com:8443"}, "example.com:8443", true},
		{[]string{"http://evil.com"}, "example.com", false},
		{[]string{"null"}, "example.com", false},
		{[]string{"http://example.com", "http://evil.com"}, "example.com", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = tt.host
		for _, o := range tt.origin {
			r.Header.Add("Origin", o)
		}
		if got := sameOrigin(r); got != tt.want {
			t.Errorf("origin %q host %q: got %v", tt.origin, tt.host, got)
		}
	}
}

func TestCheckResponseHeader_refusesInjection(t *testing.T) {
	t.Parallel()
	bad := []http.Header{
		{"X-A": {"v\r\nSet-Cookie: x=1"}},
		{"X-A": {"v\nx"}},
		{"Bad Name": {"v"}},
		{"Sec-Websocket-Extensions": {"permessage-deflate"}},
		{"Upgrade": {"h2c"}},
	}
	for _, h := range bad {
		if err := checkResponseHeader(h); err == nil {
			t.Errorf("%q accepted", h)
		}
	}
	if err := checkResponseHeader(http.Header{"Set-Cookie": {"a=b; Path=/"}}); err != nil {
		t.Errorf("a cookie refused: %v", err)
	}
}

// handshakeServer serves one Upgrader on a loopback httptest server and
// echoes on the upgraded connection.
func handshakeServer(t *testing.T, u *Upgrader, responseHeader http.Header) (addr string, errs chan error) {
	errs = make(chan error, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, responseHeader)
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		echoLoop(c, false)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), errs
}

func TestUpgrade_refusals(t *testing.T) {
	t.Parallel()
	good := func(addr string) http.Header { return wstest.DefaultHeader(addr, wstest.NewKey()) }
	tests := []struct {
		name   string
		method string
		proto  string
		edit   func(h http.Header)
		status int
	}{
		{"POST", "POST", "HTTP/1.1", nil, 405},
		{"HTTP/1.0", "GET", "HTTP/1.0", nil, 400},
		{"no Connection upgrade", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Connection", "keep-alive") }, 400},
		{"no Upgrade", "GET", "HTTP/1.1", func(h http.Header) { h.Del("Upgrade") }, 400},
		{"version 8", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Sec-WebSocket-Version", "8") }, 426},
		{"no version", "GET", "HTTP/1.1", func(h http.Header) { h.Del("Sec-WebSocket-Version") }, 426},
		{"short key", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Sec-WebSocket-Key", "AAAA") }, 400},
		{"key of 17 bytes", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA=") }, 400},
		{"no key", "GET", "HTTP/1.1", func(h http.Header) { h.Del("Sec-WebSocket-Key") }, 400},
		{"two keys", "GET", "HTTP/1.1", func(h http.Header) { h.Add("Sec-WebSocket-Key", wstest.NewKey()) }, 400},
		{"foreign origin", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Origin", "http://evil.example") }, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, errs := handshakeServer(t, &Upgrader{}, nil)
			h := good(addr)
			if tt.edit != nil {
				tt.edit(h)
			}
			resp := wstest.RawHandshake(t, addr, wstest.BuildRequest(tt.method, "/", tt.proto, h))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.status, resp.Raw)
			}
			if tt.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Errorf("426 without Sec-WebSocket-Version: 13")
			}
			if len(bytes.TrimSpace(resp.Body)) == 0 || bytes.Count(bytes.TrimSpace(resp.Body), []byte("\n")) != 0 {
				t.Errorf("body should be a one-line reason, got %q", resp.Body)
			}
			err := <-errs
			var he HandshakeError
			if !errors.As(err, &he) || he.Status != tt.status {
				t.Errorf("Upgrade returned %#v, want HandshakeError with status %d", err, tt.status)
			}
		})
	}
}

func TestUpgrade_errorHookAndSubprotocolAndHeaders(t *testing.T) {
	t.Parallel()
	var hookStatus int
	u := &Upgrader{
		Subprotocols: []string{"v2", "v1"},
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			hookStatus = status
			http.Error(w, "custom", status)
		},
	}
	addr, _ := handshakeServer(t, u, http.Header{"Set-Cookie": {"id=1"}})
	h := wstest.DefaultHeader(addr, wstest.NewKey())
	h.Set("Sec-WebSocket-Protocol", "v1, v2")
	c := wstest.Dial(t, addr, "/", h)
	if got := c.Resp.Header.Values("Sec-WebSocket-Protocol"); len(got) != 1 || got[0] != "v2" {
		t.Errorf("subprotocol %q, want the server's preference v2", got)
	}
	if c.Resp.Header.Get("Set-Cookie") != "id=1" {
		t.Errorf("response header lost: %s", c.Resp.Raw)
	}
	h.Set("Sec-WebSocket-Version", "7")
	resp := wstest.RawHandshake(t, addr, wstest.BuildRequest("GET", "/", "HTTP/1.1", h))
	if resp.StatusCode != 426 || !bytes.Contains(resp.Body, []byte("custom")) {
		t.Errorf("Error hook not used: %d %q", resp.StatusCode, resp.Body)
	}
	_ = hookStatus
}

func TestUpgrade_injectedResponseHeaderRefused(t *testing.T) {
	t.Parallel()
	addr, errs := handshakeServer(t, &Upgrader{}, http.Header{"X-Evil": {"a\r\nInjected: yes"}})
	resp := wstest.RawHandshake(t, addr, wstest.BuildRequest("GET", "/", "HTTP/1.1", wstest.DefaultHeader(addr, wstest.NewKey())))
	if resp.StatusCode != 500 || resp.Header.Get("Injected") != "" {
		t.Fatalf("status %d\n%s", resp.StatusCode, resp.Raw)
	}
	if err := <-errs; err == nil {
		t.Fatal("no error")
	}
}

// A handshake request, fuzzed: checkUpgradeRequest and checkRequest never
// panic, and accept only what a well-formed request carries.
func FuzzHandshakeRequest(f *testing.F) {
	f.Add([]byte("GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, upgrade\r\nSec-WebSocket-Key: AAAA\r\nSec-WebSocket-Version: 8\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		if status, err := checkUpgradeRequest(r); err != nil {
			if status < 400 {
				t.Fatalf("status %d with error", status)
			}
			return
		}
		req, status, err := checkRequest(r.Header)
		if err != nil {
			if status != 400 && status != 426 {
				t.Fatalf("status %d", status)
			}
			return
		}
		if len(req.key) != 24 || r.Header.Get("Sec-Websocket-Version") != "13" && strings.TrimSpace(r.Header.Get("Sec-Websocket-Version")) != "13" {
			t.Fatalf("accepted key %q version %q", req.key, r.Header.Get("Sec-Websocket-Version"))
		}
		Subprotocols(r)
		IsWebSocketUpgrade(r)
	})
}
