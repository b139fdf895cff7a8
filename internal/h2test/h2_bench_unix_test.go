//go:build unix

package h2test

import (
	"bufio"
	_ "embed"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hybi/websocket"
)

//go:embed load.js
var loadJS []byte

// BenchmarkH2_echoCPU measures the server's CPU time per echoed message,
// for one wss:// WebSocket over HTTP/2 (RFC 8441) and one over HTTP/1.1
// (RFC 6455 upgrade), both on TLS to the same http.Server, in one run.
// No Go client can send :protocol, so the client is load.js on Node, in
// its own process; this process holds only the server, and its CPU time
// (getrusage, user + system, all threads) over the timed messages is
// reported as server-cpu-ns/msg. ns/op is wall time per round trip and
// includes Node's share.
//
//	go test -run '^$' -bench H2_echoCPU -benchtime 5000x ./internal/h2test
func BenchmarkH2_echoCPU(b *testing.B) {
	node := Node(b)
	script := filepath.Join(b.TempDir(), "load.js")
	if err := os.WriteFile(script, loadJS, 0o600); err != nil {
		b.Fatal(err)
	}
	u := &websocket.Upgrader{EnableHTTP2: true, ReadLimit: 1 << 20}
	srv := NewServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		echo(c, r)
	}), nil)
	addr := srv.Listener.Addr().String()
	for _, proto := range []string{"http1.1", "h2"} {
		for _, size := range []int{16, 1 << 10, 64 << 10} {
			b.Run(fmt.Sprintf("%s/%s", proto, sizeName(size)), func(b *testing.B) {
				benchLoad(b, node, script, proto, addr, size)
			})
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// benchLoad runs load.js for b.N messages and reports the server's CPU.
func benchLoad(b *testing.B, node, script, proto, addr string, size int) {
	cmd := exec.Command(node, script, proto, addr, fmt.Sprint(size), fmt.Sprint(b.N))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Process.Kill() // by PID
		cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	expect := func(want string) {
		if !lines.Scan() || lines.Text() != want {
			b.Fatalf("load.js: want %q, got %q (%v)", want, lines.Text(), lines.Err())
		}
	}
	expect("ready")
	b.SetBytes(int64(size))
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	fmt.Fprintln(stdin, "go")
	expect("done")
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "server-cpu-ns/msg")
}

// cpuTime returns the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
