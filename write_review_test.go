package websocket

// Regression tests from a review of the write side's failure paths
// (pong.go, write_socket.go, queue.go) and of NextWriter's owner check:
// each failed before its fix.

import (
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A Closed hook may call c.Close (or anything that calls it): the hook
// runs after Close's Once, not inside it (it used to deadlock).
func TestClose_closedHookMayCallClose(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	h := &Hooks{Closed: func(c *Conn, e CloseEvent) { c.Close() }}
	c := newConn(a, connConfig{hooks: h}, nil)
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close deadlocked: Closed hook re-entered c.cl.once.Do")
	}
}

// A frame WriteMessage accepted (held back by coalescing) that Close
// cannot write (n == 0, the peer does not read) is lost: Close returns
// that write's error, as its doc promises (it used to return nil).
func TestClose_reportsAHeldFrameItCouldNotWrite(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newConn(a, connConfig{}, nil)
	// Simulate: the reader has buffered input (ahead), WriteMessage is held.
	c.rd.ahead.Store(true)
	if err := c.WriteMessage(TextMessage, []byte("accepted")); err != nil {
		t.Fatal(err)
	}
	if c.wr.pendN.Load() == 0 {
		t.Fatal("not held")
	}
	// Close comes within the 1 ms before the timer flush.
	c.wr.flushTimer.Load().Stop()
	start := time.Now()
	err := c.Close()
	t.Logf("Close took %v, returned %v; writeCause=%v wr.err=%v", time.Since(start), err, c.writeCause(), c.wr.err)
	if err == nil {
		t.Fatal("held frame lost, Close returned nil")
	}
}

// Ping flood from a peer that does not read: holdPong's non-blocking writev
// cuts a pong (the rest stays at the front of pend, pendCut). A later
// write failure with n == 0 (a deadline on a full socket) still leaves the
// stream cut inside a frame, so the connection is closed (it used to stay
// open).
func TestPong_cutHeldFrameClosesTheConnection(t *testing.T) {
	sc, peer := tcpPair(t)
	sc.(*net.TCPConn).SetWriteBuffer(4096)
	peer.(*net.TCPConn).SetReadBuffer(4096)
	c := newConn(sc, connConfig{}, nil)
	defer c.Close()
	if c.rawTransport() == nil {
		t.Skip("no raw transport")
	}
	ping := strings.Repeat("p", 125)
	cut := false
	for i := 0; i < 100000 && !c.pongsParked(); i++ {
		c.defaultPingHandler(ping)
	}
	if !c.pongsParked() {
		t.Fatal("never parked")
	}
	// Is pend's front a cut frame? (a whole pong starts with 0x8A 0x7D)
	// The parked writer now holds frameSem, blocked in a write without deadline.
	time.Sleep(50 * time.Millisecond)
	_ = cut
	// The application sets a write deadline; it applies to the write in progress.
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	time.Sleep(300 * time.Millisecond)
	select {
	case <-c.cl.done.wait():
		t.Logf("connection closed; cause=%v", c.writeCause())
	default:
		t.Logf("connection still open; wr.err=%v", func() error {
			if e := c.lockFrame(time.Now().Add(time.Second)); e != nil {
				return e
			}
			defer c.wr.frameSem.release()
			return c.wr.err
		}())
	}
	// Drain what reached the peer and check frame boundaries.
	peer.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	data, _ := io.ReadAll(peer)
	t.Logf("peer got %d bytes; %d %% 127 = %d", len(data), len(data), len(data)%127)
	open := true
	select {
	case <-c.cl.done.wait():
		open = false
	default:
	}
	if len(data)%127 != 0 && open {
		t.Fatal("stream cut inside a frame, connection left open")
	}
}

// The send queue's "rest" goroutine (queue.go sendQueued) writes the part
// of a frame the non-blocking writev left; when that fails the stream is
// cut inside a frame, so the connection is closed and the cause recorded
// (it used to set only the sticky error).
func TestQueue_restWriterCutClosesTheConnection(t *testing.T) {
	sc, peer := tcpPair(t)
	sc.(*net.TCPConn).SetWriteBuffer(4096)
	peer.(*net.TCPConn).SetReadBuffer(4096)
	c := newConn(sc, connConfig{}, nil)
	defer c.Close()
	if c.rawTransport() == nil {
		t.Skip("no raw transport")
	}
	data := make([]byte, 1<<20)
	pm, _ := NewPreparedMessage(BinaryMessage, data)
	if err := c.QueuePreparedMessage(pm); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	time.Sleep(300 * time.Millisecond)
	open := true
	select {
	case <-c.cl.done.wait():
		open = false
	default:
	}
	werr := c.WriteMessage(TextMessage, []byte("x"))
	peer.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	got, _ := io.ReadAll(peer)
	t.Logf("open=%v cause=%v next write err=%v; peer got %d of %d frame bytes", open, c.writeCause(), werr, len(got), len(pm.data))
	if open && len(got) > 0 && len(got) < 10+len(data) {
		t.Fatal("frame cut on the wire, connection left open")
	}
}

// holdPong: when writeHeldNow fails without writing (n == 0, e.g. EPIPE),
// no pong is held on the failed write side (it used to borrow a new pend
// buffer that nothing gave back).
func TestPong_notHeldAfterTheWriteSideFailed(t *testing.T) {
	sc, peer := tcpPair(t)
	c := newConn(sc, connConfig{}, nil)
	defer c.Close()
	if c.rawTransport() == nil {
		t.Skip("no raw transport")
	}
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close() // RST
	time.Sleep(50 * time.Millisecond)
	ping := strings.Repeat("p", 125)
	for i := 0; i < 100; i++ {
		c.wr.frameSem.tryAcquire()
		c.holdPong([]byte(ping))
		failed := c.wr.err != nil
		pn := c.wr.pendN.Load()
		c.wr.frameSem.release()
		if failed {
			t.Logf("after %d pongs: wr.err=%v pendN=%d", i+1, c.wr.err, pn)
			if pn != 0 {
				t.Errorf("a pong was held after the write side failed (pend borrowed again, pendN=%d)", pn)
			}
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	select {
	case <-c.cl.done.wait():
		t.Logf("connection closed by flush timer, cause=%v", c.writeCause())
	default:
		t.Logf("connection open")
	}
}

// closeOwnWriter identifies the owner by goroutine number, not by the
// runtime's descriptor, which is reused: a writer handed from goroutine A
// (now exited) to goroutine C is not closed by an unrelated goroutine B
// that got A's descriptor.
func TestNextWriter_ownerIsTheGoroutineNotItsDescriptor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	a, b := net.Pipe()
	go io.Copy(io.Discard, b)
	defer b.Close()
	c := newConn(a, connConfig{}, nil)
	defer c.Close()
	wch := make(chan io.WriteCloser, 1)
	var ga uint64
	done := make(chan struct{})
	go func() { // A
		ga = curg()
		w, err := c.NextWriter(TextMessage)
		if err != nil {
			panic(err)
		}
		wch <- w
		close(done)
	}()
	<-done
	w := <-wch // C (this goroutine) now uses the writer
	time.Sleep(10 * time.Millisecond)
	res := make(chan error, 1)
	var gb uint64
	go func() { // B: an unrelated goroutine writing a message; should wait for C
		gb = curg()
		res <- c.WriteMessage(TextMessage, []byte("B"))
	}()
	time.Sleep(50 * time.Millisecond)
	_, err := w.Write([]byte("still writing"))
	w.Close()
	<-res
	t.Logf("ga==gb: %v; C's Write after B started: %v", ga == gb, err)
	if err == ErrWriterClosed {
		t.Fatal("goroutine B closed the writer goroutine C is using (g reused)")
	}
}
