package websocket

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// WebSockets over HTTP/2 (RFC 8441). The opening handshake is an extended
// CONNECT (h2_handshake.go); afterwards the WebSocket frames travel as the
// DATA of that one stream, in both directions. net/http hands the stream to
// the handler as r.Body (the client's DATA) and w (ours), and ends it when
// the handler returns: the response's END_STREAM goes out, and w must not
// be touched again. h2Stream carries the stream as a net.Conn, so a Conn
// runs on it through its plain (non-raw) transport path.

// ErrHandlerReturned is returned by every call on a [Conn] served over
// HTTP/2 once the stream ended under it while it was still open. net/http
// ends the stream when the handler that called [Upgrader.Upgrade] returns,
// so this is what a handler that returns before its Conn is done gets, in
// every goroutine still using the Conn: over HTTP/2 the handler must wait
// for [Conn.Done] (see [Upgrader.EnableHTTP2]). The same error is returned
// when the client resets the stream or the HTTP/2 connection is lost; the
// read that was in progress then returns the stream's own error first.
var ErrHandlerReturned = errors.New("websocket: the HTTP/2 stream ended while the Conn was open: " +
	"the handler returned before the Conn was done (it must wait for Conn.Done), or the stream was reset")

// Done returns a channel that is closed once c is closed: by [Conn.Close],
// at the end of the closing handshake, when the connection is failed
// (a protocol error, a write timeout), or, over HTTP/2, when the stream
// ends. It never blocks and may be called from any goroutine.
//
// A handler serving WebSockets over HTTP/2 must not return before c is
// done, because net/http ends the stream when the handler returns; the
// simplest way is to block on Done after starting the Conn's goroutines:
//
//	c, err := upgrader.Upgrade(w, r, nil)
//	if err != nil {
//		return
//	}
//	go reader(c) // calls c.Close when it stops
//	go writer(c)
//	<-c.Done()
//
// Over HTTP/1.1 waiting is harmless and not needed.
func (c *Conn) Done() <-chan struct{} { return c.cl.done.wait() }

// h2Stream is one HTTP/2 stream as a net.Conn. Read takes the client's DATA
// from the request body; Write sends DATA through the ResponseWriter and
// flushes it at once (the Conn already gathers a message's frames into one
// Write). Its methods may be called from any goroutine; the Conn serializes
// writes and reads.
//
// w is valid only while the handler runs. Every use of w is made under mu
// and after checking that the stream's context, which net/http cancels
// first thing when the handler returns (runHandler in h2_bundle.go), is
// still live; once it is not, the stream is "ended" and every call fails
// with ErrHandlerReturned. A write racing with the handler's very return is
// the one case no check can catch (net/http offers no hook there); it is
// the same rule as for any ResponseWriter used outside its handler.
type h2Stream struct {
	body   io.ReadCloser
	w      http.ResponseWriter
	rc     *http.ResponseController
	ctx    context.Context
	local  net.Addr
	remote net.Addr
	stop   func() bool // stops the context.AfterFunc of watch

	wmu sync.Mutex // held while w is written to: Close waits for it

	mu            sync.Mutex
	c             *Conn     // set by attach, once the Conn exists
	closed        bool      // Close was called
	ended         bool      // the stream ended before Close
	writeDeadline time.Time // applied to the stream during each Write
}

// newH2Stream wraps the stream of an accepted extended CONNECT.
func newH2Stream(w http.ResponseWriter, rc *http.ResponseController, r *http.Request) *h2Stream {
	t := &h2Stream{body: r.Body, w: w, rc: rc, ctx: r.Context(), remote: h2Addr(r.RemoteAddr)}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		t.local = a
	} else {
		t.local = h2Addr("")
	}
	return t
}

// attach ties the stream to its Conn and starts watching for the stream's
// end.
func (t *h2Stream) attach(c *Conn) {
	t.mu.Lock()
	t.c = c
	t.mu.Unlock()
	t.stop = context.AfterFunc(t.ctx, t.streamEnded)
}

// streamEnded runs once the stream's context is done: the handler returned,
// the client reset the stream, or the connection went away. If the Conn
// was still open it is closed, so that Done fires and every later call
// fails with ErrHandlerReturned.
func (t *h2Stream) streamEnded() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.ended = true
	c := t.c
	t.mu.Unlock()
	t.body.Close() // wakes a blocked Read
	c.Close()
}

// live reports whether w may be used; the caller holds mu.
func (t *h2Stream) live() error {
	switch {
	case t.ended || t.ctx.Err() != nil:
		t.ended = true
		return ErrHandlerReturned
	case t.closed:
		return net.ErrClosed
	}
	return nil
}

func (t *h2Stream) Read(p []byte) (int, error) {
	t.mu.Lock()
	err := t.live()
	t.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := t.body.Read(p)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, os.ErrDeadlineExceeded // a net.Error with Timeout, as a socket's
		}
		t.mu.Lock()
		if e := t.live(); e != nil {
			err = e // report why the body was cut, not net/http's word for it
		}
		t.mu.Unlock()
	}
	return n, err
}

// Write sends p as DATA and flushes it. A write deadline is applied to the
// stream only while a Write is in flight: net/http resets the stream
// (RST_STREAM INTERNAL_ERROR) when a stream's write deadline passes, even
// with no write pending, where a socket would merely fail the next write.
func (t *h2Stream) Write(p []byte) (int, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.Lock()
	err := t.live()
	d := t.writeDeadline
	t.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if !d.IsZero() {
		if !time.Now().Before(d) {
			return 0, os.ErrDeadlineExceeded
		}
		t.rc.SetWriteDeadline(d)
	}
	n, err := t.w.Write(p)
	if err == nil {
		err = t.rc.Flush()
	}
	if !d.IsZero() {
		t.rc.SetWriteDeadline(time.Time{})
	}
	return n, err
}

// Close ends the stream. After our close frame went out (the closing
// handshake, or a connection failed with a close code) it ends cleanly:
// the handler, waiting on Done, returns and net/http sends END_STREAM
// (RFC 8441 §5 maps an orderly TCP close to END_STREAM). Without a close
// frame, or with a Write still in flight (blocked by flow control), it is
// an abort and the stream is reset, as a TCP RST would be: a write
// deadline in the past makes net/http send RST_STREAM at once, with
// INTERNAL_ERROR (RFC 8441 §5 suggests CANCEL, which a net/http handler
// cannot choose). Close returns only once no Write is using w, so the
// handler may return as soon as Done fires.
func (t *h2Stream) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	live := !t.ended && t.ctx.Err() == nil
	idle := t.wmu.TryLock()
	if live && (!idle || t.c == nil || !t.c.cl.sent.Load()) {
		t.rc.SetWriteDeadline(time.Unix(1, 0))
	}
	t.mu.Unlock()
	if !idle {
		t.wmu.Lock() // the reset makes the Write return
	}
	t.wmu.Unlock()
	if t.stop != nil {
		t.stop()
	}
	t.body.Close()
	return nil
}

func (t *h2Stream) LocalAddr() net.Addr  { return t.local }
func (t *h2Stream) RemoteAddr() net.Addr { return t.remote }

func (t *h2Stream) SetDeadline(d time.Time) error {
	if err := t.SetReadDeadline(d); err != nil {
		return err
	}
	return t.SetWriteDeadline(d)
}

// SetReadDeadline sets the stream's read deadline in net/http; once it
// passes, the body fails for good, as a Conn's reads do after a timeout.
func (t *h2Stream) SetReadDeadline(d time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.live(); err != nil {
		return err
	}
	return t.rc.SetReadDeadline(d)
}

// SetWriteDeadline records the deadline for the next writes (see Write).
func (t *h2Stream) SetWriteDeadline(d time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writeDeadline = d
	return t.live()
}

// h2Addr is the address of a peer as net/http reports it (host:port).
type h2Addr string

func (a h2Addr) Network() string { return "tcp" }
func (a h2Addr) String() string  { return string(a) }
