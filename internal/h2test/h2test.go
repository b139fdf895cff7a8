// Package h2test runs WebSockets over HTTP/2 (RFC 8441) against the
// library in tests, with peers that really speak it: Go's own HTTP/2
// server cannot be driven by a Go client here (net/http's Transport
// refuses the :protocol pseudo-header), so the client side is Node's
// built-in http2 module, started as a child process.
//
// [StartBridge] runs bridge.js, an RFC 6455 <-> RFC 8441 gateway: it holds
// one HTTP/2 connection to the server under test and turns each TCP
// connection made to it, carrying an HTTP/1.1 WebSocket handshake, into an
// extended CONNECT stream on that connection. Tests then speak raw frames
// through it with internal/wstest, and learn from [Bridge.WaitClose] how
// the server ended each stream (END_STREAM or RST_STREAM and its code).
// [NewServer] starts the server under test: HTTPS with HTTP/2 on loopback.
//
// net/http accepts :protocol only when the process starts with
// GODEBUG=http2xconnect=1; [Main] re-executes the test binary with it.
//
// When node is missing the test is skipped, except under CI=true, where it
// fails. Helpers fail the test themselves and must be called from the
// test's goroutine.
package h2test

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/leakcheck"
)

//go:embed bridge.js
var bridgeJS []byte

// GODEBUG is the setting net/http's HTTP/2 server needs, at process start,
// to advertise SETTINGS_ENABLE_CONNECT_PROTOCOL and accept :protocol.
const GODEBUG = "http2xconnect=1"

// Main is the whole body of a TestMain for RFC 8441 tests: when the
// process was started without GODEBUG=http2xconnect=1 it runs the test
// binary again, with the same arguments and the setting appended to
// GODEBUG, and exits with its status; otherwise it runs the tests under
// leakcheck.Main.
func Main(m *testing.M) {
	if !XConnect() {
		env := os.Getenv("GODEBUG")
		if env != "" {
			env += ","
		}
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), "GODEBUG="+env+GODEBUG)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				os.Exit(ee.ExitCode())
			}
			fmt.Fprintln(os.Stderr, "h2test: re-exec with GODEBUG="+GODEBUG+":", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	leakcheck.Main(m)
}

// XConnect reports whether this process was started with
// GODEBUG=http2xconnect=1.
func XConnect() bool {
	for _, kv := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if strings.TrimSpace(kv) == GODEBUG {
			return true
		}
	}
	return false
}

// NewServer starts h on an HTTPS server with HTTP/2 on loopback (a
// self-signed certificate, the httptest one) and closes it when the test
// ends. configure, if not nil, may set fields of the http.Server before it
// starts (timeouts, ErrorLog).
func NewServer(t testing.TB, h http.Handler, configure func(*http.Server)) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = true
	if configure != nil {
		configure(s.Config)
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// Node returns the path of node: $NODE if set, else node or nodejs from
// $PATH. Without it the test is skipped, or fails when CI=true.
func Node(t testing.TB) string {
	t.Helper()
	names := []string{"node", "nodejs"}
	if p := os.Getenv("NODE"); p != "" {
		names = []string{p}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("h2test: no node in $PATH (CI=true, so this fails instead of skipping; apt-get install nodejs, or set NODE)")
	}
	t.Skipf("h2test: no node in $PATH, skipping (apt-get install nodejs, or set NODE)")
	return ""
}

// Bridge is a running bridge.js and its one HTTP/2 connection.
type Bridge struct {
	t    testing.TB
	addr string

	mu     sync.Mutex
	cond   *sync.Cond
	closes map[int]StreamEnd // by stream ID
	ended  map[int]bool
	lines  []string // everything it printed, for failures
	done   bool     // stdout ended
}

// StreamEnd is how the server ended a stream, as Node saw it.
type StreamEnd struct {
	EndStream bool // the server sent END_STREAM
	RSTCode   int  // the RST_STREAM error code; 0 when none (or NO_ERROR)
}

// StartBridge starts bridge.js against the HTTP/2 server at serverAddr
// (host:port) and waits until it has the server's SETTINGS and listens.
// It fails the test when the server did not advertise
// SETTINGS_ENABLE_CONNECT_PROTOCOL. The process is killed, by its PID,
// when the test ends.
func StartBridge(t testing.TB, serverAddr string) *Bridge {
	t.Helper()
	node := Node(t)
	script := filepath.Join(t.TempDir(), "bridge.js")
	if err := os.WriteFile(script, bridgeJS, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, serverAddr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("h2test: start %s: %v", node, err)
	}
	b := &Bridge{t: t, closes: map[int]StreamEnd{}, ended: map[int]bool{}}
	b.cond = sync.NewCond(&b.mu)
	ready := make(chan readyLine, 1)
	go b.read(stdout, ready)
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill() // by PID; the bridge also exits when stdin ends
		cmd.Wait()
	})
	select {
	case r := <-ready:
		if !r.Ready {
			t.Fatalf("h2test: bridge ended before it was ready: %s\n%s", strings.Join(b.output(), "\n"), stderr.String())
		}
		if !r.EnableConnectProtocol {
			t.Fatalf("h2test: the server at %s did not send SETTINGS_ENABLE_CONNECT_PROTOCOL=1 "+
				"(was the process started with GODEBUG=%s? XConnect()=%v)", serverAddr, GODEBUG, XConnect())
		}
		b.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port))
	case <-time.After(15 * time.Second):
		t.Fatalf("h2test: bridge not ready after 15s: %s\n%s", strings.Join(b.output(), "\n"), stderr.String())
	}
	return b
}

type readyLine struct {
	Ready                 bool `json:"ready"`
	Port                  int  `json:"port"`
	EnableConnectProtocol bool `json:"enableConnectProtocol"`
}

type eventLine struct {
	Stream  int    `json:"stream"`
	Event   string `json:"event"`
	RSTCode int    `json:"rstCode"`
}

func (b *Bridge) read(stdout interface{ Read([]byte) (int, error) }, ready chan<- readyLine) {
	sc := bufio.NewScanner(stdout)
	first := true
	for sc.Scan() {
		line := sc.Text()
		b.mu.Lock()
		b.lines = append(b.lines, line)
		b.mu.Unlock()
		if first {
			var r readyLine
			if json.Unmarshal([]byte(line), &r) == nil && r.Ready {
				first = false
				ready <- r
				continue
			}
		}
		var e eventLine
		if json.Unmarshal([]byte(line), &e) != nil || e.Stream == 0 {
			continue
		}
		b.mu.Lock()
		switch e.Event {
		case "end":
			b.ended[e.Stream] = true
		case "close":
			b.closes[e.Stream] = StreamEnd{EndStream: b.ended[e.Stream], RSTCode: e.RSTCode}
		}
		b.cond.Broadcast()
		b.mu.Unlock()
	}
	b.mu.Lock()
	b.done = true
	b.cond.Broadcast()
	b.mu.Unlock()
	if first {
		ready <- readyLine{}
	}
}

func (b *Bridge) output() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

// Addr returns the bridge's loopback address, for wstest.Dial and
// wstest.RawHandshake.
func (b *Bridge) Addr() string { return b.addr }

// WaitClose waits, up to 10 seconds, for the stream with the given ID
// (the X-H2-Stream header of the bridge's answer) to be closed, and
// returns how the server ended it.
func (b *Bridge) WaitClose(id string) StreamEnd {
	b.t.Helper()
	n, err := strconv.Atoi(id)
	if err != nil {
		b.t.Fatalf("h2test: bad stream ID %q", id)
	}
	expired := false
	timer := time.AfterFunc(10*time.Second, func() {
		b.mu.Lock()
		expired = true
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer timer.Stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if e, ok := b.closes[n]; ok {
			return e
		}
		if b.done || expired {
			b.t.Fatalf("h2test: stream %d not closed; bridge said:\n%s", n, strings.Join(b.lines, "\n"))
		}
		b.cond.Wait()
	}
}
