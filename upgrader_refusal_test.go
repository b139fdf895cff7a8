package websocket

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// Refusals close the connection (issue 17.2) and a handshake with a body
// is refused (RFC 9112 §6; issue 16 / 17.4), on both server paths: a
// net/http handler calling Upgrade, and Serve on a bare listener.

// refusalServers starts the two server paths for u: an httptest server
// whose /ws calls Upgrade and whose /admin answers "admin page", and
// Serve on a listener of its own. upgraded receives a value per upgrade.
func refusalServers(t *testing.T, u *Upgrader) (paths map[string]string, upgraded chan struct{}) {
	upgraded = make(chan struct{}, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		upgraded <- struct{}{}
		c.Close()
	})
	mux.HandleFunc("/admin", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "admin page")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	serveAddr := serveRaw(t, u, func(c *Conn, r *http.Request) { upgraded <- struct{}{} })
	return map[string]string{
		"net/http": strings.TrimPrefix(srv.URL, "http://"),
		"Serve":    serveAddr,
	}, upgraded
}

// readToEnd sends req on a fresh connection and reads until the server
// closes it. It fails the test when the connection is still open after 5
// seconds (a bound on a failure, not a timing assertion).
func readToEnd(t *testing.T, addr string, req []byte) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write(req); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(nc)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the connection was not closed after the refusal: %v; read %q", err, got)
	}
	return string(got)
}

func upgradeRequest(addr string, edit func(h http.Header)) []byte {
	h := wstest.DefaultHeader(addr, wstest.NewKey())
	if edit != nil {
		edit(h)
	}
	return wstest.BuildRequest("GET", "/ws", "HTTP/1.1", h)
}

// TestUpgrade_refusalClosesConnection_pipelinedRequestNeverServed: a
// refused upgrade (426 version, 426 hixie-76 disabled, 403 origin, 400 key)
// followed, in the same write, by GET /admin gets its refusal with
// Connection: close, then the end of the connection; the admin page never
// comes. This is the backend half of WebSocket smuggling: a proxy that
// starts tunnelling on the Upgrade header would otherwise let the second
// request reach the backend unchecked.
func TestUpgrade_refusalClosesConnection_pipelinedRequestNeverServed(t *testing.T) {
	t.Parallel()
	paths, _ := refusalServers(t, &Upgrader{})
	tests := []struct {
		name   string
		status string
		edit   func(h http.Header)
	}{
		{"version 12", "426", func(h http.Header) { h.Set("Sec-WebSocket-Version", "12") }},
		{"foreign origin", "403", func(h http.Header) { h.Set("Origin", "http://evil.example") }},
		{"bad key", "400", func(h http.Header) { h.Set("Sec-WebSocket-Key", "short") }},
		{"hixie-76 disabled", "426", func(h http.Header) {
			h.Del("Sec-WebSocket-Version")
			h.Del("Sec-WebSocket-Key")
			h.Set("Sec-WebSocket-Key1", "4 @1  46546xW%0l 1 5")
			h.Set("Sec-WebSocket-Key2", "12998 5 Y3 1  .P00")
		}},
	}
	for path, addr := range paths {
		for _, tt := range tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				req := upgradeRequest(addr, tt.edit)
				req = append(req, "GET /admin HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"...)
				got := readToEnd(t, addr, req)
				if !strings.HasPrefix(got, "HTTP/1.1 "+tt.status+" ") {
					t.Fatalf("want %s, got %q", tt.status, got)
				}
				head, _, _ := strings.Cut(got, "\r\n\r\n")
				if !strings.Contains(strings.ToLower(head), "\r\nconnection: close") {
					t.Errorf("refusal without Connection: close:\n%s", head)
				}
				if strings.Contains(got, "admin page") || strings.Count(got, "HTTP/1.1 ") != 1 {
					t.Errorf("the pipelined request was served after the refusal:\n%s", got)
				}
			})
		}
	}
}

// TestUpgrade_errorHookRefusalStillCloses: with Upgrader.Error writing the
// refusal, the connection is closed after it all the same.
func TestUpgrade_errorHookRefusalStillCloses(t *testing.T) {
	t.Parallel()
	u := &Upgrader{Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
		http.Error(w, "custom refusal", status)
	}}
	paths, _ := refusalServers(t, u)
	addr := paths["net/http"]
	req := upgradeRequest(addr, func(h http.Header) { h.Set("Origin", "http://evil.example") })
	got := readToEnd(t, addr, append(req, "GET /admin HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"...))
	if !strings.HasPrefix(got, "HTTP/1.1 403 ") || !strings.Contains(got, "custom refusal") || strings.Contains(got, "admin page") {
		t.Errorf("got %q", got)
	}
}

// TestUpgrade_requestWithBody_refused400AndClosed: an upgrade request with
// a body (Content-Length, or chunked) is answered 400 with a reason and
// the connection closed at once, on both paths, even when the client never
// sends the body it declared; the body is never read as frames.
// Content-Length: 0 is no body and upgrades.
func TestUpgrade_requestWithBody_refused400AndClosed(t *testing.T) {
	t.Parallel()
	u := &Upgrader{}
	paths, upgraded := refusalServers(t, u)
	tests := []struct {
		name string
		head string
		body string
	}{
		{"Content-Length 5", "Content-Length: 5\r\n", "\x81\x80abc"}, // the body looks like a frame
		{"chunked", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"},
		{"Content-Length and pipelined GET", "Content-Length: 5\r\n", "hello" + "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n"},
		// net/http reads the rest of a body before closing: a body
		// declared and never sent must not hold the connection open.
		{"Content-Length 100, body never sent", "Content-Length: 100\r\n", ""},
		{"chunked, body never ends", "Transfer-Encoding: chunked\r\n", "5\r\nhel"},
	}
	for path, addr := range paths {
		for _, tt := range tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				req := upgradeRequest(addr, nil)
				req = append(req[:len(req)-2], tt.head+"\r\n"+tt.body...)
				got := readToEnd(t, addr, req)
				if !strings.HasPrefix(got, "HTTP/1.1 400 ") || !strings.Contains(got, "must not have a body") {
					t.Fatalf("want 400 with a reason, got %q", got)
				}
				if strings.Contains(got, "admin page") || strings.Count(got, "HTTP/1.1 ") != 1 {
					t.Errorf("more than the refusal was answered:\n%s", got)
				}
			})
		}
		t.Run(path+"/Content-Length 0 upgrades", func(t *testing.T) {
			req := upgradeRequest(addr, func(h http.Header) { h.Set("Content-Length", "0") })
			c := wstest.RawDial(t, addr, req)
			if c.Resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("got %s", c.Resp.StatusLine)
			}
			<-upgraded
		})
	}
}

// TestUpgrade_hixie76Key3DeclaredAsBody: hixie-76's key3 declared with
// Content-Length: 8 (as Perl's Protocol::WebSocket sends it) is no body to
// refuse: HTTP's end of the request is where the frames begin, and the
// handshake completes on both paths. Any other length, or chunked, is
// refused with 400.
func TestUpgrade_hixie76Key3DeclaredAsBody(t *testing.T) {
	t.Parallel()
	paths, upgraded := refusalServers(t, &Upgrader{EnableHixie76: true})
	v := hixieVectors[0]
	key3 := string(hixieHex(t, v.key3))
	for path, addr := range paths {
		req := func(extra string) []byte {
			return append(hixieRequest("/ws", addr, "Upgrade: WebSocket", "Connection: Upgrade",
				"Sec-WebSocket-Key1: "+v.key1, "Sec-WebSocket-Key2: "+v.key2, extra), key3...)
		}
		t.Run(path+"/Content-Length 8", func(t *testing.T) {
			c := wstest.RawDial(t, addr, req("Content-Length: 8"))
			if c.Resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("got %s", c.Resp.StatusLine)
			}
			if want := string(hixieHex(t, v.answer)); string(c.Resp.Extra) != want {
				t.Errorf("challenge answer %q, want %q", c.Resp.Extra, want)
			}
			<-upgraded
		})
		for _, head := range []string{"Content-Length: 9", "Transfer-Encoding: chunked"} {
			t.Run(path+"/"+head, func(t *testing.T) {
				got := readToEnd(t, addr, req(head))
				if !strings.HasPrefix(got, "HTTP/1.1 400 ") || !strings.Contains(got, "must not have a body") {
					t.Errorf("got %q", got)
				}
			})
		}
	}
}
