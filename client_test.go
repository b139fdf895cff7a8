package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoServer serves an echo Upgrader over plain HTTP (or TLS) and returns
// its ws:// (or wss://) URL.
func echoServer(t *testing.T, u *Upgrader, tlsOn bool) (string, *httptest.Server) {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, http.Header{"Set-Cookie": {"seen=" + r.Header.Get("X-Trace")}})
		if err != nil {
			return
		}
		defer c.Close()
		echoLoop(c, false)
	})
	var srv *httptest.Server
	if tlsOn {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), srv
}

func roundTrips(t *testing.T, c *Conn) {
	t.Helper()
	for _, n := range []int{0, 1, 125, 126, 4000, 5000, 70000, 1 << 20} {
		for _, mt := range []int{TextMessage, BinaryMessage} {
			msg := bytes.Repeat([]byte("héllo "), n/7+1)[:n]
			if mt == TextMessage {
				msg = bytes.ToValidUTF8(msg, nil)
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				t.Fatalf("write %d: %v", n, err)
			}
			gotType, got, err := c.ReadMessage()
			if err != nil || gotType != mt || !bytes.Equal(got, msg) {
				t.Fatalf("echo of %d bytes: type %d, %d bytes, %v", len(msg), gotType, len(got), err)
			}
		}
	}
	// Streamed, through NextWriter, with a ping in between.
	w, err := c.NextWriter(BinaryMessage)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte{7}, 10000))
	c.WriteControl(PingMessage, []byte("p"), time.Now().Add(time.Second))
	w.Write(bytes.Repeat([]byte{7}, 10000))
	w.Close()
	if _, got, err := c.ReadMessage(); err != nil || len(got) != 20000 {
		t.Fatalf("streamed echo: %d bytes, %v", len(got), err)
	}
}

func TestDialer_echoPlainTLSAndCompressed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		tls      bool
		compress bool
	}{{"ws", false, false}, {"wss", true, false}, {"ws+deflate", false, true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wsURL, srv := echoServer(t, &Upgrader{EnableCompression: tt.compress}, tt.tls)
			d := &Dialer{EnableCompression: tt.compress, HandshakeTimeout: 5 * time.Second}
			if tt.tls {
				d.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
			}
			c, resp, err := d.Dial(wsURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := c.pmd != nil; got != tt.compress {
				t.Fatalf("compression negotiated: %v, want %v (%q)", got, tt.compress, resp.Header.Get("Sec-WebSocket-Extensions"))
			}
			roundTrips(t, c)
			if err := c.CloseHandshake(CloseNormalClosure, "done"); err != nil {
				t.Fatalf("CloseHandshake: %v", err)
			}
		})
	}
}

func TestDialer_subprotocolHeadersAndCookies(t *testing.T) {
	t.Parallel()
	wsURL, _ := echoServer(t, &Upgrader{Subprotocols: []string{"v2", "v1"}}, false)
	jar, _ := cookiejar.New(nil)
	d := &Dialer{Subprotocols: []string{"v1", "v2"}, Jar: jar}
	c, resp, err := d.Dial(wsURL, http.Header{"X-Trace": {"abc"}, "Origin": {"http://" + strings.TrimPrefix(wsURL, "ws://")}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Subprotocol() != "v2" {
		t.Errorf("subprotocol %q, want the server's preference v2", c.Subprotocol())
	}
	u, _ := urlParse(wsURL)
	if cs := jar.Cookies(u); len(cs) != 1 || cs[0].Value != "abc" {
		t.Errorf("cookie jar has %v; response %v", cs, resp.Header)
	}
	if _, _, err := d.Dial(wsURL, http.Header{"Sec-WebSocket-Key": {"x"}}); err == nil {
		t.Error("a handshake header in requestHeader was accepted")
	}
}

func urlParse(ws string) (*url.URL, error) { return url.Parse("http" + strings.TrimPrefix(ws, "ws")) }

func TestDialer_refusedHandshakeIsErrBadHandshake(t *testing.T) {
	t.Parallel()
	wsURL, _ := echoServer(t, &Upgrader{}, false)
	c, resp, err := DefaultDialer.Dial(wsURL, http.Header{"Origin": {"http://elsewhere.example"}})
	if err != ErrBadHandshake || c != nil {
		t.Fatalf("got %v, %v; want ErrBadHandshake", c, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("origin")) {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if _, _, err := DefaultDialer.Dial("http://example.com/", nil); err == nil {
		t.Fatal("http:// scheme accepted")
	}
}

// A server that accepts TCP but never answers: the context ends the dial.
func TestDialer_contextAndTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns sync.WaitGroup
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { defer conns.Done(); io.Copy(io.Discard, nc); nc.Close() }()
		}
	}()
	wsURL := "ws://" + ln.Addr().String() + "/"
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := (&Dialer{}).DialContext(ctx, wsURL, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline", err)
	}
	if _, _, err := (&Dialer{HandshakeTimeout: 150 * time.Millisecond}).Dial(wsURL, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("HandshakeTimeout: got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
	ln.Close()
	conns.Wait()
}

// The client refuses masked frames from a server (RFC 6455 §5.1).
func TestDialer_maskedServerFrameFails1002(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closeFrame := make(chan []byte, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			computeAcceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
		frame := appendHeader(nil, true, 0, opText, 2, true, [4]byte{1, 2, 3, 4})
		nc.Write(append(append([]byte(resp), frame...), 'h'^1, 'i'^2))
		// The client answers with a masked close frame: 1002.
		var hdr [6]byte
		io.ReadFull(br, hdr[:])
		h, _, _ := parseHeader(hdr[:])
		payload := make([]byte, h.length)
		io.ReadFull(br, payload)
		mask(h.key, 0, payload)
		closeFrame <- append([]byte{hdr[0], hdr[1] & 0x80}, payload...)
	}()
	c, _, err := (&Dialer{}).Dial("ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var pe *ProtocolError
	if _, _, err := c.ReadMessage(); !errors.As(err, &pe) || pe.Code != CloseProtocolError {
		t.Fatalf("got %v, want a 1002 ProtocolError", err)
	}
	got := <-closeFrame
	if got[0] != 0x88 || got[1] != 0x80 || got[2] != 0x03 || got[3] != 0xea {
		t.Fatalf("client's close frame % x: want a masked close with 1002", got)
	}
}

// A CONNECT proxy in the middle (RFC 9110 §9.3.6).
func TestDialer_throughConnectProxy(t *testing.T) {
	t.Parallel()
	wsURL, _ := echoServer(t, &Upgrader{}, false)
	var tunnels sync.WaitGroup
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Header.Get("Proxy-Authorization") == "" {
			http.Error(w, "want CONNECT with credentials", http.StatusProxyAuthRequired)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		nc, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		brw.Flush()
		tunnels.Add(2)
		// From brw, not nc: net/http's background read may already hold
		// the client's first byte in the hijacked reader.
		go func() { defer tunnels.Done(); io.Copy(up, brw.Reader); up.Close() }()
		go func() { defer tunnels.Done(); io.Copy(nc, up); nc.Close() }()
	}))
	defer func() { proxy.Close(); tunnels.Wait() }()
	proxyURL, _ := urlParse("ws" + strings.TrimPrefix(proxy.URL, "http"))
	proxyURL.User = url.UserPassword("u", "p")
	d := &Dialer{Proxy: http.ProxyURL(proxyURL)}
	c, _, err := d.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(TextMessage, []byte("via proxy")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "via proxy" {
		t.Fatalf("%q %v", p, err)
	}
	c.CloseHandshake(CloseNormalClosure, "")
}

// The client's reading of the server's permessage-deflate answer (RFC 7692
// §7.1), roles swapped into deflateParams (server* = what the client sends).
func TestClientAcceptDeflate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		answer string
		ok     bool
		want   deflateParams
	}{
		{"permessage-deflate; server_no_context_takeover; client_no_context_takeover", true,
			deflateParams{serverNoTakeover: true, clientNoTakeover: true, serverBits: 15, clientBits: 15}},
		{"permessage-deflate; client_max_window_bits=12; server_max_window_bits=10", true,
			deflateParams{serverNoTakeover: true, serverBits: 12, clientBits: 10}},
		{"permessage-deflate; client_max_window_bits", false, deflateParams{}},
		{"permessage-deflate; server_max_window_bits=16", false, deflateParams{}},
		{"permessage-deflate; server_no_context_takeover=1", false, deflateParams{}},
		{"permessage-deflate; x_custom", false, deflateParams{}},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", false, deflateParams{}},
		{"permessage-deflate, permessage-deflate", false, deflateParams{}},
		{"x-webkit-deflate-frame", false, deflateParams{}},
	}
	for _, tt := range tests {
		cfg, err := clientAcceptDeflate([]string{tt.answer})
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v, want ok=%v", tt.answer, err, tt.ok)
			continue
		}
		if tt.ok && cfg.params != tt.want {
			t.Errorf("%q: params %+v, want %+v", tt.answer, cfg.params, tt.want)
		}
	}
}
