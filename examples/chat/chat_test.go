package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/browsertest"
	"github.com/hybi/websocket/internal/leakcheck"
	"github.com/hybi/websocket/internal/wstest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// startChat serves the chat on a loopback port until the test ends, and
// returns the server and its address.
func startChat(t *testing.T) (*server, string) {
	t.Helper()
	return startChatWith(t, chatOptions{})
}

// chatOptions change a test's server from the example's defaults.
type chatOptions struct {
	rate   *rateLimit // each client's message rate limit
	sndbuf int        // the socket send buffer of each accepted connection
}

func startChatWith(t *testing.T, opt chatOptions) (*server, string) {
	t.Helper()
	s := newServer()
	if opt.rate != nil {
		s.rate = *opt.rate
	}
	ctx, stopHub := context.WithCancel(context.Background())
	go s.hub.run(ctx)
	hs := httptest.NewUnstartedServer(s)
	if opt.sndbuf > 0 {
		hs.Listener = smallSendBuffers{hs.Listener, opt.sndbuf}
	}
	hs.Start()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.conns.Shutdown(sctx)
		hs.Close()
		stopHub()
		<-s.hub.done
	})
	return s, strings.TrimPrefix(hs.URL, "http://")
}

// smallSendBuffers gives each accepted connection a small socket send
// buffer, so that a tab that does not read fills its send queue after a
// few dozen messages instead of thousands.
type smallSendBuffers struct {
	net.Listener
	size int
}

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// logBuffer collects what the log package prints, for a test to count.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns how many lines logged so far contain s.
func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// captureLog sends the log package's output to a buffer until the test
// ends, and to the test's log. Call it before startChat, so that it
// still captures while the server shuts down.
func captureLog(t *testing.T) *logBuffer {
	lb := &logBuffer{}
	prev := log.Writer()
	log.SetOutput(io.MultiWriter(lb, testWriter{t}))
	t.Cleanup(func() { log.SetOutput(prev) })
	return lb
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("log: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// readEvent reads the next text message from cl as an event.
func readEvent(t *testing.T, cl *wstest.Client) event {
	t.Helper()
	op, p := cl.ReadMessage()
	if op != wstest.OpText {
		t.Fatalf("got opcode %#x, want a text message", op)
	}
	var ev event
	if err := json.Unmarshal(p, &ev); err != nil {
		t.Fatalf("bad event %q: %v", p, err)
	}
	return ev
}

func expectEvent(t *testing.T, who string, cl *wstest.Client, want event) {
	t.Helper()
	if got := readEvent(t, cl); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s got %+v, want %+v", who, got, want)
	}
}

// The protocol the page relies on, without a browser.
func TestChat_joinMessageLeave(t *testing.T) {
	_, addr := startChat(t)
	alice := wstest.Dial(t, addr, "/ws?name=alice", nil)
	expectEvent(t, "alice", alice, event{Type: "welcome", Name: "alice", Users: nil})

	bob := wstest.Dial(t, addr, "/ws?name=%20bob%0A", nil) // cleaned to "bob"
	expectEvent(t, "bob", bob, event{Type: "welcome", Name: "bob", Users: []string{"alice"}})
	expectEvent(t, "alice", alice, event{Type: "join", Name: "bob"})

	bob.Send(wstest.Msg(wstest.OpText, []byte("hello, alice")))
	for who, cl := range map[string]*wstest.Client{"alice": alice, "bob": bob} {
		expectEvent(t, who, cl, event{Type: "message", Name: "bob", Text: "hello, alice"})
	}

	bob.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(websocket.CloseGoingAway, "")))
	bob.ExpectClose(websocket.CloseGoingAway)
	expectEvent(t, "alice", alice, event{Type: "leave", Name: "bob"})

	guest := wstest.Dial(t, addr, "/ws", nil)
	if ev := readEvent(t, guest); ev.Type != "welcome" || !strings.HasPrefix(ev.Name, "guest-") {
		t.Fatalf("a client with no name got %+v, want a welcome as guest-N", ev)
	}
	expectEvent(t, "alice", alice, event{Type: "join", Name: readName(t, guest, alice)})
}

// readName returns the name alice was told joined, which must be guest's.
func readName(t *testing.T, guest, alice *wstest.Client) string {
	t.Helper()
	guest.Send(wstest.Msg(wstest.OpText, []byte("hi")))
	ev := readEvent(t, guest)
	if ev.Type != "message" {
		t.Fatalf("guest got %+v", ev)
	}
	return ev.Name
}

// Shutdown closes every chat connection with 1001, and logs none of them
// as too slow (a closing connection refuses queued messages).
func TestChat_shutdownClosesWith1001(t *testing.T) {
	logged := captureLog(t)
	s, addr := startChat(t)
	a := wstest.Dial(t, addr, "/ws?name=a", nil)
	b := wstest.Dial(t, addr, "/ws?name=b", nil)
	readEvent(t, a)
	readEvent(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.conns.Shutdown(ctx) }()
	for name, cl := range map[string]*wstest.Client{"a": a, "b": b} {
		for {
			f, err := cl.ReadFrame()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if f.Opcode == wstest.OpClose {
				if code := binary.BigEndian.Uint16(f.Payload); code != websocket.CloseGoingAway {
					t.Errorf("%s: close code %d, want 1001", name, code)
				}
				break
			}
		}
		cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(websocket.CloseGoingAway, "")))
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := logged.count("too slow"); n != 0 {
		t.Errorf("%d tabs were logged as too slow during the shutdown, want none", n)
	}
}

// The limits the README lists, over real connections: a message over
// maxMessageSize fails the connection with 1009, a binary message gets
// 1003, and a page from another origin is refused with 403.
func TestChat_limits(t *testing.T) {
	_, addr := startChat(t)
	for _, tc := range []struct {
		name string
		msg  wstest.Frame
		code int
	}{
		{"too big", wstest.Msg(wstest.OpText, bytes.Repeat([]byte("x"), maxMessageSize+1)), websocket.CloseMessageTooBig},
		{"binary", wstest.Msg(wstest.OpBinary, []byte("hi")), websocket.CloseUnsupportedData},
	} {
		cl := wstest.Dial(t, addr, "/ws?name="+strings.ReplaceAll(tc.name, " ", "-"), nil)
		readEvent(t, cl) // welcome
		cl.Send(tc.msg)
		if code, _ := expectCloseFrame(t, tc.name, cl); code != tc.code {
			t.Errorf("%s: close code %d, want %d", tc.name, code, tc.code)
		}
	}
	hdr := wstest.DefaultHeader(addr, wstest.NewKey())
	hdr.Set("Origin", "http://evil.example")
	resp := wstest.RawHandshake(t, addr, wstest.BuildRequest("GET", "/ws?name=eve", "HTTP/1.1", hdr))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a page from another origin got %q, want 403", resp.StatusLine)
	}
}

// Two tabs of a real headless Chromium chat with each other: both join,
// a message typed in one appears in the other, when one tab is closed the
// other sees it leave, and when the server shuts down the last tab is told
// 1001.
func TestChat_browser(t *testing.T) {
	s, addr := startChat(t)
	b := browsertest.Launch(t)
	start := time.Now()

	alice := b.NewPage("alice", "http://"+addr+"/?name=alice")
	alice.WaitFor(`document.getElementById("status").textContent === "connected as alice"`)
	bob := b.NewPage("bob", "http://"+addr+"/?name=bob")
	bob.WaitFor(`document.getElementById("status").textContent === "connected as bob"`)

	alice.WaitFor(`document.getElementById("log").innerText.includes("bob joined")`)
	alice.WaitFor(`document.getElementById("users").innerText.includes("bob")`)
	if got := bob.Text("#users"); !strings.Contains(got, "alice") {
		t.Errorf("bob's list of users %q does not have alice", got)
	}

	// Bob types a line and presses Enter.
	bob.Type("#msg", "hello from bob")
	bob.Press("Enter")
	alice.WaitFor(`document.getElementById("log").innerText.includes("bob: hello from bob")`)
	bob.WaitFor(`document.getElementById("log").innerText.includes("bob: hello from bob")`)

	// The browser negotiated permessage-deflate, and a long line goes
	// both ways compressed (over the 256-byte threshold).
	var ext string
	bob.Eval(`ws.extensions`, &ext)
	if !strings.Contains(ext, "permessage-deflate") {
		t.Errorf("negotiated extensions %q, want permessage-deflate", ext)
	}
	long := strings.Repeat("compressible chat text ", 18) // 414 bytes: over the threshold, under the chat's limit
	bob.Type("#msg", long)
	bob.Press("Enter")
	alice.WaitFor(`document.getElementById("log").innerText.includes("bob: ` + strings.TrimSpace(long) + `")`)

	// And alice answers.
	alice.Type("#msg", "hi bob <b>not bold</b>")
	alice.Press("Enter")
	bob.WaitFor(`document.getElementById("log").innerText.includes("alice: hi bob <b>not bold</b>")`)
	if n := countBold(t, bob); n != 0 {
		t.Errorf("a message was rendered as HTML (%d <b> in the log)", n)
	}

	// A line over 512 bytes of UTF-8 (171 three-byte characters) is
	// kept in the page, not sent.
	bob.Type("#msg", strings.Repeat("€", 171))
	bob.Press("Enter")
	bob.WaitFor(`document.getElementById("log").innerText.includes("not sent: a line may be 512 bytes at most")`)
	bob.Eval(`document.getElementById("msg").value = ""`, nil)

	// A third tab that asks for alice's name in capitals is refused, and
	// the page says why.
	eve := b.NewPage("eve", "http://"+addr+"/?name=ALICE")
	eve.WaitFor(`document.getElementById("log").innerText.includes("connection closed: 1008 name taken, or too like one in the room")`)
	eve.Close()

	if dir := os.Getenv("CHAT_SCREENSHOTS"); dir != "" {
		alice.Screenshot(filepath.Join(dir, "alice.png"))
		bob.Screenshot(filepath.Join(dir, "bob.png"))
	}

	// Bob closes his tab; the browser closes the WebSocket with 1001.
	bob.Close()
	alice.WaitFor(`document.getElementById("log").innerText.includes("bob left")`)
	alice.WaitFor(`!document.getElementById("users").innerText.includes("bob")`)
	if dir := os.Getenv("CHAT_SCREENSHOTS"); dir != "" {
		alice.Screenshot(filepath.Join(dir, "alice-after-bob-left.png"))
	}

	// The server shuts down: the tab is told 1001 and why.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.conns.Shutdown(ctx); err != nil {
		t.Errorf("ConnSet.Shutdown: %v", err)
	}
	alice.WaitFor(`document.getElementById("log").innerText.includes("connection closed: 1001 server shutting down")`)
	t.Logf("scenario took %v after the browser started", time.Since(start).Round(time.Millisecond))
}

func countBold(t *testing.T, p *browsertest.Page) int {
	t.Helper()
	var n int
	p.Eval(`document.querySelectorAll("#log b").length`, &n)
	return n
}
