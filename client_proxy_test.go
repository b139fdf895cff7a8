package websocket

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// socksServer is a small SOCKS5 proxy (RFC 1928, RFC 1929) on loopback for
// the tests: it checks what the client sends and answers as configured.
type socksServer struct {
	ln       net.Listener
	user     string // when set, only username/password (method 2) is accepted
	pass     string
	rep      byte // the REP of the CONNECT reply; 0 tunnels to the target
	mu       sync.Mutex
	requests []string // "atyp host:port" of each CONNECT
	wg       sync.WaitGroup
}

func newSocksServer(t *testing.T, user, pass string, rep byte) *socksServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &socksServer{ln: ln, user: user, pass: pass, rep: rep}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(nc) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *socksServer) url(scheme string, user *url.Userinfo) *url.URL {
	return &url.URL{Scheme: scheme, Host: s.ln.Addr().String(), User: user}
}

func (s *socksServer) serve(nc net.Conn) {
	defer nc.Close()
	var hdr [2]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil || hdr[0] != 5 {
		return
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(nc, methods); err != nil {
		return
	}
	want := byte(0)
	if s.user != "" {
		want = 2
	}
	if !strings.Contains(string(methods), string([]byte{want})) {
		nc.Write([]byte{5, 0xFF})
		return
	}
	nc.Write([]byte{5, want})
	if want == 2 {
		var v [2]byte
		io.ReadFull(nc, v[:])
		name := make([]byte, v[1])
		io.ReadFull(nc, name)
		var pl [1]byte
		io.ReadFull(nc, pl[:])
		pass := make([]byte, pl[0])
		io.ReadFull(nc, pass)
		if v[0] != 1 || string(name) != s.user || string(pass) != s.pass {
			nc.Write([]byte{1, 1})
			return
		}
		nc.Write([]byte{1, 0})
	}
	var req [4]byte
	if _, err := io.ReadFull(nc, req[:]); err != nil || req[0] != 5 || req[1] != 1 {
		return
	}
	var host string
	switch req[3] {
	case 1, 4:
		a := make([]byte, 4*(1+3*int(req[3]/4)))
		io.ReadFull(nc, a)
		host = net.IP(a).String()
	case 3:
		var l [1]byte
		io.ReadFull(nc, l[:])
		a := make([]byte, l[0])
		io.ReadFull(nc, a)
		host = string(a)
	}
	var p [2]byte
	io.ReadFull(nc, p[:])
	target := net.JoinHostPort(host, strconv.Itoa(int(p[0])<<8|int(p[1])))
	s.mu.Lock()
	s.requests = append(s.requests, strconv.Itoa(int(req[3]))+" "+target)
	s.mu.Unlock()
	if s.rep != 0 {
		nc.Write([]byte{5, s.rep, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		nc.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	// A bound address given as a domain name, to exercise that branch.
	nc.Write([]byte{5, 0, 0, 3, 5, 'p', 'r', 'o', 'x', 'y', 0x04, 0x38})
	done := make(chan struct{})
	go func() { io.Copy(up, nc); up.(*net.TCPConn).CloseWrite(); close(done) }()
	io.Copy(nc, up)
	nc.Close()
	<-done
}

func (s *socksServer) lastRequest() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return ""
	}
	return s.requests[len(s.requests)-1]
}

// Dialer.Proxy may name a SOCKS5 proxy, as in gorilla (RFC 1928): with no
// authentication or with username/password (RFC 1929), for ws and wss,
// the target's name given to the proxy to resolve.
func TestDialer_throughSOCKS5Proxy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		scheme     string
		user, pass string
		tls        bool
		localhost  bool // dial ws://localhost:port: the name goes to the proxy
	}{
		{"socks5 no auth", "socks5", "", "", false, false},
		{"socks5h user/pass", "socks5h", "alice", "s3cret", false, true},
		{"socks5 wss", "socks5", "bob", "", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wsURL, srv := echoServer(t, &Upgrader{}, tt.tls)
			s := newSocksServer(t, tt.user, tt.pass, 0)
			var user *url.Userinfo
			if tt.user != "" {
				user = url.UserPassword(tt.user, tt.pass)
			}
			d := &Dialer{Proxy: http.ProxyURL(s.url(tt.scheme, user))}
			if tt.tls {
				d.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
			}
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			want := "1 127.0.0.1:" + port
			if tt.localhost {
				wsURL = "ws://localhost:" + port + "/"
				want = "3 localhost:" + port
			}
			c, _, err := d.Dial(wsURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := s.lastRequest(); got != want {
				t.Errorf("the proxy was asked for %q, want %q", got, want)
			}
			if err := c.WriteMessage(TextMessage, []byte("via socks")); err != nil {
				t.Fatal(err)
			}
			if _, p, err := c.ReadMessage(); err != nil || string(p) != "via socks" {
				t.Fatalf("%q %v", p, err)
			}
			c.CloseHandshake(CloseNormalClosure, "")
		})
	}
}

// A SOCKS5 proxy that refuses, in each way RFC 1928 and RFC 1929 allow,
// fails the dial with an error that says why.
func TestDialer_SOCKS5Refusals(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		user, pass string // what the proxy wants
		client     *url.Userinfo
		rep        byte
		want       string
	}{
		{"wrong password", "alice", "s3cret", url.UserPassword("alice", "guess"), 0, "refused the username and password"},
		{"credentials required", "alice", "s3cret", nil, 0, "none of the offered authentication methods"},
		{"connection refused", "", "", nil, 5, "connection refused"},
		{"ruleset", "", "", nil, 2, "not allowed by ruleset"},
		{"unknown code", "", "", nil, 0x42, "code 66"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSocksServer(t, tt.user, tt.pass, tt.rep)
			d := &Dialer{Proxy: http.ProxyURL(s.url("socks5", tt.client))}
			c, _, err := d.Dial("ws://127.0.0.1:1/", nil)
			if err == nil {
				c.Close()
				t.Fatal("dial succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// countingDial dials with net.Dialer and counts the calls, so a test can
// tell that a refused dial reached no one.
type countingDial struct{ n atomic.Int32 }

func (c *countingDial) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.n.Add(1)
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// NetDialTLSContext cannot run inside a proxy tunnel (it dials by
// itself): a wss:// dial through a proxy with the hook set is refused
// before the proxy is dialed, rather than silently skipping the hook and
// the certificate checks it may make (gorilla runs the hook against the
// proxy instead). Without a proxy for the host, the hook is used.
func TestDialer_netDialTLSContextAndProxy(t *testing.T) {
	t.Parallel()
	wsURL, srv := echoServer(t, &Upgrader{}, true)
	var hookCalls atomic.Int32
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig
	hook := func(ctx context.Context, network, addr string) (net.Conn, error) {
		hookCalls.Add(1)
		td := tls.Dialer{Config: cfg}
		return td.DialContext(ctx, network, addr)
	}
	proxy := connectProxy(t)
	var proxyDials countingDial
	d := &Dialer{
		NetDialContext:    proxyDials.dial,
		NetDialTLSContext: hook,
		Proxy:             http.ProxyURL(&url.URL{Scheme: "http", Host: proxy}),
	}
	if _, _, err := d.Dial(wsURL, nil); !errors.Is(err, errTLSHookThroughProxy) {
		t.Fatalf("got %v, want the refusal of NetDialTLSContext through a proxy", err)
	}
	if hookCalls.Load() != 0 || proxyDials.n.Load() != 0 {
		t.Fatalf("hook called %d times, proxy dialed %d times; want neither", hookCalls.Load(), proxyDials.n.Load())
	}
	// ws:// through the same proxy does not involve the hook.
	plainURL, _ := echoServer(t, &Upgrader{}, false)
	c, _, err := d.Dial(plainURL, nil)
	if err != nil {
		t.Fatalf("ws:// through the proxy: %v", err)
	}
	c.Close()
	// No proxy for this host: the hook dials, TLS included.
	d.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	c, _, err = d.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if hookCalls.Load() != 1 {
		t.Fatalf("hook called %d times, want 1", hookCalls.Load())
	}
	roundTripOne(t, c)
}

func roundTripOne(t *testing.T, c *Conn) {
	t.Helper()
	if err := c.WriteMessage(BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "\x01\x02\x03" {
		t.Fatalf("%q %v", p, err)
	}
}

// connectProxy runs a minimal HTTP CONNECT proxy on loopback and returns
// its address.
func connectProxy(t *testing.T) string {
	t.Helper()
	return rawConnServer(t, func(nc net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil || req.Method != http.MethodConnect {
			return
		}
		up, err := net.Dial("tcp", req.Host)
		if err != nil {
			io.WriteString(nc, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
			return
		}
		defer up.Close()
		io.WriteString(nc, "HTTP/1.1 200 OK\r\n\r\n")
		done := make(chan struct{})
		go func() { io.Copy(up, br); up.(*net.TCPConn).CloseWrite(); close(done) }()
		io.Copy(nc, up)
		nc.Close()
		<-done
	})
}

// The CONNECT request of RFC 1928 §4 for each address type.
func TestSocksConnectRequest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		hostPort string
		want     string // hex, "" for an error
	}{
		{"127.0.0.1:80", "050100017f0000010050"},
		{"[::ffff:10.0.0.1]:443", "050100010a00000101bb"},
		{"[2001:db8::1]:9001", "0501000420010db80000000000000000000000012329"},
		{"example.com:1080", "050100030b6578616d706c652e636f6d0438"},
		{strings.Repeat("a", 256) + ":80", ""},
		{"example.com:65536", ""},
		{"example.com", ""},
	} {
		got, err := socksConnectRequest(tt.hostPort)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%s: accepted", tt.hostPort)
			}
			continue
		}
		if err != nil || hex.EncodeToString(got) != tt.want {
			t.Errorf("%s: % x, %v; want %s", tt.hostPort, got, err, tt.want)
		}
	}
}
