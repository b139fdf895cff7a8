package websocket

// The opening handshake on a bare net.Conn, without net/http's server:
// the request is read by the parser in serve_parse.go (which refuses what
// net/http's server refuses) and handed to Upgrade through a minimal
// ResponseWriter, so every check, the negotiation, hixie-76 and the
// refusals are the ones Upgrade makes. What is left out is net/http's
// per-connection machinery (its buffers, response state, background read
// and context), which costs about as much CPU as the handshake itself and
// leaves about 10 KiB of garbage per connection.

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// DefaultHandshakeReadTimeout bounds the reading of the request in
// [Upgrader.UpgradeConn] when [Upgrader.HandshakeTimeout] is zero.
const DefaultHandshakeReadTimeout = 10 * time.Second

// maxRequestHeaderBytes bounds the request line and headers read by
// UpgradeConn, as http.DefaultMaxHeaderBytes does for net/http's server.
const maxRequestHeaderBytes = http.DefaultMaxHeaderBytes

// UpgradeConn performs the opening handshake on nc, a connection just
// accepted from a listener (plain or TLS) that has not been through
// net/http: it reads the HTTP request, refusing what net/http's server
// refuses (RFC 9112; obsolete line folding as well), then answers it
// exactly as [Upgrader.Upgrade] would (the same checks, negotiation,
// hixie-76 and refusals), and returns the connection with the request it
// came with (its URL, headers and cookies, Host, ContentLength and
// TransferEncoding as net/http sets them; its Body is empty and its
// context is the background). The request's strings share one backing
// allocation, kept alive as long as any of them is.
//
// It blocks until the handshake is done. Reading the request is bounded
// by [Upgrader.HandshakeTimeout] (zero: [DefaultHandshakeReadTimeout]) and
// by 1 MiB of request line and headers (431 beyond). On failure it answers
// the client with an HTTP error where the request warrants one (400, 405,
// 426, 403, 431, 501, 505 ...; a fixed reason as the body, never the
// request's bytes; nothing when the client went away or timed out),
// closes nc and returns the error (a [HandshakeError] for a refused
// request). On success the caller owns the *Conn; nc must not be used
// directly any more. Bytes the client sent right behind its request are
// delivered as the first frames.
//
// UpgradeConn costs less than a net/http handler that calls Upgrade: no
// server state is built or torn down per connection. [Upgrader.Serve] runs
// the accept loop around it.
func (u *Upgrader) UpgradeConn(nc net.Conn) (*Conn, *http.Request, error) {
	timeout := u.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeReadTimeout
	}
	nc.SetReadDeadline(time.Now().Add(timeout))
	p := requestParsers.Get().(*requestParser)
	defer p.release()
	p.lr = io.LimitedReader{R: nc, N: maxRequestHeaderBytes + 4096}
	p.br.Reset(&p.lr)

	r, err := p.readRequest()
	if err != nil {
		if re, ok := err.(*requestError); ok {
			u.Hooks.handshakeRefused(nil, re.status, re)
			return nil, nil, refuseConn(nc, re.status, re, timeout)
		}
		nc.Close() // the client went away or timed out: no answer
		return nil, nil, err
	}
	r.RemoteAddr = addrString(nc.RemoteAddr())
	if tc, ok := nc.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		r.TLS = &cs
	}
	// A body, if the request announced one, is no HTTP body for a
	// WebSocket: r.Body stays empty and Upgrade refuses such a request
	// from r.ContentLength and r.TransferEncoding.
	w := &p.resp
	*w = connResponse{nc: nc, br: p.br, bw: &p.bw}
	c, err := u.Upgrade(w, r, nil)
	if err != nil {
		if !w.hijacked {
			status := w.status
			if status == 0 {
				status = http.StatusOK
			}
			writeRefusal(nc, status, w.header, w.body, timeout)
		}
		nc.Close()
		return nil, nil, err
	}
	return c, r, nil
}

// addrString is a.String(), in one allocation for a TCP address (where
// net.TCPAddr.String takes two).
func addrString(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ap := ta.AddrPort(); ap.Addr().IsValid() {
			return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
		}
	}
	return a.String()
}

// refuseConn answers a request UpgradeConn refuses before Upgrade sees it
// (plain text, the fixed reason as the body), closes nc and returns the
// HandshakeError.
func refuseConn(nc net.Conn, status int, reason error, timeout time.Duration) error {
	writeRefusal(nc, status, nil, []byte(reason.Error()+"\n"), timeout)
	nc.Close()
	return HandshakeError{Status: status, message: reason.Error()}
}

// connResponse is the http.ResponseWriter UpgradeConn hands to Upgrade: it
// keeps a refusal to be written by writeRefusal, or gives the connection
// away through Hijack.
type connResponse struct {
	nc       net.Conn
	br       *bufio.Reader
	header   http.Header
	status   int
	body     []byte
	hijacked bool
	bw       *bufio.Writer // Hijack's writer is a copy of it
	rd       bufio.Reader  // Hijack's copy of br
	wr       bufio.Writer  // Hijack's copy of bw
	brw      bufio.ReadWriter
}

func (w *connResponse) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

func (w *connResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *connResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if len(w.body)+len(b) > 64<<10 {
		return 0, errors.New("websocket: refusal body over 64 KiB")
	}
	w.body = append(w.body, b...)
	return len(b), nil
}

// Hijack hands over the connection with a reader that has the bytes read
// past the request. The reader is a copy of UpgradeConn's, sharing its
// buffer until UpgradeConn returns (Upgrade copies what it needs).
//
// The reader and the ReadWriter live in the pooled requestParser: they
// must not be used once UpgradeConn has returned.
func (w *connResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	w.rd, w.wr = *w.br, *w.bw
	w.wr.Reset(w.nc)
	w.brw = bufio.ReadWriter{Reader: &w.rd, Writer: &w.wr}
	return w.nc, &w.brw, nil
}

// writeRefusal writes an HTTP/1.1 error response and asks the client to
// close (the connection is closed right after).
func writeRefusal(nc net.Conn, status int, h http.Header, body []byte, timeout time.Duration) {
	b := make([]byte, 0, 256+len(body))
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\n"...)
	h = h.Clone()
	if h == nil {
		h = make(http.Header)
	}
	if _, ok := h["Content-Type"]; !ok {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Connection", "close")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	buf := bytesWriter{b}
	h.Write(&buf)
	b = append(buf.b, "\r\n"...)
	b = append(b, body...)
	nc.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := nc.Write(b); err != nil {
		return
	}
	// Closing with unread input would send a reset, which can destroy the
	// answer before the client reads it: end the writing side first and
	// give the client a moment, reading (and dropping) what it still
	// sends, as net/http does.
	if cw, ok := nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		nc.SetReadDeadline(time.Now().Add(refusalLinger))
		io.Copy(io.Discard, io.LimitReader(nc, 256<<10))
	}
}

// refusalLinger bounds the wait for the client after a refusal.
const refusalLinger = 500 * time.Millisecond

type bytesWriter struct{ b []byte }

func (w *bytesWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// Serve accepts connections on ln and, for each one, in a goroutine of its
// own, performs the opening handshake with [Upgrader.UpgradeConn] and then
// calls handler with the connection and its request; the connection is
// closed when handler returns. It is the lean alternative to a net/http
// handler that calls Upgrade, for a listener that serves WebSocket only.
//
// Serve blocks until ln.Accept fails with a lasting error (after
// ln.Close, for instance), which it returns; temporary accept errors (out
// of file descriptors) are retried with a growing pause, as net/http does.
// A panic in handler is recovered and logged, as net/http does, and closes
// only that connection. Failed handshakes are answered as UpgradeConn
// describes and are not reported. Serve does not limit the number of
// connections unless [Upgrader.MaxConns] is set; each one costs a
// goroutine and its socket, and the operating system's file descriptor
// limit applies.
func (u *Upgrader) Serve(ln net.Listener, handler func(c *Conn, r *http.Request)) error {
	var active *atomic.Int64 // open connections, counted when MaxConns is set
	if u.MaxConns > 0 {
		active = new(atomic.Int64)
	}
	var pause time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				pause = min(max(2*pause, 5*time.Millisecond), time.Second)
				time.Sleep(pause)
				continue
			}
			return err
		}
		pause = 0
		if active != nil && active.Add(1) > int64(u.MaxConns) {
			// Over the limit: shed it before reading a byte. Waiting for a
			// slot instead would leave Serve deaf to ln.Close while every
			// slot holds an idle connection.
			active.Add(-1)
			nc.Close()
			continue
		}
		go u.serveConn(nc, handler, active)
	}
}

// serveConn does the handshake on nc and starts handler in a goroutine of
// its own: the handshake's deep calls (request parsing, Upgrade) grew this
// goroutine's stack, which would never shrink back to 2 KiB while the
// handler waits for messages; a fresh goroutine keeps each idle connection
// on a minimal stack. active, when not nil, counts the connection until it
// is closed.
func (u *Upgrader) serveConn(nc net.Conn, handler func(c *Conn, r *http.Request), active *atomic.Int64) {
	handed := false
	defer func() {
		if v := recover(); v != nil { // a panic in CheckOrigin, Error or Hixie76Location
			logPanic(nc.RemoteAddr(), v)
			nc.Close()
		}
		if !handed && active != nil {
			active.Add(-1)
		}
	}()
	growStack()
	c, r, err := u.UpgradeConn(nc)
	if err != nil {
		return
	}
	handed = true
	go runHandler(&handlerCall{c, r, handler, active})
}

// growStack grows the calling goroutine's stack from 2 to 8 KiB in one
// step, while it is one frame deep. The handshake needs between 4 and 8
// KiB of stack; left to itself, the goroutine grows (copies) its stack
// twice on the way, deep in the call chain, where the copy walks every
// frame: 3-7% of Serve's CPU per handshake in the benchcmp upgrade
// profile, under 1% with this. TestServe_handshakeFitsItsGrownStack
// fails when the handshake outgrows 8 KiB.
//
//go:noinline
func growStack() {
	var pad [handshakeStackPad]byte
	touchStack(pad[:])
}

// handshakeStackPad makes growStack's frame large enough that the stack
// is grown to 8 KiB at once, not so large that it takes 16.
const handshakeStackPad = 5 << 10

//go:noinline
func touchStack(b []byte) { b[len(b)-1] = 0 }

// handlerCall is what a handler's goroutine starts with, in one value: the
// goroutine's first frame stays small (TestServe_idleConnectionsStayOnSmallStacks
// fails when three words more push an idle handler's stack past 2 KiB).
type handlerCall struct {
	c       *Conn
	r       *http.Request
	handler func(c *Conn, r *http.Request)
	active  *atomic.Int64 // see Serve; nil without MaxConns
}

func runHandler(hc *handlerCall) {
	defer endHandler(hc)
	r := hc.r
	hc.r = nil // hc lives as long as the connection; the request need not
	hc.handler(hc.c, r)
}

// endHandler closes the connection once its handler has returned or
// panicked; a panic is logged with its stack, as net/http does.
func endHandler(hc *handlerCall) {
	if v := recover(); v != nil {
		logPanic(hc.c.RemoteAddr(), v)
	}
	hc.c.Close()
	if hc.active != nil {
		hc.active.Add(-1)
	}
}

func logPanic(addr net.Addr, v any) {
	buf := make([]byte, 64<<10)
	buf = buf[:runtime.Stack(buf, false)]
	log.Printf("websocket: panic serving %v: %v\n%s", addr, v, buf)
}
