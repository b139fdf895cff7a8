// Package conformance drives a real websocket.Upgrader server with the
// independent raw client of internal/wstest, case by case, grouped like the
// sections of Autobahn|Testsuite: 1 framing, 2 ping/pong, 3 reserved bits,
// 4 opcodes, 5 fragmentation, 6 UTF-8, 7 close, 9 limits and big messages,
// 10 fragment sizes, plus the opening handshake. Every case checks the exact
// bytes echoed or the exact close code, and that the server then ends the
// TCP connection.
//
// Run: go test -race -count=1 ./internal/conformance/
package conformance

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/leakcheck"
	"github.com/hybi/websocket/internal/wstest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// echoMessages echoes every message with its type through ReadMessage and
// WriteMessage. It does not close the connection: the library promises to
// end the TCP connection itself once the close handshake is done or the
// connection has failed, and the tests check that promise.
func echoMessages(c *websocket.Conn) {
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, p); err != nil {
			return
		}
	}
}

// echoStream echoes every message while it arrives, through NextReader,
// NextWriter and io.Copy.
func echoStream(c *websocket.Conn) {
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return
		}
		w, err := c.NextWriter(mt)
		if err != nil {
			return
		}
		if _, err := io.Copy(w, r); err != nil {
			return
		}
		if err := w.Close(); err != nil {
			return
		}
	}
}

// echoModes are the two echo handlers every echo case runs against.
var echoModes = []struct {
	name    string
	handler func(*websocket.Conn)
}{
	{"message", echoMessages},
	{"stream", echoStream},
}

// server is a test HTTP server whose handler upgrades every request with
// up and hands the connection to handle.
type server struct {
	addr string

	mu    sync.Mutex
	conns []*websocket.Conn
	wg    sync.WaitGroup
}

// newServer starts a server on 127.0.0.1 and registers its shutdown with
// t.Cleanup: the listener is closed, every upgraded connection's socket is
// closed (so a handler stuck on a library bug cannot leak), and the test
// fails if a handler has not returned within a few seconds after that.
func newServer(t testing.TB, up *websocket.Upgrader, handle func(*websocket.Conn)) *server {
	t.Helper()
	s := &server{}
	register := func(c *websocket.Conn) {
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
	}
	var stop func()
	if os.Getenv("CONFORMANCE_SERVE") != "" {
		// Upgrader.Serve on a bare listener instead of net/http.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			up.Serve(ln, func(c *websocket.Conn, r *http.Request) {
				s.wg.Add(1)
				defer s.wg.Done()
				register(c)
				handle(c)
			})
		}()
		s.addr = ln.Addr().String()
		stop = func() { ln.Close() }
	} else {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.wg.Add(1)
			defer s.wg.Done()
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			register(c)
			handle(c)
		}))
		s.addr = hs.Listener.Addr().String()
		stop = hs.Close
	}
	t.Cleanup(func() {
		stop()
		s.mu.Lock()
		for _, c := range s.conns {
			c.NetConn().Close()
		}
		s.mu.Unlock()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("a server handler did not return within 5s of its connection being closed")
		}
	})
	return s
}

// dial starts a server with the given upgrader and handler and connects a
// raw client to it.
func dial(t testing.TB, up *websocket.Upgrader, handle func(*websocket.Conn)) *wstest.Client {
	t.Helper()
	s := newServer(t, up, handle)
	return wstest.Dial(t, s.addr, "/", nil)
}

// eachEcho runs f as a parallel subtest "name/mode" for each echo handler,
// with a client connected to a fresh echo server.
func eachEcho(t *testing.T, name string, f func(t *testing.T, c *wstest.Client)) {
	t.Helper()
	for _, m := range echoModes {
		t.Run(name+"/"+m.name, func(t *testing.T) {
			t.Parallel()
			f(t, dial(t, &websocket.Upgrader{}, m.handler))
		})
	}
}

// closeNormally sends a close 1000 and checks that the server answers with
// close 1000 next and ends the TCP connection.
func closeNormally(t testing.TB, c *wstest.Client) {
	t.Helper()
	c.Send(closeFrame(1000, ""))
	c.ExpectCloseNext(1000)
}

// Frame shorthands: masked, final, random key.

func text(s string) wstest.Frame   { return wstest.Msg(wstest.OpText, []byte(s)) }
func binary(b []byte) wstest.Frame { return wstest.Msg(wstest.OpBinary, b) }
func ping(s string) wstest.Frame   { return wstest.Msg(wstest.OpPing, []byte(s)) }
func pong(s string) wstest.Frame   { return wstest.Msg(wstest.OpPong, []byte(s)) }
func cont(fin bool, s string) wstest.Frame {
	return wstest.Frag(wstest.OpContinuation, fin, []byte(s))
}
func closeFrame(code uint16, reason string) wstest.Frame {
	return wstest.Msg(wstest.OpClose, wstest.CloseBody(code, reason))
}

// frag returns a masked frame with the given opcode and FIN bit.
func frag(op byte, fin bool, s string) wstest.Frame { return wstest.Frag(op, fin, []byte(s)) }

// encode concatenates the wire bytes of frames, to send them in one write.
func encode(frames ...wstest.Frame) []byte {
	var b []byte
	for _, f := range frames {
		b = wstest.AppendFrame(b, f)
	}
	return b
}

// fragments cuts p into frames of at most size bytes: the first with opcode
// op, the rest continuations, the last with FIN set. An empty p gives one
// empty final frame.
func fragments(op byte, p []byte, size int) []wstest.Frame {
	var fs []wstest.Frame
	for {
		n := min(size, len(p))
		f := wstest.Frag(wstest.OpContinuation, n == len(p), p[:n])
		if len(fs) == 0 {
			f.Opcode = op
		}
		fs = append(fs, f)
		p = p[n:]
		if len(p) == 0 {
			return fs
		}
	}
}

// textPayload returns n bytes of valid UTF-8 mixing 1- to 4-byte sequences.
func textPayload(n int) []byte {
	const unit = "Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞 €\n"
	b := bytes.Repeat([]byte(unit), n/len(unit)+1)[:n]
	// The cut may split the last sequence: replace its bytes with ASCII.
	start := n
	for start > 0 && n-start < utf8.UTFMax {
		start--
		if utf8.RuneStart(b[start]) {
			break
		}
	}
	if !utf8.FullRune(b[start:]) {
		for i := start; i < n; i++ {
			b[i] = 'x'
		}
	}
	return b
}

var (
	binOnce sync.Once
	binUnit []byte
)

// binaryPayload returns n pseudo-random bytes (not valid UTF-8).
func binaryPayload(n int) []byte {
	binOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 2))
		binUnit = make([]byte, 64<<10+13)
		for i := range binUnit {
			binUnit[i] = byte(r.Uint32())
		}
		binUnit[0] = 0xFF
	})
	return bytes.Repeat(binUnit, n/len(binUnit)+1)[:n]
}

func TestTextPayload_isValidUTF8OfExactLength(t *testing.T) {
	t.Parallel()
	for n := 0; n < 200; n++ {
		if p := textPayload(n); len(p) != n || !utf8.Valid(p) {
			t.Fatalf("textPayload(%d) = %d bytes, valid %v", n, len(p), utf8.Valid(p))
		}
	}
}

// sizeName names a size for a subtest: 65536 -> "64KiB", 125 -> "125B".
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// opName names an opcode for a subtest.
func opName(op byte) string {
	switch op {
	case wstest.OpText:
		return "text"
	case wstest.OpBinary:
		return "binary"
	}
	return fmt.Sprintf("op%#x", op)
}
