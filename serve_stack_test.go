package websocket

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// The goroutine of an idle connection stays on Go's minimal 2 KiB stack:
// the paths from a handler down to the socket are kept shallow enough
// (no deep calls under the RawConn callbacks, no defer on the write path)
// that one message each way does not grow it; a grown stack never shrinks
// back while the connection waits. This is most of an idle connection's
// memory. The race detector makes every frame larger, so it runs without
// it (.ci/run step stack).
//
// The figure is the process's stack memory per connection, so the
// measurement runs in a process of its own (this test binary again, this
// test alone), where nothing but these connections' goroutines comes and
// goes: other tests' goroutines, and the handshake goroutines that grow
// their stacks and exit, once counted with the handlers and made the test
// fail on a busy machine. See measureIdleStacks.
func TestServe_idleConnectionsStayOnSmallStacks(t *testing.T) {
	if raceEnabled {
		t.Skip("frames are larger under the race detector; .ci/run runs this without it")
	}
	if os.Getenv(stackChildEnv) == "1" {
		measureIdleStacks(t, false)
		return
	}
	inOwnProcess(t, `stack per idle connection: [-0-9]+ bytes`)
}

// The same after a ping from each peer, answered by the default handler:
// the pong is held and written by the reader before it waits again
// (flushBeforeRead), from a shallow frame. Arming the flush timer from
// deep under the read (the runtime's timer code below handleControl)
// grew every pinged connection's goroutine to 4 KiB for good (4.3 KiB per
// connection measured, against 2.1 now).
func TestServe_pingedConnectionsStayOnSmallStacks(t *testing.T) {
	if raceEnabled {
		t.Skip("frames are larger under the race detector; .ci/run runs this without it")
	}
	if os.Getenv(stackChildEnv) == "1" {
		measureIdleStacks(t, true)
		return
	}
	inOwnProcess(t, `stack per idle connection: [-0-9]+ bytes`)
}

// inOwnProcess runs the calling test again, alone, in a process of its
// own (the test binary with stackChildEnv set), and logs what of its
// output matches figure. The collector must not shrink stacks there
// (gcshrinkstackoff): the measurements collect garbage to free the
// stacks of exited goroutines, and must not hide a grown one.
func inOwnProcess(t *testing.T, figure string) {
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), stackChildEnv+"=1", "GODEBUG=gcshrinkstackoff=1")
	out, err := cmd.CombinedOutput()
	if m := regexp.MustCompile(figure).Find(out); m != nil {
		t.Log(string(m))
	}
	if err != nil {
		t.Fatalf("the measuring process failed: %v\n%s", err, out)
	}
}

// Serve's handshake goroutine grows its stack to 8 KiB in one step before
// the handshake (growStack): the handshake, deflate negotiation included,
// must then fit, or the goroutine grows its stack again in the deep
// calls, the cost growStack is there to avoid. Measured as the stack
// memory held by goroutines that did a handshake as serveConn does and
// then wait, in a process of its own.
func TestServe_handshakeFitsItsGrownStack(t *testing.T) {
	if raceEnabled {
		t.Skip("frames are larger under the race detector; .ci/run runs this without it")
	}
	if os.Getenv(stackChildEnv) != "1" {
		inOwnProcess(t, `stack per handshake goroutine: [-0-9]+ bytes`)
		return
	}
	const n = 100
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	u := &Upgrader{EnableCompression: true, CheckOrigin: func(*http.Request) bool { return true }}
	release := make(chan struct{})
	done := make(chan error, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		cl, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		io.WriteString(cl, benchRequests[1].req)
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		go func() { // as serveConn, with room to spare for its frame
			var frame [256]byte
			keep(frame[:])
			growStack()
			c, _, err := u.UpgradeConn(nc)
			done <- err
			<-release
			if err == nil {
				c.Close()
			}
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	close(release)
	perG := (int64(after.StackInuse) - int64(before.StackInuse)) / n
	t.Logf("stack per handshake goroutine: %d bytes", perG)
	if perG > 10<<10 {
		t.Errorf("a handshake goroutine holds %d bytes of stack after growStack's 8 KiB: the handshake outgrew it (raise handshakeStackPad, or trim the handshake's frames)", perG)
	}
}

const stackChildEnv = "WEBSOCKET_STACK_TEST_CHILD"

// measureIdleStacks is the measurement, in its own process: 300
// connections through Serve, one message echoed on each (then, with ping,
// one ping answered on each), then, once no handshake goroutine is left
// and a collection has freed their stacks, the stack memory the idle
// handlers hold, per connection.
func measureIdleStacks(t *testing.T, ping bool) {
	const n = 300
	addr := serveRaw(t, &Upgrader{}, func(c *Conn, r *http.Request) {
		// A handler with some state of its own on its frame (128 bytes
		// here), as real ones have: the library must leave room for it.
		var state [128]byte
		keep(state[:])
		for { // a streaming echo
			mt, rd, err := c.NextReader()
			if err != nil {
				return
			}
			w, err := c.NextWriter(mt)
			if err != nil {
				return
			}
			if _, err := io.Copy(w, rd); err != nil {
				return
			}
			if err := w.Close(); err != nil {
				return
			}
		}
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	clients := make([]*wstest.Client, n)
	for i := range clients { // no client goroutines: only the server's stacks grow
		clients[i] = wstest.Dial(t, addr, "/", nil)
	}
	msg := bytes.Repeat([]byte("x"), 1000)
	for _, cl := range clients {
		cl.Send(wstest.Msg(wstest.OpBinary, msg))
	}
	for _, cl := range clients {
		cl.ExpectMessage(wstest.OpBinary, msg)
	}
	if ping {
		waitIdle(t, n)
		for _, cl := range clients {
			cl.Send(wstest.Frame{Fin: true, Opcode: wstest.OpPing, Masked: true, Key: wstest.NewMaskKey(), Payload: []byte("hb")})
		}
		for _, cl := range clients {
			if f, err := cl.ReadFrame(); err != nil || f.Opcode != wstest.OpPong || string(f.Payload) != "hb" {
				t.Fatalf("answer to the ping: %v, opcode %d, %q", err, f.Opcode, f.Payload)
			}
		}
	}
	waitIdle(t, n)
	runtime.GC() // frees the exited handshake goroutines' stacks
	runtime.ReadMemStats(&after)
	perConn := (int64(after.StackInuse) - int64(before.StackInuse)) / n
	t.Logf("stack per idle connection: %d bytes", perConn)
	if perConn > 3<<10 {
		t.Errorf("each idle connection's goroutine holds %d bytes of stack, want about 2 KiB (a stack grown to 4 KiB stays so)", perConn)
	}
	for _, cl := range clients {
		cl.Close()
	}
}

// waitIdle waits until no goroutine is in a handshake (serveConn) and n
// handlers wait for their next message.
func waitIdle(t *testing.T, n int) {
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		for {
			m := runtime.Stack(buf, true)
			if m < len(buf) {
				buf = buf[:m]
				break
			}
			buf = make([]byte, 2*len(buf))
		}
		dump := string(buf)
		buf = buf[:cap(buf)]
		waiting := 0
		for _, g := range strings.Split(dump, "\n\n") {
			if strings.Contains(g, "runHandler") && strings.Contains(g, ".NextReader(") {
				waiting++
			}
		}
		if !strings.Contains(dump, ").serveConn(") && waiting == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s, %d of %d handlers wait for a message, or a handshake goroutine is left:\n%.4000s", waiting, n, dump)
		}
	}
}

//go:noinline
func keep(b []byte) { b[0]++ }
