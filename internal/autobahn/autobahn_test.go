package autobahn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// Each server agent echoes what the Autobahn cases send: small and large
// messages of both types, an empty one, a fragmented one with a ping in
// the middle, and a burst read only after it was all sent; with and
// without permessage-deflate.
func TestServe_eachModeEchoes(t *testing.T) {
	for _, mode := range Modes {
		for _, compress := range []bool{false, true} {
			t.Run(mode+"/compress="+strconv.FormatBool(compress), func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				served := make(chan error, 1)
				go func() { served <- Serve(ln, mode) }()
				defer func() {
					ln.Close()
					if err := <-served; !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
						t.Errorf("Serve returned %v", err)
					}
				}()
				d := &websocket.Dialer{EnableCompression: compress, HandshakeTimeout: 10 * time.Second}
				c, _, err := d.Dial("ws://"+ln.Addr().String()+"/", nil)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetReadLimit(ReadLimit)
				checkEchoes(t, c)
				if err := c.CloseHandshake(websocket.CloseNormalClosure, ""); err != nil {
					t.Fatalf("CloseHandshake: %v", err)
				}
			})
		}
	}
	if err := Serve(nil, "nonsense"); err == nil {
		t.Fatal("an unknown mode was accepted")
	}
}

func checkEchoes(t *testing.T, c *websocket.Conn) {
	t.Helper()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	msgs := []struct {
		mt int
		p  []byte
	}{
		{websocket.TextMessage, []byte("Hello, Autobahn")},
		{websocket.BinaryMessage, big},
		{websocket.TextMessage, nil},
		{websocket.BinaryMessage, []byte{0, 0xFF, 0x80}},
	}
	for _, m := range msgs {
		echo(t, c, m.mt, m.p)
	}
	// Fragmented, a ping between the fragments (cases 5.x).
	w, err := c.NextWriter(websocket.TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(big[:70000])
	c.WriteControl(websocket.PingMessage, []byte("between"), time.Now().Add(time.Second))
	w.Write(big[70000:140000])
	w.Close()
	if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, big[:140000]) {
		t.Fatalf("fragmented echo: %d bytes, %v", len(got), err)
	}
	// A burst, read only after it was all sent (cases 9.7 and 9.8).
	const burst = 200
	for i := 0; i < burst; i++ {
		if err := c.WriteMessage(websocket.BinaryMessage, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < burst; i++ {
		if _, got, err := c.ReadMessage(); err != nil || string(got) != strconv.Itoa(i) {
			t.Fatalf("burst echo %d: %q, %v", i, got, err)
		}
	}
}

func echo(t *testing.T, c *websocket.Conn, mt int, p []byte) {
	t.Helper()
	if err := c.WriteMessage(mt, p); err != nil {
		t.Fatal(err)
	}
	gotType, got, err := c.ReadMessage()
	if err != nil || gotType != mt || !bytes.Equal(got, p) {
		t.Fatalf("echo of %d bytes (type %d): type %d, %d bytes, %v", len(p), mt, gotType, len(got), err)
	}
}

// fakeFuzzingServer plays the fuzzingserver's side of its protocol, with
// this package's Upgrader: getCaseCount, runCase (each case sends its own
// messages and checks the echoes; case 3 ends with a protocol violation
// the client must answer with 1002), updateReports.
type fakeFuzzingServer struct {
	wg      sync.WaitGroup // the handlers, which outlive the client's view
	mu      sync.Mutex
	passed  map[int]bool
	reports []string
}

func (f *fakeFuzzingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.wg.Add(1)
	defer f.wg.Done()
	up := websocket.Upgrader{EnableCompression: true}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	switch r.URL.Path {
	case "/getCaseCount":
		c.WriteMessage(websocket.TextMessage, []byte("3"))
	case "/runCase":
		n, _ := strconv.Atoi(r.URL.Query().Get("case"))
		ok := f.runCase(c, n, r.URL.Query().Get("agent"))
		f.mu.Lock()
		f.passed[n] = ok
		f.mu.Unlock()
		return
	case "/updateReports":
		f.mu.Lock()
		f.reports = append(f.reports, r.URL.Query().Get("agent"))
		f.mu.Unlock()
	}
	c.CloseHandshake(websocket.CloseNormalClosure, "")
}

func (f *fakeFuzzingServer) runCase(c *websocket.Conn, n int, agent string) bool {
	if agent != "test-agent" {
		return false
	}
	p := bytes.Repeat([]byte{byte('a' + n)}, n*100000)
	mt := websocket.TextMessage
	if n == 2 {
		mt = websocket.BinaryMessage
	}
	if c.WriteMessage(mt, p) != nil {
		return false
	}
	gotType, got, err := c.ReadMessage()
	if err != nil || gotType != mt || !bytes.Equal(got, p) {
		return false
	}
	if n == 3 { // a reserved opcode: the client must fail the connection
		c.NetConn().Write([]byte{0x83, 0x00})
		_, _, err := c.ReadMessage()
		return websocket.IsCloseError(err, websocket.CloseProtocolError)
	}
	return c.CloseHandshake(websocket.CloseNormalClosure, "") == nil
}

// Client drives every case of a fuzzingserver and asks for the reports.
func TestClient_drivesEveryCase(t *testing.T) {
	f := &fakeFuzzingServer{passed: map[int]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var logged []string
	n, err := Client(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), "test-agent",
		func(format string, args ...any) { logged = append(logged, format) })
	if err != nil || n != 3 {
		t.Fatalf("Client: %d cases, %v", n, err)
	}
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 1; i <= 3; i++ {
		if !f.passed[i] {
			t.Errorf("case %d did not pass", i)
		}
	}
	if len(f.reports) != 1 || f.reports[0] != "test-agent" {
		t.Errorf("updateReports calls: %q", f.reports)
	}
	if len(logged) != 0 {
		t.Errorf("logged %q", logged)
	}
}

// check.py (the CI gate) passes only OK and INFORMATIONAL, and fails a
// missing agent, a short report and an empty one.
func TestCheckPy(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is missing")
		}
		t.Skip("python3 is missing")
	}
	script := filepath.Join("..", "..", ".github", "autobahn", "check.py")
	report := func(behaviors ...string) map[string]map[string]map[string]string {
		cases := map[string]map[string]string{}
		for i, b := range behaviors {
			cases["1.1."+strconv.Itoa(i+1)] = map[string]string{"behavior": b, "behaviorClose": "OK"}
		}
		return map[string]map[string]map[string]string{"a": cases}
	}
	for _, tt := range []struct {
		name  string
		index any
		args  []string
		pass  bool
	}{
		{"all OK", report("OK", "INFORMATIONAL", "OK"), nil, true},
		{"non-strict", report("OK", "NON-STRICT"), nil, false},
		{"unimplemented", report("UNIMPLEMENTED"), nil, false},
		{"failed", report("FAILED"), nil, false},
		{"missing agent", report("OK"), []string{"--agents", "a,b"}, false},
		{"too few cases", report("OK"), []string{"--min-cases", "2"}, false},
		{"empty", map[string]any{}, nil, false},
	} {
		path := filepath.Join(t.TempDir(), "index.json")
		b, _ := json.Marshal(tt.index)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(py, append([]string{script, path}, tt.args...)...).CombinedOutput()
		if (err == nil) != tt.pass {
			t.Errorf("%s: exit %v, want pass=%v\n%s", tt.name, err, tt.pass, out)
		}
	}
}
