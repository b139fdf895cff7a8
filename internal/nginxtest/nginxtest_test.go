package nginxtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/hixieclient"
	"github.com/hybi/websocket/internal/leakcheck"
	"github.com/hybi/websocket/internal/wstest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// echoBackend is an echo server built on the library, its connections
// tracked by the returned ConnSet; it accepts hixie-76 too.
func echoBackend(t *testing.T) (addr string, conns *websocket.ConnSet) {
	t.Helper()
	conns = new(websocket.ConnSet)
	u := &websocket.Upgrader{EnableHixie76: true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		defer conns.Add(c)()
		if xff := r.Header.Get("X-Forwarded-For"); xff == "" {
			t.Errorf("no X-Forwarded-For from the proxy")
		}
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), conns
}

// RFC 6455 echo through nginx: the handshake, text and binary messages,
// a fragmented message, a message larger than nginx's buffers, ping and
// pong, and the closing handshake in both directions.
func TestNginx_rfc6455Echo(t *testing.T) {
	backend, _ := echoBackend(t)
	proxy := Start(t, backend)

	// A browser's Origin names the proxy's host:port; the Host nginx
	// forwards ($http_host) must say the same for the same-origin check.
	h := wstest.DefaultHeader(proxy.Addr, wstest.NewKey())
	h.Set("Origin", "http://"+proxy.Addr)
	cl := wstest.Dial(t, proxy.Addr, "/echo", h)

	cl.Send(wstest.Msg(wstest.OpText, []byte("hello through nginx")))
	cl.ExpectMessage(wstest.OpText, []byte("hello through nginx"))

	bin := []byte{0, 1, 2, 0xfe, 0xff}
	cl.Send(wstest.Msg(wstest.OpBinary, bin))
	cl.ExpectMessage(wstest.OpBinary, bin)

	cl.Send(
		wstest.Frag(wstest.OpText, false, []byte("frag")),
		wstest.Frag(wstest.OpContinuation, false, []byte("men")),
		wstest.Frag(wstest.OpContinuation, true, []byte("ted")),
	)
	cl.ExpectMessage(wstest.OpText, []byte("fragmented"))

	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	cl.Send(wstest.Msg(wstest.OpBinary, big))
	cl.ExpectMessage(wstest.OpBinary, big)

	cl.Send(wstest.Msg(wstest.OpPing, []byte("are you there")))
	cl.ExpectMessage(wstest.OpPong, []byte("are you there"))

	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(websocket.CloseNormalClosure, "bye")))
	cl.ExpectClose(websocket.CloseNormalClosure)
}

// A plain request through the proxy is refused by Upgrade as it would be
// directly: the Connection header nginx sends does not turn it into an
// upgrade.
func TestNginx_plainRequestIsRefused(t *testing.T) {
	backend, _ := echoBackend(t)
	proxy := Start(t, backend)
	resp, err := http.Get("http://" + proxy.Addr + "/echo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET through nginx: %s, want 400", resp.Status)
	}
}

// The server's shutdown reaches the client through the proxy: 1001 from
// ConnSet.Shutdown, the client's answer back, the connection closed.
func TestNginx_shutdownCloseReachesClient(t *testing.T) {
	backend, conns := echoBackend(t)
	proxy := Start(t, backend)
	cl := wstest.Dial(t, proxy.Addr, "/", nil)
	cl.Send(wstest.Msg(wstest.OpText, []byte("x")))
	cl.ExpectMessage(wstest.OpText, []byte("x")) // the backend has it

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- conns.Shutdown(ctx) }()
	f, err := cl.ReadFrame()
	if err != nil || f.Opcode != wstest.OpClose || len(f.Payload) < 2 {
		t.Fatalf("got %v, %v; want a close frame", f, err)
	}
	if code := binary.BigEndian.Uint16(f.Payload); code != websocket.CloseGoingAway {
		t.Errorf("close code %d through nginx, want 1001", code)
	}
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(websocket.CloseGoingAway, "")))
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	cl.ExpectConnClosed()
}

// Legacy hixie-76 through nginx. nginx forwards the 8 bytes of key3 that
// follow the request headers once the backend's 101 has turned the
// connection into a tunnel, so the handshake completes, provided Host
// reaches the backend unchanged ($http_host): Sec-WebSocket-Location is
// built from it. nginx writes its own "Connection: upgrade" (lower case)
// into the 101; the check below compares it without regard to case, as
// WebKit's hixie-76 client does (WebSocketHandshake::checkResponseHeaders:
// equalIgnoringCase(serverConnection, "upgrade")), whereas
// hixieclient.Handshake insists on the backend's exact "Upgrade".
func TestNginx_hixie76Echo(t *testing.T) {
	backend, _ := echoBackend(t)
	proxy := Start(t, backend)

	nc, err := net.DialTimeout("tcp", proxy.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	key1, part1 := hixieclient.NewKey()
	key2, part2 := hixieclient.NewKey()
	key3 := hixieclient.NewKey3()
	origin := "http://" + proxy.Addr
	req := "GET /echo HTTP/1.1\r\n" +
		"Upgrade: WebSocket\r\nConnection: Upgrade\r\n" +
		"Host: " + proxy.Addr + "\r\nOrigin: " + origin + "\r\n" +
		"Sec-WebSocket-Key1: " + key1 + "\r\nSec-WebSocket-Key2: " + key2 + "\r\n\r\n"
	if _, err := nc.Write(append([]byte(req), key3[:]...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	tp := textproto.NewReader(br)
	status, err := tp.ReadLine()
	if err != nil {
		t.Fatalf("reading the status line: %v", err)
	}
	if status != "HTTP/1.1 101 WebSocket Protocol Handshake" {
		t.Fatalf("status line %q through nginx", status)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("101 through nginx: Upgrade: %s, Connection: %s", h.Get("Upgrade"), h.Get("Connection"))
	for name, want := range map[string]string{"Upgrade": "WebSocket", "Connection": "Upgrade"} {
		if got := h.Get(name); !strings.EqualFold(got, want) {
			t.Errorf("%s: %q, want %q in any case", name, got, want)
		}
	}
	for name, want := range map[string]string{
		"Sec-Websocket-Origin":   origin,
		"Sec-Websocket-Location": "ws://" + proxy.Addr + "/echo",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	var answer [16]byte
	if _, err := io.ReadFull(br, answer[:]); err != nil {
		t.Fatalf("reading the challenge answer: %v", err)
	}
	if answer != hixieclient.Answer(part1, part2, key3) {
		t.Fatalf("wrong challenge answer through nginx: % x", answer)
	}

	cl := &hixieclient.Client{Conn: nc, R: br, Timeout: 5 * time.Second}
	if err := cl.WriteText("old browser"); err != nil {
		t.Fatal(err)
	}
	got, err := cl.ReadText()
	if err != nil || got != "old browser" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	if err := cl.Close(); err != nil {
		t.Errorf("closing handshake through nginx: %v", err)
	}
}

// The README's nginx section shows the configuration these tests use.
func TestNginx_readmeQuotesTheTestedConfig(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, snippet := range map[string]string{
		"HTTPPrelude": HTTPPrelude,
		"Location":    strings.ReplaceAll(Location, "{{upstream}}", "127.0.0.1:8080"),
	} {
		if !bytes.Contains(readme, []byte(snippet)) {
			t.Errorf("README.md does not quote nginxtest.%s as tested:\n%s", name, snippet)
		}
	}
}
