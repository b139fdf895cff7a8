package websocket

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Dialer opens client connections (RFC 6455 §4.1), with the fields and
// methods of gorilla's Dialer. The zero value dials with no proxy and the
// default handshake timeout; [DefaultDialer] adds the environment's proxy
// settings. A Dialer is safe for concurrent use and must not be modified
// while in use.
//
// A client Conn is the same [*Conn] as a server's, with the client's
// duties: every frame it sends is masked with a fresh key from
// crypto/rand (RFC 6455 §5.3), and a masked frame from the server fails
// the connection with 1002. The hixie-76 protocol is server-only.
type Dialer struct {
	// NetDial dials the TCP connection; when nil, net.Dialer is used.
	//
	// Deprecated: Use NetDialContext instead.
	NetDial func(network, addr string) (net.Conn, error)

	// NetDialContext dials the TCP connection (to the server, or to the
	// proxy when there is one); when nil, NetDial or a net.Dialer is used.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// NetDialTLSContext, when set, dials wss:// connections, TLS
	// handshake included; TLSClientConfig is then ignored. It cannot run
	// inside a proxy tunnel (it dials by itself), so a wss:// dial for
	// which Proxy names a proxy fails with an error rather than skip the
	// hook (and whatever certificate checks it does).
	NetDialTLSContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Proxy returns the proxy for a request, or nil for none. Supported
	// schemes: http:// (an HTTP CONNECT tunnel, RFC 9110 §9.3.6; the URL's
	// credentials go in Proxy-Authorization: Basic) and socks5:// or
	// socks5h:// (RFC 1928, the host name resolved by the proxy; the URL's
	// credentials are sent with the username/password method of RFC 1929).
	// The proxy's CONNECT answer is held to the same 1 MiB head limit as
	// the server's.
	Proxy func(*http.Request) (*url.URL, error)

	// TLSClientConfig configures wss:// connections. When nil, the
	// default configuration is used; ServerName defaults to the host.
	TLSClientConfig *tls.Config

	// HandshakeTimeout bounds the whole opening handshake: dialing, the
	// proxy, TLS, the request and the response. Zero means 45 seconds
	// ([DefaultHandshakeTimeout]), so that a server that never finishes
	// its response cannot hold a dial forever; a negative value fails the
	// dial at once, before anything is sent, as in gorilla. The context
	// passed to DialContext can end the handshake earlier.
	HandshakeTimeout time.Duration

	// ReadBufferSize and WriteBufferSize size the buffers the connection
	// borrows while it reads and writes (see [Upgrader.ReadBufferSize]).
	ReadBufferSize, WriteBufferSize int

	// WriteBufferPool, when set, supplies the write buffers.
	WriteBufferPool BufferPool

	// Subprotocols lists the subprotocols to offer, in order of
	// preference; each must be an HTTP token (RFC 6455 §4.1). The server
	// must pick one of them or none. The offer can instead be given as a
	// Sec-WebSocket-Protocol field of the request header, as gorilla
	// allows, but not both.
	Subprotocols []string

	// EnableCompression offers permessage-deflate (RFC 7692) with no
	// context takeover in either direction.
	EnableCompression bool

	// Jar, when set, supplies cookies for the request and stores those of
	// the response.
	Jar http.CookieJar

	// Hooks, when set, is called on events of the handshake and of every
	// connection the Dialer makes (see [Hooks]); the Conn keeps the
	// pointer. Nil costs nothing.
	Hooks *Hooks
}

// DefaultHandshakeTimeout bounds the opening handshake of a Dialer whose
// HandshakeTimeout is zero: 45 seconds, the value of gorilla's
// DefaultDialer.
const DefaultHandshakeTimeout = 45 * time.Second

// maxResponseHead caps the bytes the Dialer reads for the server's
// response head (status line and header fields) and for a proxy's CONNECT
// answer, the same 1 MiB that [Upgrader.UpgradeConn] allows a request.
const maxResponseHead = 1 << 20

// DefaultDialer is a Dialer with the environment's proxy settings and a
// 45-second handshake timeout, as in gorilla.
var DefaultDialer = &Dialer{
	Proxy:            http.ProxyFromEnvironment,
	HandshakeTimeout: DefaultHandshakeTimeout,
}

// nilDialer is what a nil *Dialer dials with: DefaultDialer's settings, as
// in gorilla.
var nilDialer = *DefaultDialer

// Dial opens a connection to urlStr (ws:// or wss://); see DialContext.
func (d *Dialer) Dial(urlStr string, requestHeader http.Header) (*Conn, *http.Response, error) {
	return d.DialContext(context.Background(), urlStr, requestHeader)
}

// DialContext opens a connection to urlStr, a ws:// or wss:// URL, sending
// requestHeader's fields with the handshake (Origin, cookies,
// Authorization, a Host override, Sec-WebSocket-Protocol when Subprotocols
// is empty...; it must not set the other fields the handshake owns). A
// field that could not go on the wire as given (CR, LF, a subprotocol that
// is not a token, a Host that is not a host) is refused with an error
// before anything is dialed. DialContext blocks until the handshake is
// done, ctx is done or HandshakeTimeout passes; an [httptrace.ClientTrace]
// on ctx sees the events gorilla reports (GetConn, the dial's
// ConnectStart/ConnectDone, GotConn, TLSHandshakeStart/Done, WroteHeaders,
// WroteRequest, GotFirstResponseByte). On success the returned response
// has the server's 101 headers and no body. When the server refuses (a
// status other than 101, or a wrong accept key), the error is
// [ErrBadHandshake] and the response carries up to 1 KiB of its body, so
// the caller can see why. A response head over 1 MiB fails the dial.
func (d *Dialer) DialContext(ctx context.Context, urlStr string, requestHeader http.Header) (*Conn, *http.Response, error) {
	if d == nil {
		d = &nilDialer
	}
	hs, err := d.newHandshake(urlStr, requestHeader)
	if err != nil {
		return nil, nil, err
	}
	timeout := d.HandshakeTimeout
	if timeout == 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return nil, nil, err // a negative HandshakeTimeout, or ctx already done
	}
	hs.req = hs.req.WithContext(ctx) // for the trace of req.Write
	netConn, err := d.dial(ctx, hs.req)
	if err != nil {
		return nil, nil, err
	}
	return d.handshake(ctx, netConn, hs)
}

// clientHandshake is the request a dial sends and what the answer must
// match.
type clientHandshake struct {
	req     *http.Request
	key     string   // Sec-WebSocket-Key
	offered []string // the subprotocols offered, from either source
}

// newHandshake builds the opening request (RFC 6455 §4.1) for urlStr and
// checks what the caller asked to send.
func (d *Dialer) newHandshake(urlStr string, requestHeader http.Header) (*clientHandshake, error) {
	u, err := url.Parse(urlStr)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil, errors.New("websocket: bad scheme " + quoteASCII(u.Scheme) + ": want ws or wss")
	}
	if u.User != nil {
		return nil, errors.New("websocket: user information in the URL is not supported")
	}
	var keyBytes [16]byte
	if _, err := rand.Read(keyBytes[:]); err != nil {
		return nil, err
	}
	hs := &clientHandshake{
		key: base64.StdEncoding.EncodeToString(keyBytes[:]),
		req: &http.Request{
			Method:     http.MethodGet,
			URL:        u,
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     make(http.Header),
			Host:       u.Host,
		},
	}
	if err := d.copyRequestHeader(hs, requestHeader); err != nil {
		return nil, err
	}
	if !validRequestHost(hs.req.Host) {
		return nil, errors.New("websocket: invalid Host " + quoteASCII(hs.req.Host))
	}
	h := hs.req.Header
	h["Upgrade"] = []string{"websocket"}
	h["Connection"] = []string{"Upgrade"}
	h["Sec-WebSocket-Key"] = []string{hs.key}
	h["Sec-WebSocket-Version"] = []string{"13"}
	if len(d.Subprotocols) > 0 {
		for _, p := range d.Subprotocols {
			if !isToken(p) {
				return nil, errors.New("websocket: subprotocol " + quoteASCII(p) + " is not a token")
			}
		}
		hs.offered = d.Subprotocols
		h["Sec-WebSocket-Protocol"] = []string{strings.Join(d.Subprotocols, ", ")}
	}
	if d.EnableCompression {
		h["Sec-WebSocket-Extensions"] = []string{clientDeflateOffer}
	}
	if d.Jar != nil {
		for _, cookie := range d.Jar.Cookies(u) {
			hs.req.AddCookie(cookie)
		}
	}
	return hs, nil
}

// copyRequestHeader copies the caller's fields into the request, refusing
// the ones the handshake owns and any that cannot go on the wire as given.
func (d *Dialer) copyRequestHeader(hs *clientHandshake, requestHeader http.Header) error {
	for k, vs := range requestHeader {
		if !validHeaderName(k) {
			return errors.New("websocket: invalid request header name " + quoteASCII(k))
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return errors.New("websocket: request header " + k + " has a control character in its value")
			}
		}
		switch http.CanonicalHeaderKey(k) {
		case "Host":
			if len(vs) > 0 {
				hs.req.Host = vs[0]
			}
			continue
		case "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions":
			return errors.New("websocket: duplicate header not allowed: " + k)
		case "Sec-Websocket-Protocol":
			if len(d.Subprotocols) > 0 {
				return errors.New("websocket: duplicate header not allowed: " + k)
			}
			// gorilla's documented way to offer subprotocols: the
			// server may pick any of these (RFC 6455 §4.1).
			for _, v := range vs {
				for _, p := range strings.Split(v, ",") {
					if p = strings.Trim(p, " \t"); p == "" {
						continue // an empty list element (RFC 9110 §5.6.1)
					}
					if !isToken(p) {
						return errors.New("websocket: subprotocol " + quoteASCII(p) + " is not a token")
					}
					hs.offered = append(hs.offered, p)
				}
			}
		}
		hs.req.Header[k] = vs
	}
	return nil
}

// validRequestHost reports whether s can be sent as the Host field: a reg-name,
// IPv4 or bracketed IPv6 literal with an optional port (RFC 3986 §3.2.2),
// without the userinfo '@' that could make a server see another host.
// UTF-8 names pass: net/http sends them in punycode.
func validRequestHost(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~!$&'()*+,;=:[]%", c) >= 0) {
			return false
		}
	}
	return true
}

// checkServerResponse checks a 101 answer (RFC 6455 §4.1, the client's
// steps 1–6 of reading the server's handshake).
func checkServerResponse(resp *http.Response, key string, offered []string) error {
	// The first three are ErrBadHandshake itself, as gorilla returns it
	// (programs compare with ==); resp tells the status and body.
	if resp.StatusCode != http.StatusSwitchingProtocols ||
		!headerHasToken(resp.Header, "Upgrade", "websocket") ||
		!headerHasToken(resp.Header, "Connection", "upgrade") {
		return ErrBadHandshake
	}
	if acc := resp.Header.Values("Sec-Websocket-Accept"); len(acc) != 1 || acc[0] != computeAcceptKey(key) {
		return ErrBadHandshake
	}
	if protos := resp.Header.Values("Sec-Websocket-Protocol"); len(protos) > 0 {
		if len(protos) > 1 || !containsString(offered, protos[0]) {
			return errors.New("websocket: bad handshake: the server chose a subprotocol that was not offered")
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// NewClient makes a client connection over netConn, which must already be
// connected to the server of u, by running the opening handshake on it.
//
// Deprecated: Use [Dialer.Dial] or [Dialer.DialContext]; with
// Dialer.NetDialContext returning netConn for an existing connection.
func NewClient(netConn net.Conn, u *url.URL, requestHeader http.Header, readBufSize, writeBufSize int) (c *Conn, response *http.Response, err error) {
	d := Dialer{
		ReadBufferSize:  readBufSize,
		WriteBufferSize: writeBufSize,
		NetDial: func(string, string) (net.Conn, error) {
			return netConn, nil
		},
	}
	return d.Dial(u.String(), requestHeader)
}
