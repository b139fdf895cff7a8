package websocket

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Upgrader upgrades HTTP requests to WebSocket connections: it is the
// server side of the opening handshake, on a net/http handler
// ([Upgrader.Upgrade]) or on a bare accepted connection
// ([Upgrader.UpgradeConn], [Upgrader.Serve]). The client side is [Dialer].
// The zero value is ready to use; an Upgrader is safe for concurrent use
// by many handlers and must not be modified while in use.
type Upgrader struct {
	// HandshakeTimeout bounds each of the two parts of the opening
	// handshake in which the Upgrader waits on the client: reading the
	// request (in [Upgrader.UpgradeConn] and [Upgrader.Serve] only; under
	// net/http the http.Server reads it, bounded by its ReadHeaderTimeout)
	// and answering it (writing the response and, for hixie-76, first
	// waiting for the 8 key3 bytes the client sends after its request).
	// Each part gets the whole duration; when it runs out the connection
	// is closed and the call returns the timeout error. Zero means 10
	// seconds ([DefaultHandshakeReadTimeout]), so that a client that stops
	// reading or sending cannot hold the handshake's goroutine.
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
	// a request whose Origin header is present and does not name the
	// request's Host (host and port, ASCII letters compared without case;
	// the scheme is not compared) is refused with 403 Forbidden, as are a
	// "null" origin and more than one Origin header. A request without
	// Origin is accepted: browsers always send one with a WebSocket
	// handshake, other clients need not.
	//
	// The same-origin rule does not protect a server reached by a name
	// it does not own. With DNS rebinding, a page at
	// http://attacker.example:8080 has its name re-resolved to the
	// server's address (127.0.0.1, an intranet host): the browser then
	// sends Origin: http://attacker.example:8080 with
	// Host: attacker.example:8080, which the default rule accepts. A
	// server not meant for every name, local development servers and
	// intranet services above all, should check r.Host against the names
	// it serves, in CheckOrigin (see the Upgrader example
	// "CheckOriginHostAllowlist") or before calling Upgrade.
	//
	// CheckOrigin is called from the handler's goroutine, concurrently for
	// concurrent handshakes.
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
	// window) to inflate the client's messages. Whether the server keeps
	// its 1.2 MB is the client's choice (it may offer
	// server_no_context_takeover, or not), so with this field set any
	// client can make the server hold it: 1,000 connections hold about
	// 1.2 GB. Bound that with [Upgrader.CompressionContextTakeoverLimit].
	// When false (the default) the server answers
	// server_no_context_takeover and client_no_context_takeover, and
	// compressors and decompressors are pooled between connections, so an
	// idle connection holds none.
	CompressionContextTakeover bool

	// CompressionContextTakeoverLimit, when positive, caps how many
	// connections upgraded by this Upgrader may hold a server compression
	// context at once under [Upgrader.CompressionContextTakeover]. Beyond
	// it, new connections are answered as if CompressionContextTakeover
	// were false (server_no_context_takeover and
	// client_no_context_takeover: they still compress, message by
	// message, with pooled compressors). A connection gives its place
	// back when it is closed ([Conn.Close], which every connection must
	// eventually get). Zero means no limit. The count is kept per
	// *Upgrader: a copy of an Upgrader counts on its own.
	CompressionContextTakeoverLimit int

	// ReadLimit is the initial read limit of each connection, in bytes;
	// zero means [DefaultReadLimit], or [DefaultCompressedReadLimit] on a
	// connection with permessage-deflate, and a negative value means no
	// limit.
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

	// Hooks, when set, is called on events of the handshake and of every
	// connection Upgrade makes (see [Hooks]); the Conn keeps the pointer.
	// Nil costs nothing.
	Hooks *Hooks

	// EnableHTTP2 lets Upgrade accept WebSockets over HTTP/2 (RFC 8441):
	// an extended CONNECT with :protocol websocket, which net/http lets
	// through only when the process starts with GODEBUG=http2xconnect=1.
	// The Conn then runs over that one stream, and the stream ends when
	// the handler returns: the handler must wait for [Conn.Done] (calls
	// on a Conn whose handler returned fail with [ErrHandlerReturned]).
	// When false (the default) such a request is refused with 501 Not
	// Implemented. The default is off because of that lifetime rule, and
	// because without the GODEBUG setting browsers never send one (they
	// open wss:// over HTTP/1.1); note that once the setting is on,
	// Chromium and Firefox do not fall back to HTTP/1.1 after a refusal,
	// so a server that sets it must enable this too. See h2.go and the
	// README's "HTTP/2 (RFC 8441)" section.
	EnableHTTP2 bool

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
// through [Upgrader.Error]) and returns a [HandshakeError]. Over HTTP/1.x a
// refusal also carries Connection: close, so net/http closes the
// connection after it and never serves a request the client pipelined
// behind the refused upgrade (the server half of "WebSocket smuggling":
// a proxy that tunnels on seeing the Upgrade header, without waiting for
// the 101, would otherwise pass that request on unchecked). A request
// with a body (Content-Length or Transfer-Encoding) is refused with 400.
//
// On success the connection has been taken over from net/http (through
// [http.NewResponseController], so middleware wrappers with Unwrap work):
// the handler must not use w afterwards. Deadlines set by the http.Server
// are cleared, and bytes the client sent right behind its request are
// delivered as the first frames. Upgrade blocks until the response is
// written (for hixie-76, until the client's 8 key3 bytes arrived too),
// bounded by [Upgrader.HandshakeTimeout].
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request, responseHeader http.Header) (*Conn, error) {
	// Upgrade's own frame is kept small: net/http's Hijack runs beneath it
	// on the connection's goroutine, whose stack is still small, and a
	// large frame here makes that goroutine grow (copy) its stack on every
	// upgrade. The checks and the response are in functions of their own.
	if isH2WebSocket(r) { // RFC 8441 (h2_handshake.go)
		return u.upgradeH2(w, r, responseHeader)
	}
	p, err := u.prepare(w, r, responseHeader)
	if p == nil {
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
		u.releaseTakeover(p)
		return nil, u.refuse(w, r, http.StatusInternalServerError, errors.New("websocket: cannot take over the connection: "+err.Error()))
	}
	if p.hixie != nil {
		return u.finishHixie76(netConn, brw, p)
	}
	return u.finish(netConn, brw, p)
}

// upgradeParams is what prepare settles before the connection is taken
// over, for either protocol.
type upgradeParams struct {
	key         string       // RFC 6455: Sec-WebSocket-Key, validated
	hixie       *hixieParams // hixie-76 only; nil for RFC 6455
	subprotocol string
	extensions  string // RFC 6455: the Sec-WebSocket-Extensions answer
	extra       http.Header
	deflate     deflateConfig
	takeover    bool // holds one of CompressionContextTakeoverLimit's slots
}

// prepare checks the request and settles the response. The protocol is
// picked from the headers alone, before any byte past the request is read:
// the checks proper to that protocol run, then the negotiation both share.
// On a refusal it answers the request and returns a nil *upgradeParams.
//
//go:noinline
func (u *Upgrader) prepare(w http.ResponseWriter, r *http.Request, responseHeader http.Header) (*upgradeParams, error) {
	p := new(upgradeParams)
	status, err := checkUpgradeRequest(r)
	if err == nil {
		if isHixie76(r.Header) {
			status, err = u.checkHixie76(r, p)
		} else {
			var req handshakeRequest
			req, status, err = checkRequest(r.Header)
			p.key = req.key
		}
	}
	if err == nil {
		status, err = u.negotiate(r, responseHeader, p)
	}
	if err != nil {
		return nil, u.refuse(w, r, status, err)
	}
	return p, nil
}

var errOriginRefused = errors.New("websocket: request origin not allowed by Upgrader.CheckOrigin")

// negotiate is the step the RFC 6455 and hixie-76 handshakes share once
// the request passed its protocol's own checks: the origin check, the
// subprotocol, the caller's response headers and, for RFC 6455, the
// extensions. It fills p and returns the status to refuse the request
// with, if any; nothing in it can fail after a takeover slot is taken.
func (u *Upgrader) negotiate(r *http.Request, responseHeader http.Header, p *upgradeParams) (int, error) {
	checkOrigin := u.CheckOrigin
	if checkOrigin == nil {
		checkOrigin = sameOrigin
	}
	if !checkOrigin(r) {
		return http.StatusForbidden, errOriginRefused
	}
	var offered []string
	if p.hixie == nil {
		offered = Subprotocols(r)
	} else if v := r.Header.Get("Sec-Websocket-Protocol"); v != "" {
		// The draft's client offers one subprotocol and accepts only the
		// same string back, so its whole value is one offer, echoed
		// verbatim when the server lists it.
		offered = []string{v}
	}
	p.subprotocol = selectSubprotocol(u.Subprotocols, offered)
	p.extra = responseHeader
	if responseHeader != nil {
		if u.Subprotocols == nil {
			p.subprotocol = responseHeader.Get("Sec-Websocket-Protocol")
		}
		if _, ok := responseHeader["Sec-Websocket-Protocol"]; ok {
			p.extra = responseHeader.Clone()
			delete(p.extra, "Sec-Websocket-Protocol")
		}
		if err := checkResponseHeader(p.extra); err != nil {
			return http.StatusInternalServerError, err
		}
	}
	if !validHeaderValue(p.subprotocol) {
		return http.StatusInternalServerError, errors.New("websocket: invalid subprotocol")
	}
	if p.hixie != nil {
		return u.hixieResponse(r, p)
	}
	u.negotiateExtensions(r, p)
	return 0, nil
}

// finish answers an RFC 6455 handshake on the hijacked connection and
// makes the Conn.
//
//go:noinline
func (u *Upgrader) finish(netConn net.Conn, brw *bufio.ReadWriter, p *upgradeParams) (*Conn, error) {
	// One deadline for the answer replaces those the http.Server set.
	netConn.SetDeadline(time.Now().Add(u.handshakeTimeout()))
	bufp := getBuf(sizeClass(1024, 0))
	resp := appendResponse((*bufp)[:0], computeAcceptKey(p.key), p.subprotocol, p.extensions, p.extra)
	_, err := netConn.Write(resp)
	if cap(resp) == cap(*bufp) {
		putBuf(sizeClass(1024, 0), bufp)
	}
	if err != nil {
		u.releaseTakeover(p)
		netConn.Close()
		return nil, err
	}
	netConn.SetDeadline(time.Time{})
	return u.newServerConn(netConn, brw, p), nil
}

// newServerConn makes the Conn of an answered handshake, either protocol.
// Bytes the client sent right behind its request (behind key3 for
// hixie-76) are in the hijacked reader and become the first frames.
func (u *Upgrader) newServerConn(netConn net.Conn, brw *bufio.ReadWriter, p *upgradeParams) *Conn {
	var pending []byte
	if n := brw.Reader.Buffered(); n > 0 {
		pending, _ = brw.Reader.Peek(n)
	}
	c := newConn(netConn, connConfig{
		readBufferSize:  u.ReadBufferSize,
		writeBufferSize: u.WriteBufferSize,
		writeBufferPool: u.WriteBufferPool,
		readLimit:       u.ReadLimit,
		closeTimeout:    u.CloseTimeout,
		subprotocol:     p.subprotocol,
		deflate:         p.deflate,
		hooks:           u.Hooks,
	}, pending)
	proto := ProtocolRFC6455
	if p.hixie != nil {
		c.fr = new(hixie76)
		proto = ProtocolHixie76
	}
	u.Hooks.handshakeAccepted(c, proto, http.StatusSwitchingProtocols, p.subprotocol, p.deflate.enabled)
	if p.takeover {
		go u.releaseTakeoverOnClose(c.cl.done.wait())
	}
	// The hijacked reader and writer are net/http's per-connection 4 KiB
	// buffers, still referenced from its connection state while the
	// handler runs; the reader's bytes were copied and the writer is not
	// used, so drop both buffers rather than keep them alive.
	dropBuffers(brw)
	return c
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

// refuse answers a refused handshake and returns the HandshakeError. The
// connection is closed after the answer (see Upgrade), including when
// [Upgrader.Error] writes it.
func (u *Upgrader) refuse(w http.ResponseWriter, r *http.Request, status int, reason error) error {
	u.Hooks.handshakeRefused(r, status, reason)
	err := HandshakeError{Status: status, message: reason.Error()}
	if r.ProtoMajor == 1 {
		// net/http closes the connection after a response that says so,
		// unread pipelined requests and all. (HTTP/2 has no such header:
		// its server would take it as a reason to end every stream.)
		w.Header().Set("Connection", "close")
	}
	if u.Error != nil {
		u.Error(w, r, status, err)
		endRequestBody(w, r)
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
	endRequestBody(w, r)
	return err
}

// endRequestBody stops net/http from waiting for the rest of a refused
// request's body: before it closes the connection it reads what is left
// of the body (up to 256 KiB), which holds the connection open for as long
// as the client, having declared a body it does not send, keeps it open.
// A read deadline in the past makes that read fail at once; the response
// is written by then. (UpgradeConn's ResponseWriter has no deadlines and
// closes at once anyway.)
func endRequestBody(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && (r.ContentLength != 0 || len(r.TransferEncoding) > 0) {
		http.NewResponseController(w).SetReadDeadline(time.Unix(1, 0))
	}
}

// IsWebSocketUpgrade reports whether the request asks to upgrade to the
// WebSocket protocol: its Connection header has the upgrade token and its
// Upgrade header the websocket token, or it is an HTTP/2 extended CONNECT
// for websocket (RFC 8441).
func IsWebSocketUpgrade(r *http.Request) bool {
	return isH2WebSocket(r) || (headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket"))
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

// defaultHandshakeTimeout is what a zero [Upgrader.HandshakeTimeout]
// means.
const defaultHandshakeTimeout = DefaultHandshakeReadTimeout

// handshakeTimeout is the bound of [Upgrader.HandshakeTimeout] in force:
// the one reading of that field, for the request read of UpgradeConn, the
// RFC 6455 response and the hixie-76 key3 wait and response alike.
func (u *Upgrader) handshakeTimeout() time.Duration {
	if u.HandshakeTimeout > 0 {
		return u.HandshakeTimeout
	}
	return defaultHandshakeTimeout
}

// negotiateExtensions settles permessage-deflate for an RFC 6455 handshake.
// With a CompressionContextTakeoverLimit, a slot is taken before the
// negotiation and given back at once when the connection ends up without
// server context takeover; a full count negotiates as if
// CompressionContextTakeover were false.
func (u *Upgrader) negotiateExtensions(r *http.Request, p *upgradeParams) {
	if !u.EnableCompression {
		return
	}
	offers := r.Header["Sec-Websocket-Extensions"]
	takeover := u.CompressionContextTakeover
	if takeover && u.CompressionContextTakeoverLimit > 0 {
		takeover = takeoverSlots.acquire(u)
		p.takeover = takeover
	}
	p.deflate, p.extensions = u.negotiateCompression(offers, takeover)
	if p.takeover && (!p.deflate.enabled || p.deflate.params.serverNoTakeover) {
		u.releaseTakeover(p)
	}
}

// takeoverSlots counts, per Upgrader, the connections that hold a server
// compression context under CompressionContextTakeoverLimit. An entry is
// removed when its count falls to zero, so an Upgrader leaves nothing here
// once its connections are closed.
var takeoverSlots = takeoverCount{n: make(map[*Upgrader]int)}

type takeoverCount struct {
	mu sync.Mutex
	n  map[*Upgrader]int // guarded by mu
}

func (t *takeoverCount) acquire(u *Upgrader) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n[u] >= u.CompressionContextTakeoverLimit {
		return false
	}
	t.n[u]++
	return true
}

func (t *takeoverCount) release(u *Upgrader) {
	t.mu.Lock()
	if t.n[u]--; t.n[u] <= 0 {
		delete(t.n, u)
	}
	t.mu.Unlock()
}

// count returns how many slots u holds (for tests).
func (t *takeoverCount) count(u *Upgrader) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n[u]
}

// releaseTakeover gives back p's slot, if it holds one, when the handshake
// fails after negotiate or the connection no longer needs it.
func (u *Upgrader) releaseTakeover(p *upgradeParams) {
	if p.takeover {
		p.takeover = false
		takeoverSlots.release(u)
	}
}

// releaseTakeoverOnClose gives back the slot of a connection that holds
// server context takeover once closed, the connection's close signal, is
// closed. It runs in a goroutine of its own, only on such connections,
// which hold about 1.2 MB each: the goroutine's few KiB are small beside
// that. It holds the signal, not the Conn.
func (u *Upgrader) releaseTakeoverOnClose(closed <-chan struct{}) {
	<-closed
	takeoverSlots.release(u)
}
