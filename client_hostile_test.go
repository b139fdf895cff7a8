package websocket

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// rawServer accepts connections on loopback, reads each request and
// writes respond(its Sec-WebSocket-Key), then holds the connection until
// the client closes it. It returns the address.
func rawServer(t *testing.T, respond func(key string) string) string {
	t.Helper()
	return rawConnServer(t, func(nc net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.WriteString(nc, respond(req.Header.Get("Sec-WebSocket-Key")))
		io.Copy(io.Discard, br)
	})
}

// rawConnServer runs serve for each connection accepted on loopback and
// returns the address; the cleanup waits for every serve to return.
func rawConnServer(t *testing.T, serve func(nc net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				serve(nc, bufio.NewReader(nc))
			}()
		}
	}()
	return ln.Addr().String()
}

// floodServer answers a request with start and then repeats fill until
// the client hangs up.
func floodServer(t *testing.T, start, fill string) string {
	return rawConnServer(t, func(nc net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		chunk := []byte(start + strings.Repeat(fill, 64<<10/len(fill)))
		for {
			if _, err := nc.Write(chunk); err != nil {
				return
			}
			chunk = chunk[len(start):]
			start = ""
		}
	})
}

// The Dialer reads at most 1 MiB of a server's response head: a server
// that streams header lines forever, or one endless line, fails the dial
// with errResponseHeadTooLarge instead of growing the heap (the error is
// the proof the cap was hit; without it the dial runs until the timeout).
// A proxy's CONNECT answer gets the same cap.
func TestDialer_responseHeadCapped(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, start, fill string }{
		{"header lines forever", "HTTP/1.1 101 Switching Protocols\r\n", "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"},
		{"endless status line", "HTTP/1.1 101 ", "a"},
		{"endless header line", "HTTP/1.1 101 Switching Protocols\r\nX-Long: ", "b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := floodServer(t, tt.start, tt.fill)
			if _, _, err := (&Dialer{}).Dial("ws://"+addr+"/", nil); !errors.Is(err, errResponseHeadTooLarge) {
				t.Fatalf("server: got %v, want errResponseHeadTooLarge", err)
			}
			proxied := strings.Replace(tt.start, "101 Switching Protocols", "200 Connection established", 1)
			proxy := floodServer(t, proxied, tt.fill)
			d := &Dialer{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxy})}
			if _, _, err := d.Dial("ws://127.0.0.1:1/", nil); !errors.Is(err, errResponseHeadTooLarge) {
				t.Fatalf("proxy: got %v, want errResponseHeadTooLarge", err)
			}
		})
	}
}

// A large but bounded head (900 KiB of fields) is still accepted.
func TestDialer_largeResponseHeadUnderTheCap(t *testing.T) {
	t.Parallel()
	filler := strings.Repeat("X-Filler: "+strings.Repeat("z", 90)+"\r\n", 9*1024)
	addr := rawServer(t, func(key string) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + computeAcceptKey(key) + "\r\n" + filler + "\r\n"
	})
	c, resp, err := (&Dialer{}).Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := len(resp.Header["X-Filler"]); n != 9*1024 {
		t.Fatalf("%d filler fields", n)
	}
}

// A subprotocol or Host override that cannot go on the wire as given (CR,
// LF, bytes outside a token or a host) is refused with an error before
// anything is dialed, never sent altered.
func TestDialer_refusesBadSubprotocolAndHost(t *testing.T) {
	t.Parallel()
	wsURL, _ := echoServer(t, &Upgrader{Subprotocols: []string{"chat"}}, false)
	for _, tt := range []struct {
		name   string
		protos []string
		header http.Header
	}{
		{"subprotocol CRLF", []string{"chat\r\nX-Evil: 1"}, nil},
		{"subprotocol space", []string{"chat v2"}, nil},
		{"subprotocol comma", []string{"chat,evil"}, nil},
		{"subprotocol empty", []string{""}, nil},
		{"subprotocol non-ASCII", []string{"chät"}, nil},
		{"header subprotocol CRLF", nil, http.Header{"Sec-WebSocket-Protocol": {"chat\r\nX-Evil: 1"}}},
		{"header subprotocol LF", nil, http.Header{"Sec-WebSocket-Protocol": {"chat\nX-Evil: 1"}}},
		{"header subprotocol space", nil, http.Header{"Sec-WebSocket-Protocol": {"chat, a b"}}},
		{"header subprotocol quote", nil, http.Header{"Sec-WebSocket-Protocol": {`"chat"`}}},
		{"Host CRLF", nil, http.Header{"Host": {"victim.example\r\nX-Evil: 1"}}},
		{"Host LF", nil, http.Header{"Host": {"victim.example\nX-Evil: 1"}}},
		{"Host space", nil, http.Header{"Host": {"victim.example evil"}}},
		{"Host userinfo", nil, http.Header{"Host": {"evil.example@victim.example"}}},
		{"Host slash", nil, http.Header{"Host": {"victim.example/path"}}},
		{"Host empty", nil, http.Header{"Host": {""}}},
		{"Host NUL", nil, http.Header{"Host": {"victim.example\x00"}}},
	} {
		var dials countingDial
		d := &Dialer{Subprotocols: tt.protos, NetDialContext: dials.dial}
		c, _, err := d.Dial(wsURL, tt.header)
		if err == nil {
			c.Close()
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if n := dials.n.Load(); n != 0 {
			t.Errorf("%s: refused (%v) but dialed %d times", tt.name, err, n)
		}
	}
	// The valid forms still go through.
	var dials countingDial
	d := &Dialer{NetDialContext: dials.dial}
	c, _, err := d.Dial(wsURL, http.Header{"Host": {"127.0.0.1"}, "Sec-WebSocket-Protocol": {"x-1.0, chat"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Subprotocol() != "chat" {
		t.Fatalf("subprotocol %q", c.Subprotocol())
	}
}
