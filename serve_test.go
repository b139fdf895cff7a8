package websocket

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/hixieclient"
	"github.com/hybi/websocket/internal/wstest"
)

// serveRaw runs u.Serve on a loopback listener and returns its address;
// the listener is closed at cleanup and Serve must then return.
func serveRaw(t *testing.T, u *Upgrader, handler func(c *Conn, r *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- u.Serve(ln, handler) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve returned %v, want net.ErrClosed", err)
		}
	})
	return ln.Addr().String()
}

// Serve: the handshake, the request handed to the handler, frames sent
// right behind the request, an echo both ways.
func TestServe_echoWithRequestAndPipelinedFrames(t *testing.T) {
	t.Parallel()
	addr := serveRaw(t, &Upgrader{}, func(c *Conn, r *http.Request) {
		if r.URL.Path != "/chat" || r.URL.Query().Get("room") != "7" || r.Header.Get("X-Trace") != "abc" ||
			r.RemoteAddr == "" || r.Body != http.NoBody {
			t.Errorf("request: path %q query %q X-Trace %q RemoteAddr %q body %v", r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Trace"), r.RemoteAddr, r.Body)
		}
		echoLoop(c, false)
	})
	first := wstest.AppendFrame(nil, wstest.Msg(wstest.OpText, []byte("early")))
	cl := wstest.DialPipelined(t, addr, "/chat?room=7", http.Header{"X-Trace": {"abc"}}, first)
	cl.ExpectMessage(wstest.OpText, []byte("early"))
	big := bytes.Repeat([]byte("0123456789"), 10000)
	cl.Send(wstest.Msg(wstest.OpBinary, big))
	cl.ExpectMessage(wstest.OpBinary, big)
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(1000, "")))
	cl.ExpectClose(1000)
}

// Refused handshakes on a bare connection get the same status and reason
// as through net/http, as a complete HTTP/1.1 response, and the connection
// is closed.
func TestUpgradeConn_refusals(t *testing.T) {
	t.Parallel()
	addr := serveRaw(t, &Upgrader{}, func(c *Conn, r *http.Request) {
		t.Errorf("handler called for a refused handshake")
	})
	good := wstest.DefaultHeader(addr, wstest.NewKey())
	with := func(k, v string) http.Header {
		h := good.Clone()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		req    []byte
		status int
		reason string
	}{
		{"POST", wstest.BuildRequest("POST", "/", "HTTP/1.1", good), 405, "GET method"},
		{"no Upgrade", wstest.BuildRequest("GET", "/", "HTTP/1.1", with("Upgrade", "")), 400, "'websocket' token not found"},
		{"bad version", wstest.BuildRequest("GET", "/", "HTTP/1.1", with("Sec-WebSocket-Version", "8")), 426, "version"},
		{"foreign origin", wstest.BuildRequest("GET", "/", "HTTP/1.1", with("Origin", "http://evil.example")), 403, "origin"},
		{"HTTP/1.0", wstest.BuildRequest("GET", "/", "HTTP/1.0", good), 400, "HTTP/1.1"},
		{"garbage request line", []byte("HELLO\r\n\r\n"), 400, "malformed"},
		{"bad header line", []byte("GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"), 400, "malformed"},
		{"no Host", wstest.BuildRequest("GET", "/", "HTTP/1.1", with("Host", "")), 400, "Host"},
		{"two Hosts", []byte("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), 400, "too many Host"},
		{"bad Host", []byte("GET / HTTP/1.1\r\nHost: a b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), 400, "Host"},
		{"control character", []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), 400, "malformed"},
		{"huge headers", []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n"), 431, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := wstest.RawHandshake(t, addr, tc.req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d:\n%s", resp.StatusCode, tc.status, resp.Raw)
			}
			if resp.Header.Get("Connection") != "close" {
				t.Errorf("no Connection: close:\n%s", resp.Raw)
			}
			if !strings.Contains(strings.ToLower(string(resp.Body)), strings.ToLower(tc.reason)) {
				t.Errorf("body %q does not give the reason (%q)", resp.Body, tc.reason)
			}
		})
	}
}

// A client that sends half a request and stalls is dropped at the
// handshake timeout, with no answer and no goroutine left (leakcheck).
func TestUpgradeConn_stalledRequestTimesOut(t *testing.T) {
	t.Parallel()
	addr := serveRaw(t, &Upgrader{HandshakeTimeout: 100 * time.Millisecond}, func(c *Conn, r *http.Request) {
		t.Errorf("handler called")
	})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	n, err := nc.Read(make([]byte, 100))
	if n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("read %d bytes, %v; want the server to close without an answer", n, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

// hixie-76 works through UpgradeConn too (key3 read from the same reader).
func TestServe_hixie76(t *testing.T) {
	t.Parallel()
	addr := serveRaw(t, &Upgrader{EnableHixie76: true}, func(c *Conn, r *http.Request) {
		echoLoop(c, false)
	})
	cl := hixieDial(t, addr, hixieclient.Options{})
	if err := cl.WriteText("héllo"); err != nil {
		t.Fatal(err)
	}
	if got, err := cl.ReadText(); err != nil || got != "héllo" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// Serve over TLS: the request carries the TLS state, and the Dialer
// talks to it with wss.
func TestServe_TLS(t *testing.T) {
	t.Parallel()
	cert := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate
	cert.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln := tls.NewListener(ln, cert.TLS)
	go (&Upgrader{}).Serve(tln, func(c *Conn, r *http.Request) {
		if r.TLS == nil {
			t.Error("r.TLS is nil on a TLS connection")
		}
		echoLoop(c, false)
	})
	defer tln.Close()
	d := Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	c, _, err := d.Dial("wss://"+ln.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(TextMessage, []byte("secure")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "secure" {
		t.Fatalf("got %q, %v", p, err)
	}
}

// A panic in the handshake (a user's CheckOrigin) costs that connection
// only; Serve goes on.
func TestServe_panicInCheckOriginIsRecovered(t *testing.T) {
	logged := captureLog(t)
	up := &Upgrader{CheckOrigin: func(r *http.Request) bool {
		if r.URL.Path == "/panic" {
			panic("origin boom")
		}
		return true
	}}
	addr := serveRaw(t, up, func(c *Conn, r *http.Request) { echoLoop(c, false) })
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write(wstest.BuildRequest("GET", "/panic", "HTTP/1.1", wstest.DefaultHeader(addr, wstest.NewKey())))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := nc.Read(make([]byte, 100)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("read %d, %v; want the connection closed", n, err)
	}
	nc.Close()
	cl := wstest.Dial(t, addr, "/", nil)
	cl.Send(wstest.Msg(wstest.OpText, []byte("still here")))
	cl.ExpectMessage(wstest.OpText, []byte("still here"))
	if !strings.Contains(logged.String(), "origin boom") {
		t.Errorf("the panic was not logged: %q", logged.String())
	}
}

// A panicking handler costs its own connection only; Serve goes on.
func TestServe_handlerPanicIsRecovered(t *testing.T) {
	logged := captureLog(t)
	addr := serveRaw(t, &Upgrader{}, func(c *Conn, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		echoLoop(c, false)
	})
	cl := wstest.Dial(t, addr, "/panic", nil)
	cl.ExpectConnClosed()
	cl2 := wstest.Dial(t, addr, "/", nil)
	cl2.Send(wstest.Msg(wstest.OpText, []byte("still here")))
	cl2.ExpectMessage(wstest.OpText, []byte("still here"))
	if !strings.Contains(logged.String(), "boom") {
		t.Errorf("the panic was not logged: %q", logged.String())
	}
}

// captureLog sends the standard logger's output to a buffer until the test
// ends. Tests using it must not run in parallel.
func captureLog(t *testing.T) *lockedBuffer {
	logged := new(lockedBuffer)
	log.SetOutput(logged)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	return logged
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// FuzzUpgradeConn feeds arbitrary bytes to UpgradeConn as what a client
// sent before closing its side: it never panics, always returns, hands out
// a Conn exactly when it reports no error, and then only for a request
// that http.ReadRequest reads the same way.
func FuzzUpgradeConn(f *testing.F) {
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	valid := "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	f.Add([]byte(valid + "\r\n"))
	f.Add([]byte(valid + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n\x81\x80abcd"))
	f.Add([]byte(valid + "Host: other\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\nOrigin: http://example.com\r\n" +
		"Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n^n:ds[4U"))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ln.Close() })
	u := &Upgrader{
		HandshakeTimeout:  time.Second,
		EnableHixie76:     true,
		EnableCompression: true,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			client.Write(in)
			client.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, client) // the answer, until the server closes
		}()
		c, r, err := u.UpgradeConn(server)
		switch {
		case err != nil && (c != nil || r != nil):
			t.Fatalf("error %v with a Conn or request", err)
		case err == nil && (c == nil || r == nil):
			t.Fatal("no error, but no Conn or request")
		case err == nil:
			want, rerr := http.ReadRequest(bufio.NewReader(bytes.NewReader(in)))
			if rerr != nil || want.Method != r.Method || want.RequestURI != r.RequestURI || want.Host != r.Host {
				t.Fatalf("upgraded a request http.ReadRequest reads as %v (%v), UpgradeConn as %s %s %s", want, rerr, r.Method, r.RequestURI, r.Host)
			}
			c.Close()
		default:
			server.Close() // already closed by UpgradeConn; harmless
		}
		<-done
	})
}

// With MaxConns, Serve keeps at most that many connections open: one
// beyond it is closed unanswered; a slot comes back when a handler
// returns or a handshake fails, and connections already open are not
// disturbed.
func TestServe_maxConnsShedsTheExcess(t *testing.T) {
	t.Parallel()
	addr := serveRaw(t, &Upgrader{MaxConns: 2}, func(c *Conn, r *http.Request) { echoLoop(c, false) })
	a := wstest.Dial(t, addr, "/", nil)
	b := wstest.Dial(t, addr, "/", nil)
	if got := sendRaw(t, addr, validRequest(""), false); got.status != 0 {
		t.Fatalf("a third connection got %d, want it closed unanswered", got.status)
	}
	a.Close() // its handler's read fails and returns: a slot is free again
	// The release follows the handler's return, which this client does
	// not see: retry until it has happened.
	eventually := func(what string, req string, want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if got := sendRaw(t, addr, req, false); got.status == want {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: still %d", what, got.status)
			}
		}
	}
	eventually("after a handler returned", validRequest(""), 101)
	for i := 0; i < 3; i++ { // refused handshakes give their slot back too
		eventually("a refused handshake", requestWith("POST / HTTP/1.1"), 405)
	}
	eventually("after refusals", validRequest(""), 101)
	b.Send(wstest.Msg(wstest.OpText, []byte("undisturbed")))
	b.ExpectMessage(wstest.OpText, []byte("undisturbed"))
}
