package conformance

import (
	"net/http"
	"strings"
	"testing"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/wstest"
)

// The opening handshake (RFC 6455 §4.2): a GET over HTTP/1.1 or later,
// Connection listing "upgrade" and Upgrade listing "websocket" (any case,
// in comma lists), Sec-WebSocket-Version 13 (else 426 with the version the
// server speaks), a Sec-WebSocket-Key of 16 base64-encoded bytes, and an
// Origin the server accepts (else 403).

func echoServer(t *testing.T) *server {
	return newServer(t, &websocket.Upgrader{}, echoMessages)
}

// handshake sends a request built from the valid default headers changed by
// edit and returns the response.
func handshake(t *testing.T, s *server, method, proto string, edit func(h http.Header)) *wstest.Response {
	t.Helper()
	h := wstest.DefaultHeader(s.addr, wstest.NewKey())
	if edit != nil {
		edit(h)
	}
	return wstest.RawHandshake(t, s.addr, wstest.BuildRequest(method, "/", proto, h))
}

func TestHandshake_valid_accepted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(h http.Header)
	}{
		{"default", nil},
		{"connection keep-alive, Upgrade", func(h http.Header) { h.Set("Connection", "keep-alive, Upgrade") }},
		{"connection UPGRADE", func(h http.Header) { h.Set("Connection", "UPGRADE") }},
		{"connection on two lines", func(h http.Header) { h["Connection"] = []string{"keep-alive", "upgrade"} }},
		{"upgrade WebSocket", func(h http.Header) { h.Set("Upgrade", "WebSocket") }},
		{"upgrade in a list", func(h http.Header) { h.Set("Upgrade", "foo/1, websocket") }},
		{"same origin", func(h http.Header) { h.Set("Origin", "http://"+h.Get("Host")) }},
		{"HTTP/1.2", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := echoServer(t)
			key := wstest.NewKey()
			h := wstest.DefaultHeader(s.addr, key)
			if tc.edit != nil {
				tc.edit(h)
			}
			proto := "HTTP/1.1"
			if tc.name == "HTTP/1.2" {
				proto = tc.name
			}
			c := wstest.RawDial(t, s.addr, wstest.BuildRequest("GET", "/", proto, h))
			if r := c.Resp; r.StatusCode != 101 || r.Header.Get("Sec-WebSocket-Accept") != wstest.AcceptKey(key) {
				t.Fatalf("response:\n%s", r.Raw)
			}
			c.Send(text("Hello"))
			c.ExpectMessage(wstest.OpText, []byte("Hello"))
			closeNormally(t, c)
		})
	}
}

// RFC 6455 §1.3's example key gives the example accept value.
func TestHandshake_rfcExampleKey_acceptMatches(t *testing.T) {
	t.Parallel()
	s := echoServer(t)
	c := wstest.Dial(t, s.addr, "/chat", http.Header{"Sec-WebSocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}})
	if got := c.Resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Sec-WebSocket-Accept = %q", got)
	}
	if r := c.Resp; r.Header.Get("Sec-WebSocket-Protocol") != "" || r.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Fatalf("unrequested protocol or extension in response:\n%s", r.Raw)
	}
	closeNormally(t, c)
}

func TestHandshake_invalid_refused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		method string
		proto  string
		edit   func(h http.Header)
		status int
	}{
		{"POST 405", "POST", "HTTP/1.1", nil, 405},
		{"PUT 405", "PUT", "HTTP/1.1", nil, 405},
		{"HTTP/1.0 400", "GET", "HTTP/1.0", nil, 400},
		{"no Connection 400", "GET", "HTTP/1.1", func(h http.Header) { h.Del("Connection") }, 400},
		{"Connection keep-alive 400", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Connection", "keep-alive") }, 400},
		{"Connection upgraded 400", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Connection", "upgraded") }, 400},
		{"no Upgrade 400", "GET", "HTTP/1.1", func(h http.Header) { h.Del("Upgrade") }, 400},
		{"Upgrade h2c 400", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Upgrade", "h2c") }, 400},
		{"Upgrade websockets 400", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Upgrade", "websockets") }, 400},
		{"no key 400", "GET", "HTTP/1.1", func(h http.Header) { h.Del("Sec-WebSocket-Key") }, 400},
		{"key not base64 400", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Sec-WebSocket-Key", "not base64 at all!!!!!!!") }, 400},
		{"key of 15 bytes 400", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA") }, 400},
		{"key of 17 bytes 400", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA=") }, 400},
		{"two keys 400", "GET", "HTTP/1.1", func(h http.Header) { h.Add("Sec-WebSocket-Key", wstest.NewKey()) }, 400},
		{"version 8 426", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Sec-WebSocket-Version", "8") }, 426},
		{"version 14 426", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Sec-WebSocket-Version", "14") }, 426},
		{"no version 426", "GET", "HTTP/1.1", func(h http.Header) { h.Del("Sec-WebSocket-Version") }, 426},
		{"other origin 403", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Origin", "http://evil.example") }, 403},
		{"origin other port 403", "GET", "HTTP/1.1", func(h http.Header) { h.Set("Origin", "http://127.0.0.1:1") }, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := handshake(t, echoServer(t), tc.method, tc.proto, tc.edit)
			if r.StatusCode != tc.status {
				t.Fatalf("status %q, want %d; response:\n%s%s", r.StatusLine, tc.status, r.Raw, r.Body)
			}
			if r.Header.Get("Sec-WebSocket-Accept") != "" || r.Header.Get("Upgrade") != "" {
				t.Fatalf("refusal carries upgrade headers:\n%s", r.Raw)
			}
			// RFC 6455 §4.4: a 426 names the versions the server speaks.
			if tc.status == 426 && r.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Fatalf("426 without Sec-WebSocket-Version: 13:\n%s", r.Raw)
			}
		})
	}
}

func TestHandshake_checkOriginAndError_used(t *testing.T) {
	t.Parallel()
	statusc := make(chan int, 1)
	up := &websocket.Upgrader{
		CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://trusted.example" },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			statusc <- status
			http.Error(w, "custom refusal", status)
		},
	}
	s := newServer(t, up, echoMessages)
	r := handshake(t, s, "GET", "HTTP/1.1", func(h http.Header) { h.Set("Origin", "http://evil.example") })
	if gotStatus := <-statusc; r.StatusCode != 403 || gotStatus != 403 || !strings.Contains(string(r.Body), "custom refusal") {
		t.Fatalf("status %d (Error saw %d), body %q; want 403 from the Error callback", r.StatusCode, gotStatus, r.Body)
	}
	c := wstest.Dial(t, s.addr, "/", http.Header{"Origin": {"https://trusted.example"}})
	closeNormally(t, c)
}

// RFC 6455 §4.2.2: the server picks one of the client's subprotocols, here
// in the server's order of preference, or sends none.
func TestHandshake_subprotocol_serverPreference(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		offered []string
		want    string
	}{
		{"client order reversed", []string{"chat, chat.v2"}, "chat.v2"},
		{"two header lines", []string{"superchat", "chat"}, "chat"},
		{"only the second", []string{"other, chat"}, "chat"},
		{"none in common", []string{"other"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chosen := make(chan string, 1)
			up := &websocket.Upgrader{Subprotocols: []string{"chat.v2", "chat"}}
			s := newServer(t, up, func(c *websocket.Conn) { chosen <- c.Subprotocol(); echoMessages(c) })
			c := wstest.Dial(t, s.addr, "/", http.Header{"Sec-WebSocket-Protocol": tc.offered})
			got := c.Resp.Header.Values("Sec-WebSocket-Protocol")
			if tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || got[0] != tc.want) {
				t.Fatalf("Sec-WebSocket-Protocol %q, want %q", got, tc.want)
			}
			closeNormally(t, c)
			if got := <-chosen; got != tc.want {
				t.Fatalf("Conn.Subprotocol() = %q, want %q", got, tc.want)
			}
		})
	}
}

// With compression off, an offered extension is declined (no
// Sec-WebSocket-Extensions in the 101), and RSV1 stays a protocol error.
func TestHandshake_extensionOffered_declinedWhenCompressionOff(t *testing.T) {
	t.Parallel()
	s := echoServer(t)
	c := wstest.Dial(t, s.addr, "/", http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate; client_max_window_bits, x-webkit-deflate-frame"}})
	if got := c.Resp.Header.Values("Sec-WebSocket-Extensions"); len(got) != 0 {
		t.Fatalf("Sec-WebSocket-Extensions %q in the response, want none", got)
	}
	c.Send(withRsv(text("compressed?"), wstest.Rsv1))
	c.ExpectCloseNext(1002)
}

// Frames the client sends in the same write as its request are not lost.
func TestHandshake_framesPipelinedWithRequest_echoed(t *testing.T) {
	t.Parallel()
	for _, m := range echoModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, &websocket.Upgrader{}, m.handler)
			big := textPayload(10000)
			c := wstest.DialPipelined(t, s.addr, "/", nil, encode(text("first"), ping("p"), text(string(big))))
			c.ExpectMessage(wstest.OpText, []byte("first"))
			c.ExpectMessage(wstest.OpPong, []byte("p"))
			c.ExpectMessage(wstest.OpText, big)
			closeNormally(t, c)
		})
	}
	t.Run("close pipelined", func(t *testing.T) {
		t.Parallel()
		s := echoServer(t)
		c := wstest.DialPipelined(t, s.addr, "/", nil, encode(closeFrame(1000, "")))
		c.ExpectCloseNext(1000)
	})
}
