package websocket

import (
	"errors"
	"net/http"
	"time"
)

// The opening handshake of RFC 8441 (Bootstrapping WebSockets with
// HTTP/2). A client that saw SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 from the
// server (§3) opens a stream with an extended CONNECT (§4):
//
//	:method = CONNECT
//	:protocol = websocket
//	:scheme = https
//	:path = /chat
//	:authority = example.com
//	sec-websocket-version = 13
//	sec-websocket-protocol = chat, superchat
//	sec-websocket-extensions = permessage-deflate
//	origin = https://example.com
//
// and the server accepts it with a 2xx response (§5), carrying the
// negotiated subprotocol and extensions as in RFC 6455 §4.2.2. There is no
// Sec-WebSocket-Key and no Sec-WebSocket-Accept (§5: the stream's own
// identity replaces the key exchange), no Upgrade or Connection header.
// From then on the DATA of the stream carries RFC 6455 frames, masked by
// the client as usual (§5).
//
// net/http accepts :protocol, and advertises the setting, only when the
// process was started with GODEBUG=http2xconnect=1 (golang/go#53208); the
// handler then sees r.Method == "CONNECT", r.ProtoMajor == 2 and the
// pseudo-header as r.Header[":protocol"].

// isH2WebSocket reports whether r is an RFC 8441 extended CONNECT for the
// WebSocket protocol (§4).
func isH2WebSocket(r *http.Request) bool {
	return r.ProtoMajor == 2 && r.Method == http.MethodConnect && r.Header.Get(":protocol") == "websocket"
}

var errH2Disabled = errors.New("websocket: WebSockets over HTTP/2 (RFC 8441) are not enabled on this server " +
	"(Upgrader.EnableHTTP2 is false); connect over HTTP/1.1")

// upgradeH2 answers an RFC 8441 extended CONNECT and returns the Conn that
// runs over its stream. It refuses the request when HTTP/2 WebSockets are
// not enabled (501 Not Implemented), with the version (426) and origin
// (403) checks of RFC 6455, and with 500 for an unusable responseHeader.
// hixie-76 has no HTTP/2 form: such a request carries no version 13 and is
// refused with 426.
func (u *Upgrader) upgradeH2(w http.ResponseWriter, r *http.Request, responseHeader http.Header) (*Conn, error) {
	if !u.EnableHTTP2 {
		return nil, u.refuse(w, r, http.StatusNotImplemented, errH2Disabled)
	}
	p, err := u.prepareH2(w, r, responseHeader)
	if err != nil {
		return nil, err
	}
	rc := http.NewResponseController(w)
	// Server.ReadTimeout and WriteTimeout were armed for this stream when
	// its headers arrived; a WebSocket lives past them (RFC 8441 streams
	// are long-lived), so clear them as Upgrade clears a socket's.
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})

	h := w.Header()
	for k, vs := range p.extra {
		h[k] = vs
	}
	if p.subprotocol != "" {
		h.Set("Sec-WebSocket-Protocol", p.subprotocol)
	}
	if p.extensions != "" {
		h.Set("Sec-WebSocket-Extensions", p.extensions)
	}
	if u.HandshakeTimeout > 0 {
		rc.SetWriteDeadline(time.Now().Add(u.HandshakeTimeout))
	}
	w.WriteHeader(http.StatusOK) // §5: a 2xx ends the handshake; HEADERS without END_STREAM
	if err := rc.Flush(); err != nil {
		return nil, err // the stream is gone; returning from the handler ends it
	}
	if u.HandshakeTimeout > 0 {
		rc.SetWriteDeadline(time.Time{})
	}
	t := newH2Stream(w, rc, r)
	c := newConn(t, connConfig{
		readBufferSize:  u.ReadBufferSize,
		writeBufferSize: u.WriteBufferSize,
		writeBufferPool: u.WriteBufferPool,
		readLimit:       u.ReadLimit,
		closeTimeout:    u.CloseTimeout,
		subprotocol:     p.subprotocol,
		deflate:         p.deflate,
		hooks:           u.Hooks,
	}, nil)
	t.attach(c)
	u.Hooks.handshakeAccepted(c, ProtocolH2, http.StatusOK, p.subprotocol, p.deflate.enabled)
	if p.takeover {
		go u.releaseTakeoverOnClose(c.cl.done.wait())
	}
	return c, nil
}

// prepareH2 applies the checks of RFC 6455 §4.2.1 that RFC 8441 keeps
// (§5: the version, the origin, subprotocols, extensions) with the
// functions Upgrade uses, and settles the response.
func (u *Upgrader) prepareH2(w http.ResponseWriter, r *http.Request, responseHeader http.Header) (*upgradeParams, error) {
	// checkRequest checks the version before the key, which RFC 8441 has
	// not: only its 426 applies here.
	if _, status, err := checkRequest(r.Header); status == http.StatusUpgradeRequired {
		return nil, u.refuse(w, r, status, err)
	}
	// The negotiation Upgrade's handshakes share (upgrader.go): origin
	// (r.Host is the :authority), subprotocol, the caller's headers and
	// permessage-deflate.
	p := new(upgradeParams)
	if status, err := u.negotiate(r, responseHeader, p); err != nil {
		return nil, u.refuse(w, r, status, err)
	}
	return p, nil
}
