// The end-to-end check of -metrics: known traffic against the real binary,
// and the exact expvar map it must publish. It runs with the test command;
// alone:
//
//	go test -race -count=1 -run TestMetrics_endToEnd ./examples/echo/

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/hixieclient"
	"github.com/hybi/websocket/internal/wstest"
)

// startEcho builds this example and runs it with args on a free loopback
// port until the test ends; it returns the address.
func startEcho(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "echo")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc, logged := make(chan string, 1), make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "echo: serving ws://"); ok {
				addrc <- strings.TrimSuffix(strings.Fields(rest)[0], "/echo")
			}
			t.Log(line)
		}
		io.Copy(io.Discard, stderr)
	}()
	// Stopped by its PID; its log is read to the end before Wait, as
	// os/exec requires, and before the test ends.
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		<-logged
		cmd.Wait()
	})
	select {
	case addr := <-addrc:
		return addr
	case <-time.After(30 * time.Second):
		t.Fatal("echo did not report its address")
	}
	return ""
}

// debugVarsMap fetches the "websocket" map from /debug/vars.
func debugVarsMap(t *testing.T, addr string) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/debug/vars")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var all map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(all["websocket"], &m); err != nil {
		t.Fatalf("the websocket map: %v (%s)", err, all["websocket"])
	}
	return m
}

func text(n int) []byte { return []byte(strings.Repeat("abcdefghij", n/10+1)[:n]) }

// TestMetrics_endToEnd drives a known mix of traffic at echo -metrics and
// compares the expvar map exactly: accepted RFC 6455 (plain and
// compressed) and hixie-76 handshakes, refusals with 426 and 403, text
// and binary echoes, closes by the peer, a protocol error answered with
// 1002, and a client that vanishes without a close frame.
func TestMetrics_endToEnd(t *testing.T) {
	addr := startEcho(t, "-metrics", "-hixie76")
	if got := debugVarsMap(t, addr); !reflect.DeepEqual(got, map[string]any{
		"handshakes": map[string]any{}, "active": 0.0, "messages_received": map[string]any{},
		"messages_sent": map[string]any{}, "bytes_received": 0.0, "bytes_sent": 0.0, "closes": map[string]any{},
	}) {
		t.Fatalf("before any traffic: %v", got)
	}

	// 3 text + 1 binary echoes, then the client closes with 1000: peer:1000.
	cl := wstest.Dial(t, addr, "/echo", nil)
	for _, m := range []wstest.Frame{
		wstest.Msg(wstest.OpText, []byte("hello")), wstest.Msg(wstest.OpText, text(300)),
		wstest.Msg(wstest.OpText, nil), wstest.Msg(wstest.OpBinary, text(1000)),
	} {
		cl.Send(m)
		cl.ExpectMessage(m.Opcode, m.Payload)
	}
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(1000, "bye")))
	cl.ExpectClose(1000)

	// A compressed text echo through the library's Dialer, closed by the
	// client: bytes count after inflating. peer:1000.
	d := websocket.Dialer{EnableCompression: true}
	wc, _, err := d.Dial("ws://"+addr+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := wc.WriteMessage(websocket.TextMessage, text(2000)); err != nil {
		t.Fatal(err)
	}
	if typ, p, err := wc.ReadMessage(); err != nil || typ != websocket.TextMessage || string(p) != string(text(2000)) {
		t.Fatalf("compressed echo: %d %d bytes %v", typ, len(p), err)
	}
	if err := wc.CloseHandshake(websocket.CloseNormalClosure, ""); err != nil {
		t.Fatal(err)
	}

	// Refused: an unsupported version (426) and a foreign Origin (403).
	for _, tt := range []struct {
		hdr  http.Header
		want int
	}{
		{http.Header{"Sec-WebSocket-Version": {"8"}}, http.StatusUpgradeRequired},
		{http.Header{"Origin": {"http://evil.example"}}, http.StatusForbidden},
	} {
		h := wstest.DefaultHeader(addr, wstest.NewKey())
		for k, v := range tt.hdr {
			h[k] = v
		}
		if r := wstest.RawHandshake(t, addr, wstest.BuildRequest("GET", "/echo", "HTTP/1.1", h)); r.StatusCode != tt.want {
			t.Fatalf("got %s, want %d", r.StatusLine, tt.want)
		}
	}

	// A reserved opcode (RFC 6455 §5.2): the server fails the connection
	// with 1002 and closes first: local:1002.
	bad := wstest.Dial(t, addr, "/echo", nil)
	bad.Send(wstest.Msg(0x3, []byte("x")))
	bad.ExpectClose(websocket.CloseProtocolError)

	// One echo, then the TCP connection ends without a close frame:
	// abnormal:1006.
	gone := wstest.Dial(t, addr, "/echo", nil)
	gone.Send(wstest.Msg(wstest.OpText, []byte("bye bye")))
	gone.ExpectMessage(wstest.OpText, []byte("bye bye"))
	gone.Close()

	// A hixie-76 echo closed by the client (0xFF 0x00 carries no code):
	// 101 and peer:1005.
	hc, err := hixieclient.Dial(addr, hixieclient.Options{Path: "/echo"})
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Conn.Close()
	if err := hc.WriteText("legacy"); err != nil {
		t.Fatal(err)
	}
	if s, err := hc.ReadText(); err != nil || s != "legacy" {
		t.Fatalf("hixie-76 echo: %q %v", s, err)
	}
	if err := hc.WriteClose(); err != nil {
		t.Fatal(err)
	}
	if err := hc.ExpectClose(); err != nil {
		t.Fatal(err)
	}

	const recv = 5 + 300 + 0 + 1000 + 2000 + 7 + 6
	want := map[string]any{
		"handshakes":        map[string]any{"101": 5.0, "426": 1.0, "403": 1.0},
		"active":            0.0,
		"messages_received": map[string]any{"text": 6.0, "binary": 1.0},
		"messages_sent":     map[string]any{"text": 6.0, "binary": 1.0},
		"bytes_received":    float64(recv),
		"bytes_sent":        float64(recv),
		"closes":            map[string]any{"peer:1000": 2.0, "local:1002": 1.0, "abnormal:1006": 1.0, "peer:1005": 1.0},
	}
	// The server's handlers end after the clients see their close: wait
	// (bounded) for the last Closed hook, then compare.
	var got map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; {
		got = debugVarsMap(t, addr)
		if reflect.DeepEqual(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("websocket map:\ngot  %v\nwant %v", got, want)
	}
}
