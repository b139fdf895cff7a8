package websocket

// The opening handshake on a bare net.Conn, without net/http's server:
// the request is read with http.ReadRequest and handed to Upgrade through
// a minimal ResponseWriter, so every check, the negotiation, hixie-76 and
// the refusals are the ones Upgrade makes. What is left out is net/http's
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
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultHandshakeReadTimeout bounds the reading of the request in
// [Upgrader.UpgradeConn] when [Upgrader.HandshakeTimeout] is zero.
const DefaultHandshakeReadTimeout = 10 * time.Second

// maxRequestHeaderBytes bounds the request line and headers read by
// UpgradeConn, as http.DefaultMaxHeaderBytes does for net/http's server.
const maxRequestHeaderBytes = http.DefaultMaxHeaderBytes

var requestReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// UpgradeConn performs the opening handshake on nc, a connection just
// accepted from a listener (plain or TLS) that has not been through
// net/http: it reads the HTTP request, then answers it exactly as
// [Upgrader.Upgrade] would (the same checks, negotiation, hixie-76 and
// refusals), and returns the connection with the request it came with
// (its URL, headers and cookies; its Body is empty and its context is
// the background).
//
// It blocks until the handshake is done. Reading the request is bounded
// by [Upgrader.HandshakeTimeout] (zero: [DefaultHandshakeReadTimeout]) and
// by 1 MiB of request line and headers (431 beyond). On failure it answers
// the client with an HTTP error where the request warrants one (400, 405,
// 426, 403, 431 ...; nothing when the client went away or timed out),
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
	lr := &io.LimitedReader{R: nc, N: maxRequestHeaderBytes + 4096}
	br := requestReaders.Get().(*bufio.Reader)
	br.Reset(lr)
	defer func() {
		br.Reset(nil)
		requestReaders.Put(br)
	}()

	r, err := http.ReadRequest(br)
	if err != nil {
		var status int
		switch {
		case lr.N <= 0:
			status = http.StatusRequestHeaderFieldsTooLarge
			err = errors.New("websocket: request headers too large")
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		case isTimeout(err):
		default:
			var ne net.Error
			if !errors.As(err, &ne) {
				status = http.StatusBadRequest
				err = errors.New("websocket: malformed HTTP request: " + err.Error())
			}
		}
		if status != 0 {
			return nil, nil, refuseConn(nc, status, err, timeout)
		}
		nc.Close()
		return nil, nil, err
	}
	if err := checkRequestHeaders(r); err != nil {
		return nil, nil, refuseConn(nc, http.StatusBadRequest, err, timeout)
	}
	// The body, if the client sent one, is no HTTP body for a WebSocket
	// (bytes after the request are frames), and br goes back to its pool.
	r.Body = http.NoBody
	r.RemoteAddr = nc.RemoteAddr().String()
	if tc, ok := nc.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		r.TLS = &cs
	}
	w := &connResponse{nc: nc, br: br}
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

// refuseConn answers a request UpgradeConn refuses before Upgrade sees it
// (plain text, reason as the body), closes nc and returns the
// HandshakeError.
func refuseConn(nc net.Conn, status int, reason error, timeout time.Duration) error {
	writeRefusal(nc, status, nil, []byte(reason.Error()+"\n"), timeout)
	nc.Close()
	return HandshakeError{Status: status, message: reason.Error()}
}

// checkRequestHeaders makes the checks net/http's server makes on a
// request beyond http.ReadRequest (RFC 9112 §3.2: exactly one valid Host
// on HTTP/1.1; no control characters in header values), and removes Host
// from the header map as net/http does (it is in r.Host).
func checkRequestHeaders(r *http.Request) error {
	// Depending on the Go version, http.ReadRequest leaves the Host
	// lines in the header map or only their value in r.Host.
	if hosts, ok := r.Header["Host"]; ok {
		if len(hosts) > 1 {
			return errors.New("websocket: too many Host headers")
		}
		delete(r.Header, "Host")
	}
	switch {
	case r.Host == "" && r.ProtoAtLeast(1, 1):
		return errors.New("websocket: missing required Host header")
	case !validHost(r.Host):
		return errors.New("websocket: malformed Host header")
	}
	for _, vv := range r.Header {
		for _, v := range vv {
			if !validHeaderValue(v) {
				return errors.New("websocket: invalid header value")
			}
		}
	}
	return nil
}

// validHost reports whether h is made of the bytes a Host header may hold
// (a host name or address, an optional port, IPv6 brackets, and what
// percent-encoding and registered names use).
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@[]%", c) >= 0:
		default:
			return false
		}
	}
	return true
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
func (w *connResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	rd := *w.br
	return w.nc, bufio.NewReadWriter(&rd, bufio.NewWriterSize(w.nc, 16)), nil
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
	if h == nil {
		h = http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	}
	h = h.Clone()
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
// describes and are not reported.
func (u *Upgrader) Serve(ln net.Listener, handler func(c *Conn, r *http.Request)) error {
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
		go u.serveConn(nc, handler)
	}
}

// serveConn does the handshake on nc and starts handler in a goroutine of
// its own: the handshake's deep calls (request parsing, Upgrade) grew this
// goroutine's stack, which would never shrink back to 2 KiB while the
// handler waits for messages; a fresh goroutine keeps each idle connection
// on a minimal stack.
func (u *Upgrader) serveConn(nc net.Conn, handler func(c *Conn, r *http.Request)) {
	defer func() { // a panic in CheckOrigin, Error or Hixie76Location
		if v := recover(); v != nil {
			logPanic(nc.RemoteAddr(), v)
			nc.Close()
		}
	}()
	c, r, err := u.UpgradeConn(nc)
	if err != nil {
		return
	}
	go runHandler(c, r, handler)
}

func runHandler(c *Conn, r *http.Request, handler func(c *Conn, r *http.Request)) {
	defer endHandler(c)
	handler(c, r)
}

// endHandler closes the connection once its handler has returned or
// panicked; a panic is logged with its stack, as net/http does.
func endHandler(c *Conn) {
	if v := recover(); v != nil {
		logPanic(c.RemoteAddr(), v)
	}
	c.Close()
}

func logPanic(addr net.Addr, v any) {
	buf := make([]byte, 64<<10)
	buf = buf[:runtime.Stack(buf, false)]
	log.Printf("websocket: panic serving %v: %v\n%s", addr, v, buf)
}
