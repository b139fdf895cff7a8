package hostile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/hixieclient"
	"github.com/hybi/websocket/internal/leakcheck"
	"github.com/hybi/websocket/internal/wstest"
)

// dialRaw opens a TCP connection closed at the end of the test.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// readUntilClosed reads nc until it ends or until d has passed, and
// returns what arrived, how long it took and the read error.
func readUntilClosed(nc net.Conn, d time.Duration) ([]byte, time.Duration, error) {
	start := time.Now()
	nc.SetReadDeadline(start.Add(d))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, time.Since(start), err
		}
	}
}

func isConnEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// Slowloris against the RFC 6455 handshake. The request headers are read
// by net/http before the handler (and Upgrade) runs, so the Upgrader cannot
// bound them: http.Server.ReadHeaderTimeout does. A client that sends one
// header line every 50 ms forever is cut off when it expires, with no
// response and no handler call; without it the connection stays open.
func TestSlowloris_rfc6455Headers_boundedByReadHeaderTimeout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*http.Server)
		closed    bool
	}{
		{"ReadHeaderTimeout=300ms", func(hs *http.Server) { hs.ReadHeaderTimeout = 300 * time.Millisecond }, true},
		{"noTimeouts", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{HandshakeTimeout: 100 * time.Millisecond}, tc.configure, echo)
			nc := dialRaw(t, s.addr)
			key := wstest.NewKey()
			if _, err := fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n", s.addr, key); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
					if _, err := fmt.Fprintf(nc, "X-Slow-%d: x\r\n", i); err != nil {
						return
					}
				}
			}()
			got, took, err := readUntilClosed(nc, 1500*time.Millisecond)
			close(stop)
			nc.Close()
			wg.Wait()
			switch {
			case tc.closed && !isConnEnd(err):
				t.Errorf("read: %v after %v, want the server to close the connection", err, took)
			case tc.closed && took > time.Second:
				t.Errorf("the server closed the connection after %v, want about 300ms", took)
			case !tc.closed && !isTimeout(err):
				t.Errorf("read: %v after %v, want the connection still open after 1.5s (no server timeout)", err, took)
			}
			if len(got) != 0 {
				t.Errorf("the server sent %q, want nothing", got)
			}
			if n := s.handled.Load(); n != 0 {
				t.Errorf("the handler ran %d times for a request whose headers never ended", n)
			}
		})
	}
}

// hixieRequest returns the header block of a valid hixie-76 handshake,
// without key3.
func hixieRequest(addr string) []byte {
	k1, _ := hixieclient.NewKey()
	k2, _ := hixieclient.NewKey()
	return []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n" +
		"Origin: http://" + addr + "\r\nSec-WebSocket-Key1: " + k1 + "\r\nSec-WebSocket-Key2: " + k2 + "\r\n\r\n")
}

// A hixie-76 client whose 8 key3 bytes never come (or only some of them):
// the server answers the header block, waits for key3 no longer than
// Upgrader.HandshakeTimeout, then closes the connection without the
// 16-byte answer, and Upgrade returns the timeout.
func TestSlowloris_hixie76Key3NeverArrives_closedAfterHandshakeTimeout(t *testing.T) {
	for _, sent := range []int{0, 5} {
		t.Run(fmt.Sprintf("key3Bytes=%d", sent), func(t *testing.T) {
			leakcheck.Check(t)
			up := &websocket.Upgrader{EnableHixie76: true, HandshakeTimeout: 300 * time.Millisecond}
			s := startServer(t, up, nil, echo)
			nc := dialRaw(t, s.addr)
			req := append(hixieRequest(s.addr), "12345678"[:sent]...)
			if _, err := nc.Write(req); err != nil {
				t.Fatal(err)
			}
			got, took, err := readUntilClosed(nc, 3*time.Second)
			if !isConnEnd(err) {
				t.Errorf("read: %v after %v, want the server to close the connection", err, took)
			}
			if took < 250*time.Millisecond || took > 2*time.Second {
				t.Errorf("the server closed the connection after %v, want about 300ms", took)
			}
			head, rest, ok := bytes.Cut(got, []byte("\r\n\r\n"))
			if !ok || !bytes.HasPrefix(head, []byte("HTTP/1.1 101 WebSocket Protocol Handshake\r\n")) || len(rest) != 0 {
				t.Errorf("got %q, want the 101 header block and no challenge answer", got)
			}
			if err := s.upgradeError(t); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("Upgrade error = %v, want a deadline exceeded", err)
			}
		})
	}
}

// rawExchange writes req (from a goroutine, ignoring its error: the server
// may stop reading) and reads the HTTP response.
func rawExchange(t *testing.T, addr string, req []byte) *http.Response {
	t.Helper()
	nc := dialRaw(t, addr)
	go func() {
		nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		nc.Write(req)
	}()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Huge request headers are refused by net/http with 431 before the
// handler runs: http.Server.MaxHeaderBytes (1 MiB by default) bounds them.
func TestHeaders_huge_431(t *testing.T) {
	for _, tc := range []struct {
		name           string
		maxHeaderBytes int
		header         string
	}{
		{"default/oneHeaderOf1.1MiB", 0, "X-Big: " + strings.Repeat("a", 1100<<10) + "\r\n"},
		{"default/manySmallHeaders", 0, strings.Repeat("X-Many: aaaaaaaaaaaaaaaa\r\n", 60_000)},
		{"MaxHeaderBytes=4096/16KiB", 4096, "X-Big: " + strings.Repeat("a", 16<<10) + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{}, func(hs *http.Server) { hs.MaxHeaderBytes = tc.maxHeaderBytes }, echo)
			req := "GET / HTTP/1.1\r\nHost: " + s.addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wstest.NewKey() + "\r\n" + tc.header + "\r\n"
			resp := rawExchange(t, s.addr, []byte(req))
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("status %d, want 431", resp.StatusCode)
			}
			if n := s.handled.Load(); n != 0 {
				t.Errorf("the handler ran %d times", n)
			}
		})
	}
}

// Malformed requests get 400 (from net/http for broken HTTP, from the
// Upgrader for a broken WebSocket handshake) and never a 101.
func TestHeaders_malformed_400(t *testing.T) {
	k1, _ := hixieclient.NewKey()
	good := func(addr string) string {
		return "Host: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
	}
	key := "Sec-WebSocket-Key: " + wstest.NewKey() + "\r\n"
	for _, tc := range []struct {
		name    string
		request func(addr string) string
		handler bool // whether the request reaches the handler (Upgrade refuses it)
	}{
		{"headerWithoutColon", func(a string) string { return "GET / HTTP/1.1\r\n" + good(a) + key + "Upgrade websocket\r\n\r\n" }, false},
		{"spaceBeforeColon", func(a string) string { return "GET / HTTP/1.1\r\n" + good(a) + "Sec-WebSocket-Key : x\r\n\r\n" }, false},
		{"invalidNameChar", func(a string) string { return "GET / HTTP/1.1\r\n" + good(a) + key + "X(y): z\r\n\r\n" }, false},
		{"controlCharInValue", func(a string) string { return "GET / HTTP/1.1\r\n" + good(a) + key + "X-Y: a\x00b\r\n\r\n" }, false},
		{"obsFold", func(a string) string { return "GET / HTTP/1.1\r\n" + good(a) + key + " folded: x\r\n\r\n" }, true}, // net/http folds it into the key
		{"missingHost", func(a string) string {
			return "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" + key + "\r\n"
		}, false},
		{"twoHosts", func(a string) string { return "GET / HTTP/1.1\r\n" + good(a) + "Host: other\r\n" + key + "\r\n" }, false},
		{"garbageRequestLine", func(a string) string { return "GET\r\n" + good(a) + key + "\r\n" }, false},
		{"conflictingContentLength", func(a string) string {
			return "GET / HTTP/1.1\r\n" + good(a) + key + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n"
		}, false},
		{"shortKey", func(a string) string { return "GET / HTTP/1.1\r\n" + good(a) + "Sec-WebSocket-Key: c2hvcnQ=\r\n\r\n" }, true},
		{"twoKeys", func(a string) string { return "GET / HTTP/1.1\r\n" + good(a) + key + key + "\r\n" }, true},
		{"keyNotBase64", func(a string) string {
			return "GET / HTTP/1.1\r\n" + good(a) + "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n\r\n"
		}, true},
		{"hixieKeyWithoutSpaces", func(a string) string {
			return "GET / HTTP/1.1\r\nHost: " + a + "\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key1: 12345\r\nSec-WebSocket-Key2: " + k1 + "\r\n\r\n12345678"
		}, true},
		{"hixieKeyOver2pow32", func(a string) string {
			return "GET / HTTP/1.1\r\nHost: " + a + "\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key1: 4294967296 \r\nSec-WebSocket-Key2: " + k1 + "\r\n\r\n12345678"
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{EnableHixie76: true}, nil, echo)
			resp := rawExchange(t, s.addr, []byte(tc.request(s.addr)))
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if tc.handler {
				var he websocket.HandshakeError
				if err := s.upgradeError(t); !errors.As(err, &he) || he.Status != http.StatusBadRequest {
					t.Errorf("Upgrade error = %v, want a HandshakeError with status 400", err)
				}
			} else if n := s.handled.Load(); n != 0 {
				t.Errorf("the handler ran %d times for a request net/http should refuse", n)
			}
		})
	}
}

// A peer that never reads. The server's writes fill the socket buffers and
// block; the write deadline ends them, the timeout reaches every writer
// (the one in the socket, those waiting for the message slot, a control
// write), later writes fail at once with the same error, and the handler
// returns.
func TestNeverReads_writeDeadlineReachesEveryWriter(t *testing.T) {
	leakcheck.Check(t)
	type outcome struct {
		who     string
		err     error
		elapsed time.Duration
	}
	outcomes := make(chan outcome, 8)
	handle := func(c *websocket.Conn) error {
		start := time.Now()
		if err := c.SetWriteDeadline(start.Add(500 * time.Millisecond)); err != nil {
			return err
		}
		chunk := make([]byte, 64<<10)
		var wg sync.WaitGroup
		run := func(who string, f func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := f()
				outcomes <- outcome{who, err, time.Since(start)}
			}()
		}
		for _, who := range []string{"WriteMessage 1", "WriteMessage 2"} {
			run(who, func() error {
				for {
					if err := c.WriteMessage(websocket.BinaryMessage, chunk); err != nil {
						return err
					}
				}
			})
		}
		run("NextWriter", func() error {
			for {
				w, err := c.NextWriter(websocket.BinaryMessage)
				if err != nil {
					return err
				}
				if _, err := w.Write(chunk); err != nil {
					return err
				}
				if err := w.Close(); err != nil {
					return err
				}
			}
		})
		run("WriteControl", func() error {
			time.Sleep(200 * time.Millisecond) // once the socket is full
			for {
				if err := c.WriteControl(websocket.PingMessage, []byte("x"), time.Now().Add(time.Second)); err != nil {
					return err
				}
			}
		})
		wg.Wait()
		again := time.Now()
		if err := c.WriteMessage(websocket.TextMessage, []byte("again")); !isTimeout(err) || time.Since(again) > 500*time.Millisecond {
			return fmt.Errorf("write after the timeout: %v after %v, want the same timeout at once", err, time.Since(again))
		}
		return nil
	}
	s := startServer(t, &websocket.Upgrader{}, nil, handle)
	c := wstest.Dial(t, s.addr, "/", nil)
	_ = c // the client never reads
	for i := 0; i < 4; i++ {
		select {
		case o := <-outcomes:
			if !errors.Is(o.err, os.ErrDeadlineExceeded) {
				t.Errorf("%s: %v, want a deadline exceeded error", o.who, o.err)
			}
			if o.elapsed > 2500*time.Millisecond {
				t.Errorf("%s returned after %v, want about 500ms (the write deadline), and for WriteControl at most its 1s deadline", o.who, o.elapsed)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a blocked writer did not return within 10s")
		}
	}
	if err := s.result(t); err != nil {
		t.Error(err)
	}
}

// A peer that never reads, and a server that closes with the closing
// handshake: CloseHandshake cannot send its close frame, gives up within
// Upgrader.CloseTimeout, reports it and closes the socket.
func TestNeverReads_closeHandshakeBoundedByCloseTimeout(t *testing.T) {
	leakcheck.Check(t)
	handle := func(c *websocket.Conn) error {
		chunk := make([]byte, 64<<10)
		c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		for c.WriteMessage(websocket.BinaryMessage, chunk) == nil {
		}
		start := time.Now()
		err := c.CloseHandshake(websocket.CloseGoingAway, "bye")
		if err == nil {
			return errors.New("CloseHandshake succeeded with a peer that never reads")
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			return fmt.Errorf("CloseHandshake took %v, want at most CloseTimeout (500ms)", d)
		}
		if _, _, err := c.ReadMessage(); err == nil {
			return errors.New("the connection is still readable after CloseHandshake")
		}
		return nil
	}
	s := startServer(t, &websocket.Upgrader{CloseTimeout: 500 * time.Millisecond}, nil, handle)
	c := wstest.Dial(t, s.addr, "/", nil)
	_ = c
	if err := s.result(t); err != nil {
		t.Error(err)
	}
}

// A TCP reset in the middle of a frame (SO_LINGER 0, then close): the
// reader gets ECONNRESET, every later read the same error, nothing leaks.
func TestReset_midFrame_readerGetsECONNRESET(t *testing.T) {
	leakcheck.Check(t)
	reads := make(chan error, 2)
	handle := func(c *websocket.Conn) error {
		_, _, err := c.ReadMessage()
		reads <- err
		_, _, err2 := c.ReadMessage()
		reads <- err2
		return err
	}
	s := startServer(t, &websocket.Upgrader{}, nil, handle)
	c := wstest.Dial(t, s.addr, "/", nil)
	wire := encode(wstest.Msg(wstest.OpBinary, bytes.Repeat([]byte{'r'}, 1000)))
	c.SendRaw(wire[:100]) // the header and 92 bytes of payload
	time.Sleep(100 * time.Millisecond)
	tc := c.Conn().(*net.TCPConn)
	tc.SetLinger(0)
	tc.Close()
	err := <-reads
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read error = %v, want ECONNRESET", err)
	}
	if err2 := <-reads; err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second read error = %v, want the same sticky error %v", err2, err)
	}
	s.result(t)
}

// Half-close: the client sends part of a frame and shuts its writing side
// (FIN). The reader gets 1006 (an abnormal closure, as gorilla reports it),
// and the server then ends the TCP connection.
func TestHalfClose_afterPartialFrame_1006(t *testing.T) {
	wire := encode(wstest.Msg(wstest.OpText, []byte("hello, half-closed world")))
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"insideHeader", wire[:1]},
		{"insideMaskKey", wire[:4]},
		{"insidePayload", wire[:10]},
		{"betweenFrames", encode(frag(wstest.OpText, false, []byte("part")))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{}, nil, readAll)
			c := wstest.Dial(t, s.addr, "/", nil)
			c.SendRaw(tc.send)
			c.Conn().(*net.TCPConn).CloseWrite()
			wantCloseCode(t, s.result(t), websocket.CloseAbnormalClosure)
			c.ExpectConnClosed()
		})
	}
}

// A close frame followed by garbage in the same segment: the close is
// echoed, the garbage is never parsed (no 1002), and the server ends the
// TCP connection.
func TestClose_thenGarbage_garbageIgnored(t *testing.T) {
	garbage := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	for _, tc := range []struct {
		name  string
		after []byte
	}{
		{"randomBytes", garbage},
		{"unmaskedFrame", wstest.AppendFrame(nil, wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte("x")})},
		{"reservedOpcode", encode(wstest.Msg(0x3, nil))},
		{"invalidUTF8Text", encode(wstest.Msg(wstest.OpText, []byte{0xff}))},
		{"frameOver2pow63", encode(wstest.Frame{Fin: true, Opcode: wstest.OpBinary, Masked: true, LenOverride: wstest.Uint64(1 << 63)})},
		{"secondClose", encode(closeFrame(1002, ""))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			s := startServer(t, &websocket.Upgrader{}, nil, readAll)
			c := wstest.Dial(t, s.addr, "/", nil)
			c.SendRaw(append(encode(closeFrame(1000, "bye")), tc.after...))
			c.ExpectCloseNext(1000)
			err := s.result(t)
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != 1000 || ce.Text != "bye" {
				t.Errorf("server read error = %v, want CloseError{1000, \"bye\"}", err)
			}
		})
	}
}

// A read deadline is what bounds a peer that trickles a frame one byte at
// a time after the handshake (slowloris on an open connection): the read
// returns the timeout and the connection ends.
func TestSlowFrame_boundedByReadDeadline(t *testing.T) {
	leakcheck.Check(t)
	handle := func(c *websocket.Conn) error {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, _, err := c.ReadMessage()
		return err
	}
	s := startServer(t, &websocket.Upgrader{}, nil, handle)
	c := wstest.Dial(t, s.addr, "/", nil)
	wire := encode(text(strings.Repeat("slow", 100)))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range wire {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if c.WriteRaw(wire[i:i+1]) != nil {
				return
			}
		}
	}()
	start := time.Now()
	err := s.result(t)
	close(stop)
	<-done
	if !isTimeout(err) {
		t.Errorf("server read error = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the read returned after %v, want about 300ms", d)
	}
	c.ExpectConnClosed()
}

// A peer that answers the server's close with a flood of data and never
// with its own close: CloseHandshake discards what arrives, gives up at
// Upgrader.CloseTimeout, closes the socket, and holds no message meanwhile.
func TestCloseHandshake_peerFloodsData_boundedByCloseTimeout(t *testing.T) {
	leakcheck.Check(t)
	type outcome struct {
		err     error
		elapsed time.Duration
	}
	done := make(chan outcome, 1)
	handle := func(c *websocket.Conn) error {
		start := time.Now()
		err := c.CloseHandshake(websocket.CloseGoingAway, "bye")
		done <- outcome{err, time.Since(start)}
		return nil
	}
	s := startServer(t, &websocket.Upgrader{CloseTimeout: 500 * time.Millisecond}, nil, handle)
	c := wstest.Dial(t, s.addr, "/", nil)
	msg := encode(wstest.Msg(wstest.OpBinary, make([]byte, 1<<20)))
	mem := probeMemory()
	stop := make(chan struct{})
	flooded := make(chan int, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				flooded <- n
				return
			default:
			}
			if c.WriteRaw(msg) != nil {
				flooded <- n
				return
			}
			n++
		}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("CloseHandshake did not return within 10s")
	}
	close(stop)
	n := <-flooded
	if o.err == nil {
		t.Errorf("CloseHandshake = nil, want an error: the peer never sent its close")
	}
	if o.elapsed < 400*time.Millisecond || o.elapsed > 2*time.Second {
		t.Errorf("CloseHandshake returned after %v, want about the 500ms CloseTimeout", o.elapsed)
	}
	t.Logf("CloseHandshake: %v after %v; the peer sent %d MiB meanwhile", o.err, o.elapsed, n)
	// Not the bytes allocated: under the race detector sync.Pool drops a
	// quarter of what is put back, so recycling read buffers allocates
	// in proportion to the flood. Nothing stays: the live heap is checked.
	mem.finish().check(t, 64<<20, 0, 1<<20)
	s.result(t)
}
