package websocket

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// TestEqualASCIIFold: only ASCII letters fold; strings.EqualFold's
// Unicode pairs (Kelvin sign and k, long s and s) do not.
func TestEqualASCIIFold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"Example.COM:80", "example.com:80", true},
		{"k.example", "K.EXAMPLE", true},
		{"k.example", "\u212a.example", false}, // Kelvin sign
		{"s.example", "\u017f.example", false}, // long s
		{"a", "a ", false},
		{"@", "`", false}, // 0x40 and 0x60 differ by the case bit but are no letters
		{"[", "{", false},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := equalASCIIFold(tt.a, tt.b); got != tt.want {
			t.Errorf("equalASCIIFold(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestUpgrade_defaultOriginCheck: over a real socket, an Origin whose host
// differs from Host only by a Unicode case pair that strings.EqualFold
// would fold is refused with 403, as are another port, userinfo naming the
// host (which gorilla's url.Parse-based check accepts) and a trailing dot;
// an ASCII case difference and another scheme on the same host and port
// are accepted.
func TestUpgrade_defaultOriginCheck(t *testing.T) {
	t.Parallel()
	addr, _ := handshakeServer(t, &Upgrader{}, nil)
	tests := []struct {
		name, host, origin string
		status             int
	}{
		{"Kelvin sign for k", "k.example", "http://\u212a.example", http.StatusForbidden},
		{"long s for s", "s.example", "http://\u017f.example", http.StatusForbidden},
		{"Kelvin sign with port", "k.example:8080", "https://\u212a.example:8080", http.StatusForbidden},
		{"ASCII case", "k.example", "http://K.EXAMPLE", http.StatusSwitchingProtocols},
		{"https scheme, same host", "k.example", "https://k.example", http.StatusSwitchingProtocols},
		{"other port", "k.example", "http://k.example:8080", http.StatusForbidden},
		{"userinfo", "k.example", "http://evil.example@k.example", http.StatusForbidden},
		{"trailing dot", "k.example", "http://k.example.", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := wstest.DefaultHeader(tt.host, wstest.NewKey())
			h.Set("Origin", tt.origin)
			resp := wstest.RawHandshake(t, addr, wstest.BuildRequest("GET", "/", "HTTP/1.1", h))
			if resp.StatusCode != tt.status {
				t.Errorf("Host %q, Origin %q: got %s, want %d", tt.host, tt.origin, resp.StatusLine, tt.status)
			}
		})
	}
}

// TestUpgrade_handshakeTimeoutDefault: a zero HandshakeTimeout means the
// one default, for every use.
func TestUpgrade_handshakeTimeoutDefault(t *testing.T) {
	t.Parallel()
	if got := (&Upgrader{}).handshakeTimeout(); got != 10*time.Second {
		t.Errorf("zero HandshakeTimeout: %v, want 10s", got)
	}
	if got := (&Upgrader{HandshakeTimeout: -1}).handshakeTimeout(); got != 10*time.Second {
		t.Errorf("negative HandshakeTimeout: %v, want 10s", got)
	}
	if got := (&Upgrader{HandshakeTimeout: time.Second}).handshakeTimeout(); got != time.Second {
		t.Errorf("HandshakeTimeout 1s: %v", got)
	}
}

// TestUpgrade_compressionContextTakeoverLimit: with a limit of 2, the
// first two clients that allow it get server context takeover (no
// server_no_context_takeover in the answer), the third is answered
// server_no_context_takeover and client_no_context_takeover, a client
// that declines takeover itself takes no place, and a closed connection
// gives its place back to the next client.
func TestUpgrade_compressionContextTakeoverLimit(t *testing.T) {
	t.Parallel()
	u := &Upgrader{EnableCompression: true, CompressionContextTakeover: true, CompressionContextTakeoverLimit: 2}
	conns := make(chan *Conn, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		conns <- c
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	var held []*Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	dial := func(offer string) string {
		h := wstest.DefaultHeader(addr, wstest.NewKey())
		h.Set("Sec-WebSocket-Extensions", offer)
		c := wstest.RawDial(t, addr, wstest.BuildRequest("GET", "/", "HTTP/1.1", h))
		if c.Resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("got %s", c.Resp.StatusLine)
		}
		held = append(held, <-conns)
		return c.Resp.Header.Get("Sec-WebSocket-Extensions")
	}
	takesOver := func(answer string) bool {
		return strings.HasPrefix(answer, "permessage-deflate") && !strings.Contains(answer, "server_no_context_takeover")
	}
	for i := 0; i < 2; i++ {
		if a := dial("permessage-deflate"); !takesOver(a) {
			t.Fatalf("client %d: answer %q, want server context takeover", i, a)
		}
	}
	if n := takeoverSlots.count(u); n != 2 {
		t.Fatalf("%d places held, want 2", n)
	}
	if a := dial("permessage-deflate"); a != "permessage-deflate; server_no_context_takeover; client_no_context_takeover" {
		t.Fatalf("over the limit: answer %q", a)
	}
	if a := dial("permessage-deflate; server_no_context_takeover"); takesOver(a) {
		t.Fatalf("declined takeover: answer %q", a)
	}
	if n := takeoverSlots.count(u); n != 2 {
		t.Fatalf("%d places held, want 2", n)
	}

	held[0].Close()
	deadline := time.Now().Add(5 * time.Second) // a bound on a failure
	for takeoverSlots.count(u) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the closed connection kept its place: %d held", takeoverSlots.count(u))
		}
		time.Sleep(time.Millisecond)
	}
	if a := dial("permessage-deflate"); !takesOver(a) {
		t.Fatalf("after a close: answer %q, want server context takeover", a)
	}
	for _, c := range held {
		c.Close()
	}
	for takeoverSlots.count(u) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d places held after every connection closed", takeoverSlots.count(u))
		}
		time.Sleep(time.Millisecond)
	}
}

// TestUpgrade_handshakeTimeoutBoundsTheResponseWrite: an RFC 6455 client
// that never reads its 101 (here 16 MiB of caller headers, more than the
// socket buffers take) does not hold Upgrade: after HandshakeTimeout the
// write fails with a timeout and the connection is closed.
func TestUpgrade_handshakeTimeoutBoundsTheResponseWrite(t *testing.T) {
	t.Parallel()
	big := http.Header{"X-Big": {strings.Repeat("a", 16<<20)}}
	addr, errs := handshakeServer(t, &Upgrader{HandshakeTimeout: 100 * time.Millisecond}, big)
	h := wstest.DefaultHeader(addr, wstest.NewKey())
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(wstest.BuildRequest("GET", "/", "HTTP/1.1", h)) // and never read
	select {
	case err := <-errs:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Upgrade returned %v, want a timeout", err)
		}
	case <-time.After(20 * time.Second): // a bound on a failure
		t.Fatal("Upgrade still writing its response")
	}
}
