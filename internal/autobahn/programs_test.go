package autobahn

import (
	"bufio"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hybi/websocket"
)

// The two programs CI runs, built and started as CI starts them: the
// server agent echoes over loopback, and the client program drives the
// fake fuzzingserver to its reports and exits 0.
func TestPrograms_buildAndRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two programs")
	}
	dir := t.TempDir()
	for _, prog := range []string{"server", "client"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, prog), "./"+prog).CombinedOutput()
		if err != nil {
			t.Fatalf("go build ./%s: %v\n%s", prog, err, out)
		}
	}

	srv := exec.Command(filepath.Join(dir, "server"), "-mode", "stream", "-addr", "127.0.0.1:0")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr := line[strings.LastIndexByte(strings.TrimSpace(line), ' ')+1 : len(line)-1]
	d := &websocket.Dialer{EnableCompression: true, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatalf("dial the server program at %q: %v", addr, err)
	}
	echo(t, c, websocket.TextMessage, []byte("through the program"))
	c.Close()

	f := &fakeFuzzingServer{passed: map[int]bool{}}
	hs := httptest.NewServer(f)
	defer hs.Close()
	out, err := exec.Command(filepath.Join(dir, "client"), "-url", "ws"+strings.TrimPrefix(hs.URL, "http"),
		"-agent", "test-agent").CombinedOutput()
	if err != nil {
		t.Fatalf("client program: %v\n%s", err, out)
	}
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.passed) != 3 || !f.passed[1] || !f.passed[2] || !f.passed[3] || len(f.reports) != 1 {
		t.Fatalf("cases %v, reports %q\n%s", f.passed, f.reports, out)
	}
}
