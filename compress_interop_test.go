package websocket

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// ---- small windows against real peers ----
//
// python-websockets (Debian python3-websockets, zlib underneath) and node's
// ws (npm ws, installed by .ci/run's compress_interop step into
// testdata/interop/node_modules) limit our LZ77 window, as servers
// (client_max_window_bits answered to our Dialer) and as clients
// (server_max_window_bits offered to our Upgrader). Their zlib inflaters
// refuse any distance beyond the window ("invalid distance too far back"),
// so an echo that comes back intact proves the stream valid; the bytes on
// the wire prove it compressed. A missing peer skips, or fails under
// CI=true.

// interopMax is the most wire bytes allowed for 1 MiB of pmdRepText by
// window bits: TestCompress_smallWindow_ratio's bounds plus frame headers.
var interopMax = [16]int64{9: 82000, 10: 47000, 11: 32000, 12: 22000, 13: 17000, 14: 14000}

const interopSize = 1 << 20

// interopNeed skips (or fails under CI=true) when a peer is missing.
func interopNeed(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// interopPython returns a python3 that imports websockets.
func interopPython(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		if p, err := exec.LookPath(name); err == nil && exec.Command(p, "-c", "import websockets").Run() == nil {
			return p
		}
	}
	interopNeed(t, "python3 with websockets is not installed (apt-get install python3-websockets)")
	return ""
}

// interopNode returns node, with ws installed next to the scripts.
func interopNode(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		interopNeed(t, "node is not installed (apt-get install nodejs)")
	}
	if _, err := os.Stat(filepath.Join("testdata", "interop", "node_modules", "ws")); err != nil {
		interopNeed(t, "npm ws is not installed (npm install --no-save --prefix testdata/interop ws@8, or .ci/run compress_interop)")
	}
	return p
}

// interopServer starts a peer's echo server script and returns its address.
func interopServer(t *testing.T, prog, script string, bits int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prog, filepath.Join("testdata", "interop", script), fmt.Sprint(bits))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // shown only when the test fails
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", script, stderr.String())
		}
	})
	port := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		port <- strings.TrimSpace(line)
	}()
	select {
	case p := <-port:
		if p == "" {
			t.Fatalf("%s printed no port", script)
		}
		return "127.0.0.1:" + p
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not start", script)
	}
	return ""
}

// countConn counts the bytes written to a connection.
type countConn struct {
	net.Conn
	written atomic.Int64
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// interopDial sends 1 MiB of repetitive text through our Dialer to a
// peer's server that limits our window to bits, and checks the echo and
// the bytes our message cost.
func interopDial(t *testing.T, addr string, bits int) {
	var cc *countConn
	d := Dialer{
		EnableCompression: true,
		HandshakeTimeout:  10 * time.Second,
		NetDialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, a)
			if err != nil {
				return nil, err
			}
			cc = &countConn{Conn: nc}
			return cc, nil
		},
	}
	c, resp, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.pmd == nil || c.pmd.params.serverBits != bits {
		t.Fatalf("negotiated %q, want client_max_window_bits=%d", resp.Header.Get("Sec-WebSocket-Extensions"), bits)
	}
	c.SetReadLimit(2 * interopSize)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	msg := pmdRepText(interopSize)
	before := cc.written.Load()
	if err := c.WriteMessage(TextMessage, msg); err != nil {
		t.Fatal(err)
	}
	sent := cc.written.Load() - before
	_, got, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("echo: %v (the peer refused our stream?)", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo differs")
	}
	c.WriteControl(CloseMessage, FormatCloseMessage(CloseNormalClosure, ""), time.Now().Add(time.Second))
	t.Logf("1 MiB of text within a %d-byte window: %d bytes on the wire", 1<<bits, sent)
	if sent > interopMax[bits] {
		t.Errorf("%d bytes on the wire, want at most %d", sent, interopMax[bits])
	}
}

// interopServe runs our echo server and one peer client per window size,
// checking the bytes each echo cost.
func interopServe(t *testing.T, client func(url string, bits int) *exec.Cmd) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sent := make(chan int64, 1)
	u := Upgrader{EnableCompression: true}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(2 * interopSize)
		typ, msg, err := c.ReadMessage()
		if err != nil {
			t.Errorf("server read: %v", err)
			return
		}
		cc := c.NetConn().(*countConn)
		before := cc.written.Load()
		if err := c.WriteMessage(typ, msg); err != nil {
			t.Errorf("server write: %v", err)
		}
		sent <- cc.written.Load() - before
		c.ReadMessage() // until the client closes
	})}
	go srv.Serve(countListener{ln})
	defer srv.Close()
	for bits := 9; bits <= 14; bits++ {
		cmd := client("ws://"+ln.Addr().String()+"/", bits)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "ok") {
			t.Fatalf("bits=%d: %v\n%s", bits, err, out)
		}
		n := <-sent
		t.Logf("bits=%d: 1 MiB of text echoed in %d bytes; %s", bits, n, strings.TrimSpace(string(out)))
		if n > interopMax[bits] {
			t.Errorf("bits=%d: %d bytes on the wire, want at most %d", bits, n, interopMax[bits])
		}
	}
}

type countListener struct{ net.Listener }

func (l countListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countConn{Conn: nc}, nil
}

func TestCompressInterop_dialerToPythonServer(t *testing.T) {
	t.Parallel()
	py := interopPython(t)
	for bits := 9; bits <= 14; bits++ {
		t.Run(fmt.Sprint(bits), func(t *testing.T) {
			interopDial(t, interopServer(t, py, "ws_server.py", bits), bits)
		})
	}
}

func TestCompressInterop_dialerToNodeServer(t *testing.T) {
	t.Parallel()
	node := interopNode(t)
	for bits := 9; bits <= 14; bits++ {
		t.Run(fmt.Sprint(bits), func(t *testing.T) {
			interopDial(t, interopServer(t, node, "ws_server.js", bits), bits)
		})
	}
}

func TestCompressInterop_pythonClientToServer(t *testing.T) {
	t.Parallel()
	py := interopPython(t)
	interopServe(t, func(url string, bits int) *exec.Cmd {
		return exec.Command(py, filepath.Join("testdata", "interop", "ws_client.py"), url, fmt.Sprint(bits), fmt.Sprint(interopSize))
	})
}

func TestCompressInterop_nodeClientToServer(t *testing.T) {
	t.Parallel()
	node := interopNode(t)
	interopServe(t, func(url string, bits int) *exec.Cmd {
		return exec.Command(node, filepath.Join("testdata", "interop", "ws_client.js"), url, fmt.Sprint(bits), fmt.Sprint(interopSize))
	})
}
