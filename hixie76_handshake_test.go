package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/hixieclient"
	"github.com/hybi/websocket/internal/wstest"
)

// hixieVectors are handshake vectors for draft-76 §5.2 (key numbers,
// spaces, parts and the MD5 answer), all checked by computation; the first
// is draft-76's own example (§1.3).
var hixieVectors = []struct {
	name         string
	key1, key2   string
	part1, part2 uint32
	key3         string // hex
	answer       string // hex
}{
	{"draft-76 example", "4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00", 829309203, 259970620,
		hex.EncodeToString([]byte("^n:ds[4U")), hex.EncodeToString([]byte("8jKS'y:G*Co,Wxa-"))},
	{"twelve and ten spaces", "18x 6]8vM;54 *(5:  {   U1]8  z [  8", "1_ tx7X d  <  nw  334J702) 7]o}` 0", 155712099, 173347027,
		hex.EncodeToString([]byte("Tm[K T2u")), hex.EncodeToString([]byte("fQJ,fN/4F4!~K~MH"))},
	{"runs of spaces", "3e6b263  4 17 80", "17  9 G`ZD9   2 2b 7X 3 /r90", 906585445, 179922739,
		hex.EncodeToString([]byte("WjN}|M(6")), hex.EncodeToString([]byte("n`9eBk9z$R8pOtVb"))},
	{"key numbers over 2^31", "23 1 +V2 61z9 5 P[t B|34vE", "2  33 0w{z 55679 0", 385436589, 466111358,
		"8d07195bf934c649", "1feb892fcffe2ddae1e09e9f04c7003c"},
}

func hixieHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHixieKeyPart_vectors(t *testing.T) {
	t.Parallel()
	for _, v := range hixieVectors {
		for _, k := range []struct {
			key  string
			want uint32
		}{{v.key1, v.part1}, {v.key2, v.part2}} {
			got, err := hixieKeyPart(k.key)
			if err != nil || got != k.want {
				t.Errorf("%s: hixieKeyPart(%q) = %d, %v; want %d", v.name, k.key, got, err, k.want)
			}
		}
	}
}

func TestHixieKeyPart_rejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, key, want string }{
		{"not a multiple of 5 spaces", "P2 G 947T 80 661 JAF2", "multiple"},
		{"over 4294967295", "4294967296 ", "exceeds"},
		{"overflow stops early", "9 99999999999999999999999999999999999999", "exceeds"},
		{"digits but no spaces", "12345", "no spaces"},
		{"spaces but no digits", "a b c", "no digits"},
		{"empty", "", "no digits"},
		{"tabs are not spaces", "12\t34", "no spaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hixieKeyPart(tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("hixieKeyPart(%q) = %d, %v; want an error about %q", tc.key, got, err, tc.want)
			}
		})
	}
	// The largest number there is, and a key number of 0, are fine.
	if got, err := hixieKeyPart("4294967295 "); err != nil || got != math.MaxUint32 {
		t.Errorf("hixieKeyPart(4294967295) = %d, %v", got, err)
	}
	if got, err := hixieKeyPart("0  0"); err != nil || got != 0 {
		t.Errorf("hixieKeyPart(0) = %d, %v", got, err)
	}
}

func TestHixieChallenge_vectors(t *testing.T) {
	t.Parallel()
	for _, v := range hixieVectors {
		var key3 [8]byte
		copy(key3[:], hixieHex(t, v.key3))
		got := hixieChallenge(v.part1, v.part2, key3)
		if want := hixieHex(t, v.answer); !bytes.Equal(got[:], want) {
			t.Errorf("%s: challenge %x, want %x", v.name, got, want)
		}
		// The independent test client agrees.
		if alt := hixieclient.Answer(v.part1, v.part2, key3); alt != got {
			t.Errorf("%s: hixieclient.Answer %x, want %x", v.name, alt, got)
		}
	}
}

func TestIsHixie76(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		h    http.Header
		want bool
	}{
		{"both keys", http.Header{"Sec-Websocket-Key1": {"1 2"}, "Sec-Websocket-Key2": {"1 2"}}, true},
		{"one key (refused later)", http.Header{"Sec-Websocket-Key2": {"1 2"}}, true},
		{"rfc 6455", http.Header{"Sec-Websocket-Key": {"x"}, "Sec-Websocket-Version": {"13"}}, false},
		{"keys and a version", http.Header{"Sec-Websocket-Key1": {"1 2"}, "Sec-Websocket-Key2": {"1 2"}, "Sec-Websocket-Version": {"13"}}, false},
		{"hixie-75: no keys", http.Header{"Upgrade": {"WebSocket"}}, false},
	} {
		if got := isHixie76(tc.h); got != tc.want {
			t.Errorf("%s: isHixie76 = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// --- A loopback server and raw requests ---

// hixieServer serves u on a loopback server. Each upgraded conn goes to
// handler (an echo loop when nil) and is closed when handler returns;
// Upgrade's errors are sent on errs.
func hixieServer(t *testing.T, u *Upgrader, responseHeader http.Header, handler func(c *Conn)) (addr string, errs chan error) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	errs = hixieStart(t, srv, u, responseHeader, handler)
	return srv.Listener.Addr().String(), errs
}

func hixieStart(t *testing.T, srv *httptest.Server, u *Upgrader, responseHeader http.Header, handler func(c *Conn)) chan error {
	errs := make(chan error, 16)
	if handler == nil {
		handler = hixieEcho
	}
	var wg sync.WaitGroup
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		c, err := u.Upgrade(w, r, responseHeader)
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		handler(c)
	})
	if srv.TLS != nil || srv.Config.TLSConfig != nil {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		srv.Close()
		wg.Wait() // handlers of hijacked connections are not waited for by Close
	})
	return errs
}

func hixieEcho(c *Conn) {
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, p); err != nil {
			return
		}
	}
}

// hixieRequest returns a draft-76 request with the header lines given
// (after Host) and the blank line.
func hixieRequest(path, host string, lines ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, host)
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

func hixieRawDial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	return nc, bufio.NewReader(nc)
}

// hixieReadHead reads a response up to and including its blank line.
func hixieReadHead(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var head strings.Builder
	for !strings.HasSuffix(head.String(), "\r\n\r\n") {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			t.Fatalf("reading the response head: %v (so far %q)", err, head.String())
		}
	}
	return head.String()
}

func hixieDial(t *testing.T, addr string, o hixieclient.Options) *hixieclient.Client {
	t.Helper()
	c, err := hixieclient.Dial(addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Conn.Close() })
	return c
}

// --- Handshake ---

func TestHixie76_draftExampleByteExact(t *testing.T) {
	t.Parallel()
	log := &hixieWriteLog{}
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener = &hixieRecListener{srv.Listener, log}
	hixieStart(t, srv, &Upgrader{EnableHixie76: true, Subprotocols: []string{"sample"}}, nil, nil)

	nc, br := hixieRawDial(t, srv.Listener.Addr().String())
	// The request of draft-76 §1.3, header order and all, key3 in the same
	// write.
	req := "GET /demo HTTP/1.1\r\n" +
		"Host: example.com\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n" +
		"Sec-WebSocket-Protocol: sample\r\n" +
		"Upgrade: WebSocket\r\n" +
		"Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n" +
		"Origin: http://example.com\r\n" +
		"\r\n" +
		"^n:ds[4U"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	want := "HTTP/1.1 101 WebSocket Protocol Handshake\r\n" +
		"Upgrade: WebSocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Origin: http://example.com\r\n" +
		"Sec-WebSocket-Location: ws://example.com/demo\r\n" +
		"Sec-WebSocket-Protocol: sample\r\n" +
		"\r\n" +
		"8jKS'y:G*Co,Wxa-"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatalf("reading the response: %v (got %q)", err, got)
	}
	if string(got) != want {
		t.Fatalf("response:\n%q\nwant:\n%q", got, want)
	}
	// key3 was buffered: headers and answer went out in one write.
	if w := log.get(); len(w) != 1 || string(w[0]) != want {
		t.Errorf("server writes %q, want the whole response in one write", w)
	}
	// The connection works: an echo.
	nc.Write([]byte("\x00hi\xff"))
	if b, err := br.ReadString(0xFF); err != nil || b != "\x00hi\xff" {
		t.Errorf("echo %q, %v", b, err)
	}
}

func TestHixie76_vectorsThroughUpgrade(t *testing.T) {
	t.Parallel()
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true}, nil, nil)
	for _, v := range hixieVectors {
		t.Run(v.name, func(t *testing.T) {
			nc, br := hixieRawDial(t, addr)
			req := hixieRequest("/chat/room?id=7&x=%20y", addr,
				"Upgrade: WebSocket", "Connection: Upgrade", "Origin: http://"+addr,
				"Sec-WebSocket-Key1: "+v.key1, "Sec-WebSocket-Key2: "+v.key2)
			nc.Write(append(req, hixieHex(t, v.key3)...))
			want := "HTTP/1.1 101 WebSocket Protocol Handshake\r\n" +
				"Upgrade: WebSocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Origin: http://" + addr + "\r\n" +
				"Sec-WebSocket-Location: ws://" + addr + "/chat/room?id=7&x=%20y\r\n\r\n" +
				string(hixieHex(t, v.answer))
			got := make([]byte, len(want))
			if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
				t.Fatalf("response %q, %v\nwant %q", got, err, want)
			}
		})
	}
}

func TestHixie76_refusals(t *testing.T) {
	t.Parallel()
	addr, errs := hixieServer(t, &Upgrader{EnableHixie76: true}, nil, nil)
	good1, good2 := hixieVectors[0].key1, hixieVectors[0].key2
	for _, tc := range []struct {
		name   string
		lines  []string
		status int
	}{
		{"key not a multiple of its spaces", []string{"Sec-WebSocket-Key1: P2 G 947T 80 661 JAF2", "Sec-WebSocket-Key2: " + good2}, 400},
		{"key over 4294967295", []string{"Sec-WebSocket-Key1: " + good1, "Sec-WebSocket-Key2: 4294967296 "}, 400},
		{"key over 4294967295 with spaces inside", []string{"Sec-WebSocket-Key1: 4 294967296", "Sec-WebSocket-Key2: " + good2}, 400},
		{"key with digits but no spaces", []string{"Sec-WebSocket-Key1: 1234xy", "Sec-WebSocket-Key2: " + good2}, 400},
		{"key with spaces but no digits", []string{"Sec-WebSocket-Key1: " + good1, "Sec-WebSocket-Key2: a b c"}, 400},
		{"Key2 missing", []string{"Sec-WebSocket-Key1: " + good1}, 400},
		{"Key1 twice", []string{"Sec-WebSocket-Key1: " + good1, "Sec-WebSocket-Key1: " + good1, "Sec-WebSocket-Key2: " + good2}, 400},
		{"foreign origin", []string{"Sec-WebSocket-Key1: " + good1, "Sec-WebSocket-Key2: " + good2, "Origin: http://evil.example"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, br := hixieRawDial(t, addr)
			lines := append([]string{"Upgrade: WebSocket", "Connection: Upgrade"}, tc.lines...)
			nc.Write(append(hixieRequest("/", addr, lines...), "12345678"...))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d (%s), want %d", resp.StatusCode, body, tc.status)
			}
			select {
			case err := <-errs:
				var he HandshakeError
				if !errors.As(err, &he) || he.Status != tc.status {
					t.Errorf("Upgrade returned %v, want a HandshakeError with status %d", err, tc.status)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Upgrade did not return")
			}
		})
	}
}

func TestHixie76_disabledByDefault(t *testing.T) {
	t.Parallel()
	addr, errs := hixieServer(t, &Upgrader{}, nil, nil)
	nc, br := hixieRawDial(t, addr)
	v := hixieVectors[0]
	nc.Write(append(hixieRequest("/", addr, "Upgrade: WebSocket", "Connection: Upgrade",
		"Sec-WebSocket-Key1: "+v.key1, "Sec-WebSocket-Key2: "+v.key2), hixieHex(t, v.key3)...))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 4 || !strings.Contains(string(body), "hixie-76") || !strings.Contains(string(body), "disabled") {
		t.Errorf("got %d %q, want a 4xx saying hixie-76 is disabled", resp.StatusCode, body)
	}
	if err := <-errs; !strings.Contains(err.Error(), "disabled") {
		t.Errorf("Upgrade returned %v", err)
	}
	// RFC 6455 still works on the same Upgrader.
	c := wstest.Dial(t, addr, "/", nil)
	c.Send(wstest.Msg(wstest.OpText, []byte("rfc")))
	c.ExpectMessage(wstest.OpText, []byte("rfc"))
}

// TestHixie76_key3Later sends key3 300 ms after the request, in its own
// write, and reads the header block before sending it: the server must
// answer the headers first (a proxy such as HAProxy forwards key3 only
// after the 101) and the 16 bytes once key3 is there.
func TestHixie76_key3Later(t *testing.T) {
	t.Parallel()
	log := &hixieWriteLog{}
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener = &hixieRecListener{srv.Listener, log}
	hixieStart(t, srv, &Upgrader{EnableHixie76: true}, nil, nil)
	addr := srv.Listener.Addr().String()
	v := hixieVectors[3]

	nc, br := hixieRawDial(t, addr)
	start := time.Now()
	nc.Write(hixieRequest("/late", addr, "Upgrade: WebSocket", "Connection: Upgrade",
		"Sec-WebSocket-Key1: "+v.key1, "Sec-WebSocket-Key2: "+v.key2))
	head := hixieReadHead(t, br)
	if !strings.HasPrefix(head, "HTTP/1.1 101 WebSocket Protocol Handshake\r\n") {
		t.Fatalf("head %q", head)
	}
	time.Sleep(300*time.Millisecond - time.Since(start))
	key3 := hixieHex(t, v.key3)
	nc.Write(key3[:3]) // and in two pieces
	time.Sleep(20 * time.Millisecond)
	nc.Write(append(key3[3:], "\x00after\xff"...))
	answer := make([]byte, 16)
	if _, err := io.ReadFull(br, answer); err != nil || !bytes.Equal(answer, hixieHex(t, v.answer)) {
		t.Fatalf("answer %x, %v; want %s", answer, err, v.answer)
	}
	if b, err := br.ReadString(0xFF); err != nil || b != "\x00after\xff" {
		t.Errorf("echo %q, %v", b, err)
	}
	if w := log.get(); len(w) < 2 || string(w[0]) != head || !bytes.Equal(w[1], answer) {
		t.Errorf("server writes %q, want the head, then the 16 bytes", w)
	}
}

func TestHixie76_key3Later_client(t *testing.T) {
	t.Parallel()
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true}, nil, nil)
	c := hixieDial(t, addr, hixieclient.Options{Path: "/x", Key3Delay: 300 * time.Millisecond})
	c.WriteText("ok")
	if s, err := c.ReadText(); err != nil || s != "ok" {
		t.Fatalf("echo %q, %v", s, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestHixie76_key3Never checks that a client that never sends key3 is cut
// off after HandshakeTimeout: Upgrade returns, the connection is closed,
// and no goroutine is left (TestMain's leak check).
func TestHixie76_key3Never(t *testing.T) {
	t.Parallel()
	addr, errs := hixieServer(t, &Upgrader{EnableHixie76: true, HandshakeTimeout: 200 * time.Millisecond}, nil,
		func(*Conn) { t.Error("upgraded without key3") })
	nc, br := hixieRawDial(t, addr)
	v := hixieVectors[0]
	start := time.Now()
	nc.Write(hixieRequest("/", addr, "Upgrade: WebSocket", "Connection: Upgrade",
		"Sec-WebSocket-Key1: "+v.key1, "Sec-WebSocket-Key2: "+v.key2))
	nc.Write([]byte("1234567")) // one byte short
	hixieReadHead(t, br)
	if b, err := br.ReadByte(); err == nil {
		t.Fatalf("got %#x, want the connection closed", b)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
		t.Errorf("closed after %v, want about 200ms", d)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Upgrade returned %v, want a deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Upgrade did not return")
	}
}

func TestHixie76_subprotocolOriginLocation(t *testing.T) {
	t.Parallel()
	var got sync.Map
	record := func(c *Conn) {
		got.Store(c.Subprotocol(), c.Hixie76())
		hixieEcho(c)
	}
	anyOrigin := func(*http.Request) bool { return true }

	t.Run("subprotocol echoed verbatim", func(t *testing.T) {
		addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true, Subprotocols: []string{"chat", "x y/1.0"}}, nil, record)
		c := hixieDial(t, addr, hixieclient.Options{Protocol: "x y/1.0"})
		if c.Protocol != "x y/1.0" {
			t.Errorf("protocol %q", c.Protocol)
		}
		c.Close()
		if v, ok := got.Load("x y/1.0"); !ok || v != true {
			t.Errorf("Subprotocol/Hixie76 on the server: %v %v", v, ok)
		}
	})
	t.Run("subprotocol not accepted", func(t *testing.T) {
		addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true, Subprotocols: []string{"chat"}}, nil, nil)
		c := hixieDial(t, addr, hixieclient.Options{Protocol: "other"})
		if c.Protocol != "" {
			t.Errorf("protocol %q, want none", c.Protocol)
		}
	})
	t.Run("subprotocol and cookie from responseHeader", func(t *testing.T) {
		rh := http.Header{"Sec-Websocket-Protocol": {"sample"}, "Set-Cookie": {"a=b"}}
		addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true}, rh, nil)
		c := hixieDial(t, addr, hixieclient.Options{Protocol: "sample"})
		if c.Protocol != "sample" || c.Header.Get("Set-Cookie") != "a=b" {
			t.Errorf("protocol %q, header %v", c.Protocol, c.Header)
		}
	})
	t.Run("foreign origin allowed by CheckOrigin, echoed", func(t *testing.T) {
		addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true, CheckOrigin: anyOrigin}, nil, nil)
		c := hixieDial(t, addr, hixieclient.Options{Origin: "http://other.example:8080"})
		c.Close()
	})
	t.Run("no origin", func(t *testing.T) {
		addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true}, nil, nil)
		c := hixieDial(t, addr, hixieclient.Options{NoOrigin: true})
		if v := c.Header.Values("Sec-Websocket-Origin"); len(v) != 0 {
			t.Errorf("Sec-WebSocket-Origin %q without an Origin", v)
		}
	})
	t.Run("Hixie76Location behind a TLS proxy", func(t *testing.T) {
		u := &Upgrader{EnableHixie76: true, Hixie76Location: func(r *http.Request) string {
			return "wss://" + r.Host + r.URL.RequestURI()
		}}
		addr, _ := hixieServer(t, u, nil, nil)
		c := hixieDial(t, addr, hixieclient.Options{Host: "chat.example", Path: "/ws?a=1", Secure: true})
		c.Close()
	})
	t.Run("wss under TLS", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(nil)
		srv.TLS = &tls.Config{}
		hixieStart(t, srv, &Upgrader{EnableHixie76: true}, nil, nil)
		tc, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		c, err := hixieclient.Handshake(tc, hixieclient.Options{Host: srv.Listener.Addr().String(), Path: "/tls", Secure: true})
		if err != nil {
			t.Fatal(err)
		}
		c.WriteText("über TLS")
		if s, err := c.ReadText(); err != nil || s != "über TLS" {
			t.Errorf("echo %q, %v", s, err)
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	t.Run("reserved response header refused", func(t *testing.T) {
		addr, errs := hixieServer(t, &Upgrader{EnableHixie76: true}, http.Header{"Sec-Websocket-Location": {"ws://x/"}}, nil)
		_, err := hixieclient.Dial(addr, hixieclient.Options{})
		var se *hixieclient.StatusError
		if !errors.As(err, &se) || se.Code() != 500 {
			t.Errorf("dial: %v, want a 500", err)
		}
		<-errs
	})
}

// TestHixie76_bothProtocolsOnOnePath serves RFC 6455 and hixie-76 clients
// from the same Upgrader and path, and tells them apart with Hixie76.
func TestHixie76_bothProtocolsOnOnePath(t *testing.T) {
	t.Parallel()
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true}, nil, func(c *Conn) {
		c.WriteMessage(TextMessage, []byte(fmt.Sprint("hixie76=", c.Hixie76())))
		hixieEcho(c)
	})
	h := hixieDial(t, addr, hixieclient.Options{Path: "/echo"})
	if s, err := h.ReadText(); err != nil || s != "hixie76=true" {
		t.Errorf("hixie client: %q, %v", s, err)
	}
	r := wstest.Dial(t, addr, "/echo", nil)
	r.ExpectMessage(wstest.OpText, []byte("hixie76=false"))
	r.Send(wstest.Msg(wstest.OpBinary, []byte{1, 2, 3}))
	r.ExpectMessage(wstest.OpBinary, []byte{1, 2, 3})
	if err := h.Close(); err != nil {
		t.Error(err)
	}
}

// --- Listener that records the server's writes ---

type hixieWriteLog struct {
	mu     sync.Mutex
	writes [][]byte
}

func (l *hixieWriteLog) add(b []byte) {
	l.mu.Lock()
	l.writes = append(l.writes, bytes.Clone(b))
	l.mu.Unlock()
}

func (l *hixieWriteLog) get() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slicesClone(l.writes)
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

type hixieRecListener struct {
	net.Listener
	log *hixieWriteLog
}

func (l *hixieRecListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &hixieRecConn{c, l.log}, nil
}

type hixieRecConn struct {
	net.Conn
	log *hixieWriteLog
}

func (c *hixieRecConn) Write(b []byte) (int, error) {
	c.log.add(b)
	return c.Conn.Write(b)
}

// --- Third-party client ---

// TestHixie76PerlInterop runs internal/hixieclient/perl/echo.pl, a client
// built on Perl's Protocol::WebSocket (Debian: libprotocol-websocket-perl)
// speaking draft-ietf-hybi-00, against a real Upgrader. It is skipped when
// perl or the module is missing, except under CI=true, where it fails.
func TestHixie76PerlInterop(t *testing.T) {
	t.Parallel()
	perl, err := exec.LookPath("perl")
	if err == nil {
		err = exec.Command(perl, "-MProtocol::WebSocket::Client", "-e", "1").Run()
	}
	if err != nil {
		msg := "perl with Protocol::WebSocket is not installed (apt-get install libprotocol-websocket-perl): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	addr, errs := hixieServer(t, &Upgrader{EnableHixie76: true}, nil, func(c *Conn) {
		if !c.Hixie76() {
			t.Error("the Perl client was not served as hixie-76")
		}
		hixieEcho(c)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, perl, "internal/hixieclient/perl/echo.pl", "ws://"+addr+"/perl/echo?x=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		select {
		case uerr := <-errs:
			t.Logf("Upgrade: %v", uerr)
		default:
		}
		t.Fatalf("echo.pl: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ok") {
		t.Errorf("echo.pl output:\n%s", out)
	}
}

// --- Fuzzing ---

// FuzzHixieKey checks hixieKeyPart against a naive big-number
// implementation of draft-76 §5.2.
func FuzzHixieKey(f *testing.F) {
	for _, v := range hixieVectors {
		f.Add(v.key1)
		f.Add(v.key2)
	}
	f.Add("P2 G 947T 80 661 JAF2")
	f.Add("4294967296 ")
	f.Fuzz(func(t *testing.T, key string) {
		got, err := hixieKeyPart(key)
		var digits strings.Builder
		spaces := int64(strings.Count(key, " "))
		for _, c := range []byte(key) {
			if c >= '0' && c <= '9' {
				digits.WriteByte(c)
			}
		}
		ok := digits.Len() > 0 && spaces > 0
		n := new(big.Int)
		if ok {
			n.SetString(digits.String(), 10)
			ok = n.Cmp(big.NewInt(math.MaxUint32)) <= 0
		}
		if ok {
			q, r := new(big.Int).QuoRem(n, big.NewInt(spaces), new(big.Int))
			ok = r.Sign() == 0
			if ok && (err != nil || uint64(got) != q.Uint64()) {
				t.Fatalf("hixieKeyPart(%q) = %d, %v; want %d", key, got, err, q)
			}
		}
		if !ok && err == nil {
			t.Fatalf("hixieKeyPart(%q) = %d, want an error", key, got)
		}
	})
}
