package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/nginxtest"
)

// readmeNginx returns the nginx block of README.md, the one after the
// cluster-nginx marker.
func readmeNginx(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- cluster-nginx:")
	if ok {
		_, rest, ok = strings.Cut(rest, "```nginx\n")
	}
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md: no nginx block after the cluster-nginx marker")
	}
	return block
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNginx runs nginx in the foreground with conf (the README's block)
// inside an http block, its files in a temporary directory.
func startNginx(t *testing.T, conf string) {
	t.Helper()
	bin, err := nginxtest.Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	full := fmt.Sprintf(`daemon off;
master_process off;
error_log %s info;
pid %s;
events { worker_connections 256; }
http {
    access_log %s;
    client_body_temp_path %s;
    proxy_temp_path %s;
    fastcgi_temp_path %s;
    uwsgi_temp_path %s;
    scgi_temp_path %s;
%s
}
`, p("error.log"), p("nginx.pid"), p("access.log"), p("cb"), p("proxy"), p("fcgi"), p("uwsgi"), p("scgi"), conf)
	if err := os.WriteFile(p("nginx.conf"), []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", p("nginx.conf"), "-e", p("error.log"))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(p("error.log"))
			t.Logf("nginx:\n%s%s", out.String(), log)
		}
	})
}

// TestREADME_nginxThreeNodes runs the README's recipe: one Redis, three
// nodes, nginx with the README's block (ports changed). Clients through
// nginx spread over the nodes and see every line; when a node is killed,
// its clients come back through nginx with since and miss nothing.
func TestREADME_nginxThreeNodes(t *testing.T) {
	conf := readmeNginx(t)
	r := startRedis(t)
	var nodes []*node
	for i, name := range []string{"a", "b", "c"} {
		n := startNode(t, r.Addr, name)
		nodes = append(nodes, n)
		conf = strings.Replace(conf, fmt.Sprintf("127.0.0.1:%d", 8081+i), n.addr, 1)
	}
	front := freeAddr(t)
	conf = strings.Replace(conf, "listen 127.0.0.1:8080;", "listen "+front+";", 1)
	startNginx(t, conf)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + front + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx on %s: %v", front, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A browser's handshake: the Origin is the page's, nginx passes Host.
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	hdr := http.Header{"Origin": {"http://" + front}}
	var cs []*client
	for i := 0; i < 6; i++ {
		conn, _, err := d.Dial(wsURL(front, "lobby", ""), hdr)
		if err != nil {
			t.Fatalf("through nginx: %v", err)
		}
		cs = append(cs, newClient(t, conn, true))
	}
	node := make([]string, len(cs)) // the node each client is on
	var lastID string
	for i, c := range cs {
		c.send(fmt.Sprint("hello ", i))
		for k, o := range cs {
			m := o.next(wait)
			if m.Text != fmt.Sprint("hello ", i) {
				t.Fatalf("client %d: %+v, want hello %d", k, m, i)
			}
			if k == i {
				node[i], lastID = m.Node, m.ID
			}
		}
	}
	spread := map[string]bool{}
	for _, n := range node {
		spread[n] = true
	}
	if len(spread) < 2 {
		t.Fatalf("all clients on one node: %v", node)
	}
	killed := nodes[0]
	for _, n := range nodes {
		if n.name == node[0] {
			killed = n
		}
	}
	killed.stop(syscall.SIGKILL, wait)
	var survivor *client
	var moved []int
	for i, c := range cs {
		if node[i] == killed.name {
			c.closeCode(wait)
			moved = append(moved, i)
		} else {
			survivor = c
		}
	}
	survivor.send("after the kill")
	for _, i := range moved {
		conn, _, err := d.Dial(wsURL(front, "lobby", lastID), hdr)
		if err != nil {
			t.Fatalf("client %d back through nginx: %v", i, err)
		}
		if m := newClient(t, conn, true).next(wait); m.Text != "after the kill" || m.Node == killed.name {
			t.Fatalf("client %d, resumed after %s: %+v", i, lastID, m)
		}
	}
}
