// Package redistest runs a real redis-server for tests: [Start] starts
// Debian's redis-server (or $REDIS_SERVER) as a child process on a free
// loopback port, with its own temporary directory and its append-only
// file fsynced on every write, so that [Server.Restart] brings back every
// line it acknowledged. It is stopped by PID when the test ends. When no
// redis-server is found the test is skipped, except under CI=true, where
// it fails.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Find returns the redis-server binary: $REDIS_SERVER if set, else
// redis-server in $PATH, else /usr/bin/redis-server.
func Find() (string, error) {
	if p := os.Getenv("REDIS_SERVER"); p != "" {
		return exec.LookPath(p)
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server", nil
	}
	return "", fmt.Errorf("redis-server not in $PATH nor /usr/bin, and $REDIS_SERVER not set (apt-get install redis-server)")
}

// Server is a redis-server child process. Its methods are for the test's
// goroutine.
type Server struct {
	// Addr is 127.0.0.1:PORT; it stays the same across Restart.
	Addr string
	// Dir holds the append-only file and the log.
	Dir string

	t   testing.TB
	bin string
	cmd *exec.Cmd
}

// Start starts a redis-server and returns it once it answers PING; it is
// killed when the test ends. Without redis-server the test is skipped, or
// fails when CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: %v", err)
		}
		t.Skipf("redistest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &Server{Addr: addr, Dir: t.TempDir(), t: t, bin: bin}
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	return s
}

func (s *Server) start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command(s.bin,
		"--port", port, "--bind", "127.0.0.1", "--dir", s.Dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--daemonize", "no", "--protected-mode", "no",
		"--logfile", filepath.Join(s.Dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.ping() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			s.t.Fatalf("redistest: redis-server on %s does not answer PING; log:\n%s", s.Addr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping reports whether the server answers PING with PONG.
func (s *Server) ping() bool {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// Stop stops the server with SIGTERM (it flushes its append-only file
// and exits) and waits for it, killing it after 10 seconds.
func (s *Server) Stop() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Restart starts the server again, on the same address with the same
// data, after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: Restart of a running server")
	}
	s.start()
}

// Pause stops the server with SIGSTOP: its sockets stay open and take
// connections and commands into the kernel's buffers, but nothing is
// answered, as when the network to it is cut. Resume undoes it.
func (s *Server) Pause() { s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { s.cmd.Process.Signal(syscall.SIGCONT) }
