package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/redisroom/redistest"
)

// nodeBin is the cluster binary, built once by TestMain.
var nodeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cluster-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nodeBin = filepath.Join(dir, "cluster")
	args := []string{"build", "-o", nodeBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the node:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is a cluster process started by a test.
type node struct {
	t    *testing.T
	name string
	addr string // 127.0.0.1:PORT
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startNode runs a node on a free loopback port, with the given extra
// flags, and waits until it serves its page. It is killed when the test
// ends; its log is shown if the test failed.
func startNode(t *testing.T, redisAddr, name string, flags ...string) *node {
	t.Helper()
	return startNodeAt(t, freeAddr(t), redisAddr, name, flags...)
}

// startNodeAt is startNode on a given address (a node restarted where
// another one died).
func startNodeAt(t *testing.T, addr, redisAddr, name string, flags ...string) *node {
	t.Helper()
	n := &node{t: t, name: name, addr: addr, out: &lockedBuffer{}, done: make(chan struct{})}
	args := append([]string{"-addr", addr, "-redis", redisAddr, "-node", name}, flags...)
	n.cmd = exec.Command(nodeBin, args...)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		n.cmd.Process.Kill()
		<-n.done
		if strings.Contains(n.out.String(), "DATA RACE") {
			t.Errorf("node %s: the race detector found a race", name)
		}
		if t.Failed() {
			t.Logf("node %s log:\n%s", name, n.out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		select {
		case <-n.done:
			t.Fatalf("node %s exited: %s", name, n.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s does not answer: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startRedis starts a redis-server for one test (see redistest).
func startRedis(t *testing.T) *redistest.Server { return redistest.Start(t) }

// msg is any message a node sends: a line, a gap notice or an error.
type msg struct {
	ID     string `json:"id"`
	Room   string `json:"room"`
	Text   string `json:"text"`
	Node   string `json:"node"`
	Gap    bool   `json:"gap"`
	Oldest string `json:"oldest"`
	Error  string `json:"error"`
}

// client is a test's WebSocket client: a goroutine reads every message
// into msgs, and the error that ended the connection into err.
type client struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan msg
	done chan struct{} // closed when the reader has stopped
	err  error         // valid once done is closed
}

// wsURL returns the /ws URL of room on addr, resuming after since unless
// it is empty.
func wsURL(addr, room, since string) string {
	u := "ws://" + addr + "/ws?room=" + url.QueryEscape(room)
	if since != "" {
		u += "&since=" + url.QueryEscape(since)
	}
	return u
}

// dial opens a client and starts reading, unless read is false (a client
// that does not read, for the slow-client test).
func dial(t *testing.T, addr, room, since string) *client {
	t.Helper()
	return dialWith(t, &websocket.Dialer{HandshakeTimeout: 10 * time.Second}, addr, room, since, true)
}

func dialWith(t *testing.T, d *websocket.Dialer, addr, room, since string, read bool) *client {
	t.Helper()
	conn, resp, err := d.Dial(wsURL(addr, room, since), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s room %s since %q: %v (HTTP %d)", addr, room, since, err, status)
	}
	return newClient(t, conn, read)
}

// newClient wraps conn, closed when the test ends, and starts reading
// unless read is false.
func newClient(t *testing.T, conn *websocket.Conn, read bool) *client {
	c := &client{t: t, conn: conn, msgs: make(chan msg, 100000), done: make(chan struct{})}
	t.Cleanup(func() { conn.Close() })
	if read {
		go c.read()
	}
	return c
}

func (c *client) read() {
	defer close(c.done)
	for {
		_, p, err := c.conn.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		var m msg
		if err := json.Unmarshal(p, &m); err != nil {
			c.err = fmt.Errorf("bad JSON %q: %w", p, err)
			return
		}
		c.msgs <- m
	}
}

// send posts a line.
func (c *client) send(text string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// next returns the next message, failing the test after d.
func (c *client) next(d time.Duration) msg {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m
		default:
		}
		c.t.Fatalf("connection ended while waiting for a message: %v", c.err)
	case <-time.After(d):
		c.t.Fatalf("no message within %v", d)
	}
	return msg{}
}

// lines reads n line messages, failing on anything else.
func (c *client) lines(n int, d time.Duration) []msg {
	c.t.Helper()
	out := make([]msg, 0, n)
	for len(out) < n {
		m := c.next(d)
		if m.ID == "" {
			c.t.Fatalf("after %d lines, got %+v, want a line", len(out), m)
		}
		out = append(out, m)
	}
	return out
}

// closeCode waits for the connection to end and returns its close code,
// or 0 when it ended without a close frame.
func (c *client) closeCode(d time.Duration) int {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case <-c.msgs: // lines still in flight before the close
			continue
		case <-c.done:
			var ce *websocket.CloseError
			if errors.As(c.err, &ce) {
				return ce.Code
			}
			return 0
		case <-deadline:
			c.t.Fatalf("connection still open after %v", d)
		}
	}
}

// checkOrder fails unless the ids of ms strictly increase.
func checkOrder(t *testing.T, who string, ms []msg) {
	t.Helper()
	for i := 1; i < len(ms); i++ {
		if !lessID(t, ms[i-1].ID, ms[i].ID) {
			t.Fatalf("%s: id %s after %s", who, ms[i].ID, ms[i-1].ID)
		}
	}
}

func lessID(t *testing.T, a, b string) bool {
	t.Helper()
	var am, as, bm, bs uint64
	if _, err := fmt.Sscanf(a, "%d-%d", &am, &as); err != nil {
		t.Fatalf("bad id %q", a)
	}
	if _, err := fmt.Sscanf(b, "%d-%d", &bm, &bs); err != nil {
		t.Fatalf("bad id %q", b)
	}
	return am < bm || (am == bm && as < bs)
}

// status returns the HTTP status a /ws request gets, with an optional
// Origin header.
func status(t *testing.T, rawURL, origin string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	if origin != "" {
		req += "Origin: " + origin + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s: %v", rawURL, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// stop sends sig to the node and returns how long it took to exit.
func (n *node) stop(sig syscall.Signal, limit time.Duration) time.Duration {
	n.t.Helper()
	start := time.Now()
	n.cmd.Process.Signal(sig)
	select {
	case <-n.done:
		return time.Since(start)
	case <-time.After(limit):
		n.t.Fatalf("node %s still running %v after %v", n.name, limit, sig)
	}
	return 0
}
