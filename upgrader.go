package websocket

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Upgrader upgrades HTTP requests to WebSocket connections. The zero value
// is ready to use; an Upgrader is safe for concurrent use by many
// handlers and must not be modified while in use.
type Upgrader struct {
	// HandshakeTimeout bounds the writing of the handshake response.
	// Zero means no limit, except for a hixie-76 handshake, where it also
	// bounds the wait for the 8 bytes that follow the request (key3) and
	// zero means 10 seconds, so that a client that never sends them cannot
	// hold the handler's goroutine.
	HandshakeTimeout time.Duration

	// ReadBufferSize and WriteBufferSize set the size of the I/O buffers
	// a connection borrows while it reads a frame or writes a message
	// (rounded up to a power of two between 256 bytes and 2 MiB; zero
	// means 4096). Connections hold no buffer while idle. They do not
	// limit the size of a message.
	ReadBufferSize, WriteBufferSize int

	// WriteBufferPool, when set, supplies the write buffers instead of the
	// package's own pools. Values of other types found in the pool are
	// ignored.
	WriteBufferPool BufferPool

	// Subprotocols lists the application's subprotocols in order of
	// preference. Upgrade picks the first one the client offers. When nil,
	// Upgrade uses the Sec-WebSocket-Protocol value of responseHeader, if
	// any, as gorilla does.
	Subprotocols []string

	// Error, when set, writes the HTTP error response for a refused
	// handshake. When nil, Upgrade answers with the status and a one-line
	// reason as text/plain.
	Error func(w http.ResponseWriter, r *http.Request, status int, reason error)

	// CheckOrigin returns true to accept the request's Origin. When nil,
	// a request whose Origin header is present and names a host other
	// than the request's Host is refused with 403 Forbidden.
	CheckOrigin func(r *http.Request) bool

	// EnableCompression lets the server negotiate per-message compression
	// (the permessage-deflate extension of RFC 7692) when the client
	// offers it: Upgrade accepts the first offer it can honour and
	// declines the others, never failing the handshake over them. Data
	// messages of at least CompressionThreshold bytes are then compressed
	// (see [Conn.EnableWriteCompression] and [Conn.SetCompressionLevel])
	// and compressed messages from the client are inflated, their
	// inflated size counting against the read limit.
	EnableCompression bool

	// CompressionThreshold is the size, in bytes, from which a data
	// message is compressed; smaller ones are sent as they are. Zero means
	// [DefaultCompressionThreshold] (256 bytes); a negative value
	// compresses every message. A message written with [Conn.NextWriter]
	// is held back until it reaches the threshold (at most the write
	// buffer's size) or is closed.
	CompressionThreshold int

	// CompressionContextTakeover lets compression contexts live from one
	// message to the next (RFC 7692 §7.1.1) when the client allows it,
	// which compresses a stream of similar small messages much better.
	// It costs memory on every connection for as long as it lives: about
	// 1.2 MB for the server's flate compressor, and 32 KiB (the client's
	// window) to inflate the client's messages. When false (the default)
	// the server answers server_no_context_takeover and
	// client_no_context_takeover, and compressors and decompressors are
	// pooled between connections, so an idle connection holds none.
	CompressionContextTakeover bool

	// ReadLimit is the initial read limit of each connection, in bytes;
	// zero means DefaultReadLimit and a negative value means no limit.
	// See [Conn.SetReadLimit].
	ReadLimit int64

	// CloseTimeout bounds how long [Conn.CloseHandshake] waits for the
	// peer's close message. Zero means 5 seconds.
	CloseTimeout time.Duration

	// EnableHixie76 lets Upgrade also accept the legacy protocol of
	// draft-hixie-thewebsocketprotocol-76 (= draft-ietf-hybi-00), spoken
	// by Chrome 6-13, Safari 5.0-5.1, iOS 4-5 and embedded clients never
	// updated, and recognised from the request headers alone
	// (Sec-WebSocket-Key1 and Key2, no Sec-WebSocket-Version). Its frames
	// are not masked, so attacker-chosen bytes can confuse proxies on the
	// way: it is off by default, and a hixie-76 request is then refused
	// with 426 Upgrade Required. The Conn it yields is a [*Conn] like any
	// other that carries text messages only; see [Conn.Hixie76].
	// CheckOrigin, Subprotocols (the client's single value is echoed
	// verbatim when listed), responseHeader, ReadLimit and the timeouts
	// apply as for RFC 6455.
	EnableHixie76 bool

	// Hixie76Location, when set, returns the Sec-WebSocket-Location of a
	// hixie-76 handshake: exactly the URL the client opened, or the client
	// fails with a location mismatch. When nil it is ws:// (wss:// when
	// the request came over TLS) followed by the request's Host and
	// request-URI. Behind a proxy that terminates TLS, or one that
	// rewrites the path, rebuild the client's URL here, for instance:
	//
	//	Hixie76Location: func(r *http.Request) string {
	//		return "wss://" + r.Host + r.URL.RequestURI()
	//	},
	Hixie76Location func(r *http.Request) string

	// MaxConns, when positive, bounds the connections one call to
	// [Upgrader.Serve] keeps open at once, handshakes and handlers
	// together; a connection accepted beyond it is closed at once,
	// unanswered, and the client may retry. Zero means no limit.
	// Upgrade and UpgradeConn ignore it. (A limiting net.Listener
	// wrapper, as golang.org/x/net/netutil's, also works with Serve, but
	// its wrapped connections miss the raw-socket read path that keeps
	// idle connections small.)
	MaxConns int
}

// Upgrade upgrades the HTTP server connection to the WebSocket protocol
// (RFC 6455 §4.2). responseHeader holds extra headers for the 101 response
// (cookies, for instance); it may be nil.
//
// When the request is not an acceptable opening handshake, Upgrade answers
// it with an HTTP error (405, 400, 426 or 403, with a one-line reason, or
// through [Upgrader.Error]) and returns a [HandshakeError]. On success the
// connection has been taken over from net/http (through
// [http.NewResponseController], so middleware wrappers with Unwrap work):
// the handler must not use w afterwards. Deadlines set by the http.Server
// are cleared, and bytes the client sent right behind its request are
// delivered as the first frames.
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request, responseHeader http.Header) (*Conn, error) {
	// Upgrade's own frame is kept small: net/http's Hijack runs beneath it
	// on the connection's goroutine, whose stack is still small, and a
	// large frame here makes that goroutine grow (copy) its stack on every
	// upgrade. The checks and the response are in functions of their own.
	p, err := u.prepare(w, r, responseHeader)
	if p == nil {
		if err == errUseHixie76 {
			return u.upgradeHixie76(w, r, responseHeader)
		}
		return nil, err
	}
	var netConn net.Conn
	var brw *bufio.ReadWriter
	if h, ok := w.(http.Hijacker); ok {
		netConn, brw, err = h.Hijack()
	} else {
		netConn, brw, err = http.NewResponseController(w).Hijack()
	}
	if err != nil {
		return nil, u.refuse(w, r, http.StatusInternalServerError, errors.New("websocket: cannot take over the connection: "+err.Error()))
	}
	return u.finish(netConn, brw, p)
}

// upgradeParams is what prepare settles before the connection is taken over.
type upgradeParams struct {
	key, subprotocol, extensions string
	extra                        http.Header
	deflate                      deflateConfig
}

// prepare checks the request and settles the response; nil and
// errUseHixie76 hand over to upgradeHixie76.
//
//go:noinline
func (u *Upgrader) prepare(w http.ResponseWriter, r *http.Request, responseHeader http.Header) (*upgradeParams, error) {
	if status, err := checkUpgradeRequest(r); err != nil {
		return nil, u.refuse(w, r, status, err)
	}
	if isHixie76(r.Header) {
		return nil, errUseHixie76
	}
	req, status, err := checkRequest(r.Header)
	if err != nil {
		return nil, u.refuse(w, r, status, err)
	}
	checkOrigin := u.CheckOrigin
	if checkOrigin == nil {
		checkOrigin = sameOrigin
	}
	if !checkOrigin(r) {
		return nil, u.refuse(w, r, http.StatusForbidden, errors.New("websocket: request origin not allowed by Upgrader.CheckOrigin"))
	}
	p := &upgradeParams{key: req.key}
	p.subprotocol = selectSubprotocol(u.Subprotocols, Subprotocols(r))
	p.deflate, p.extensions = u.negotiateCompression(r.Header["Sec-Websocket-Extensions"])
	p.extra = responseHeader
	if u.Subprotocols == nil && responseHeader != nil {
		p.subprotocol = responseHeader.Get("Sec-Websocket-Protocol")
	}
	if responseHeader != nil {
		if _, ok := responseHeader["Sec-Websocket-Protocol"]; ok {
			p.extra = responseHeader.Clone()
			delete(p.extra, "Sec-Websocket-Protocol")
		}
		if err := checkResponseHeader(p.extra); err != nil {
			return nil, u.refuse(w, r, http.StatusInternalServerError, err)
		}
	}
	if !validHeaderValue(p.subprotocol) {
		return nil, u.refuse(w, r, http.StatusInternalServerError, errors.New("websocket: invalid subprotocol"))
	}
	return p, nil
}

var errUseHixie76 = errors.New("websocket: hixie-76 request") // internal: prepare hands over to upgradeHixie76

// finish answers the handshake on the hijacked connection and makes the
// Conn.
//
//go:noinline
func (u *Upgrader) finish(netConn net.Conn, brw *bufio.ReadWriter, p *upgradeParams) (*Conn, error) {
	var pending []byte
	if n := brw.Reader.Buffered(); n > 0 {
		pending, _ = brw.Reader.Peek(n)
	}
	netConn.SetDeadline(time.Time{})

	bufp := getBuf(sizeClass(1024, 0))
	resp := appendResponse((*bufp)[:0], computeAcceptKey(p.key), p.subprotocol, p.extensions, p.extra)
	if u.HandshakeTimeout > 0 {
		netConn.SetWriteDeadline(time.Now().Add(u.HandshakeTimeout))
	}
	_, err := netConn.Write(resp)
	if cap(resp) == cap(*bufp) {
		putBuf(sizeClass(1024, 0), bufp)
	}
	if err != nil {
		netConn.Close()
		return nil, err
	}
	if u.HandshakeTimeout > 0 {
		netConn.SetWriteDeadline(time.Time{})
	}

	c := newConn(netConn, connConfig{
		readBufferSize:  u.ReadBufferSize,
		writeBufferSize: u.WriteBufferSize,
		writeBufferPool: u.WriteBufferPool,
		readLimit:       u.ReadLimit,
		closeTimeout:    u.CloseTimeout,
		subprotocol:     p.subprotocol,
		deflate:         p.deflate,
	}, pending)
	// The hijacked reader and writer are net/http's per-connection 4 KiB
	// buffers, still referenced from its connection state while the
	// handler runs; the reader's bytes were copied and the writer is not
	// used, so drop both buffers rather than keep them alive.
	dropBuffers(brw)
	return c, nil
}

// dropBuffers empties the hijacked bufio pair (see finish).
func dropBuffers(brw *bufio.ReadWriter) {
	if brw.Reader != nil {
		*brw.Reader = bufio.Reader{}
	}
	if brw.Writer != nil {
		*brw.Writer = bufio.Writer{}
	}
}

// refuse answers a refused handshake and returns the HandshakeError.
func (u *Upgrader) refuse(w http.ResponseWriter, r *http.Request, status int, reason error) error {
	err := HandshakeError{Status: status, message: reason.Error()}
	if u.Error != nil {
		u.Error(w, r, status, err)
		return err
	}
	h := w.Header()
	h.Set("Sec-WebSocket-Version", "13")
	if status == http.StatusMethodNotAllowed {
		h.Set("Allow", http.MethodGet)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(err.message)+1))
	w.WriteHeader(status)
	w.Write([]byte(err.message + "\n"))
	return err
}

// IsWebSocketUpgrade reports whether the request asks to upgrade to the
// WebSocket protocol: its Connection header has the upgrade token and its
// Upgrade header the websocket token.
func IsWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

// Subprotocols returns the subprotocols the client offered in its
// Sec-WebSocket-Protocol headers, in the client's order.
func Subprotocols(r *http.Request) []string {
	return headerTokens(r.Header, "Sec-Websocket-Protocol")
}

// Upgrade upgrades the HTTP server connection to the WebSocket protocol.
//
// Deprecated: Use [Upgrader.Upgrade]. This function, kept for gorilla
// compatibility, accepts every origin and leaves failed requests without a
// response body, as gorilla's did.
func Upgrade(w http.ResponseWriter, r *http.Request, responseHeader http.Header, readBufSize, writeBufSize int) (*Conn, error) {
	u := Upgrader{
		ReadBufferSize:  readBufSize,
		WriteBufferSize: writeBufSize,
		Error:           func(http.ResponseWriter, *http.Request, int, error) {},
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	return u.Upgrade(w, r, responseHeader)
}
