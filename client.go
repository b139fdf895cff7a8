package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Dialer opens client connections (RFC 6455 §4.1), with the fields and
// methods of gorilla's Dialer. The zero value dials without a timeout or a
// proxy; [DefaultDialer] has both. A Dialer is safe for concurrent use and
// must not be modified while in use.
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

	// NetDialContext dials the TCP connection; when nil, NetDial or a
	// net.Dialer is used.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// NetDialTLSContext, when set, dials wss:// connections, TLS
	// handshake included; TLSClientConfig is then ignored.
	NetDialTLSContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Proxy returns the proxy for a request, or nil for none. Only http://
	// proxies are supported (with an HTTP CONNECT tunnel); credentials in
	// the proxy URL are sent as Proxy-Authorization: Basic.
	Proxy func(*http.Request) (*url.URL, error)

	// TLSClientConfig configures wss:// connections. When nil, the
	// default configuration is used; ServerName defaults to the host.
	TLSClientConfig *tls.Config

	// HandshakeTimeout bounds the whole opening handshake: dialing, TLS,
	// the request and the response. Zero means no limit but the context's.
	HandshakeTimeout time.Duration

	// ReadBufferSize and WriteBufferSize size the buffers the connection
	// borrows while it reads and writes (see [Upgrader.ReadBufferSize]).
	ReadBufferSize, WriteBufferSize int

	// WriteBufferPool, when set, supplies the write buffers.
	WriteBufferPool BufferPool

	// Subprotocols lists the subprotocols to offer, in order of
	// preference. The server must pick one of them or none.
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

// DefaultDialer is a Dialer with the environment's proxy settings and a
// 45-second handshake timeout, as in gorilla.
var DefaultDialer = &Dialer{
	Proxy:            http.ProxyFromEnvironment,
	HandshakeTimeout: 45 * time.Second,
}

// Dial opens a connection to urlStr (ws:// or wss://); see DialContext.
func (d *Dialer) Dial(urlStr string, requestHeader http.Header) (*Conn, *http.Response, error) {
	return d.DialContext(context.Background(), urlStr, requestHeader)
}

// DialContext opens a connection to urlStr, a ws:// or wss:// URL, sending
// requestHeader's fields with the handshake (Origin, cookies,
// Authorization...; it must not set the fields the handshake owns). It
// blocks until the handshake is done, ctx is done or HandshakeTimeout
// passes. On success the returned response has the server's 101 headers
// and no body. When the server refuses (a status other than 101, or a
// wrong accept key), the error is [ErrBadHandshake] and the response
// carries up to 1 KiB of its body, so the caller can see why.
func (d *Dialer) DialContext(ctx context.Context, urlStr string, requestHeader http.Header) (*Conn, *http.Response, error) {
	if d == nil {
		d = &Dialer{}
	}
	u, err := url.Parse(urlStr)
	if err != nil {
		return nil, nil, err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil, nil, errors.New("websocket: bad scheme " + quoteASCII(u.Scheme) + ": want ws or wss")
	}
	if u.User != nil {
		return nil, nil, errors.New("websocket: user information in the URL is not supported")
	}
	var keyBytes [16]byte
	if _, err := rand.Read(keyBytes[:]); err != nil {
		return nil, nil, err
	}
	key := base64.StdEncoding.EncodeToString(keyBytes[:])

	req := &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Host:       u.Host,
	}
	for k, vs := range requestHeader {
		switch http.CanonicalHeaderKey(k) {
		case "Host":
			if len(vs) > 0 {
				req.Host = vs[0]
			}
			continue
		case "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions":
			return nil, nil, errors.New("websocket: duplicate header not allowed: " + k)
		case "Sec-Websocket-Protocol":
			if len(d.Subprotocols) > 0 {
				return nil, nil, errors.New("websocket: duplicate header not allowed: " + k)
			}
		}
		if !validHeaderName(k) {
			return nil, nil, errors.New("websocket: invalid request header name " + quoteASCII(k))
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return nil, nil, errors.New("websocket: request header " + k + " has a control character in its value")
			}
		}
		req.Header[k] = vs
	}
	req.Header["Upgrade"] = []string{"websocket"}
	req.Header["Connection"] = []string{"Upgrade"}
	req.Header["Sec-WebSocket-Key"] = []string{key}
	req.Header["Sec-WebSocket-Version"] = []string{"13"}
	if len(d.Subprotocols) > 0 {
		req.Header["Sec-WebSocket-Protocol"] = []string{strings.Join(d.Subprotocols, ", ")}
	}
	if d.EnableCompression {
		req.Header["Sec-WebSocket-Extensions"] = []string{clientDeflateOffer}
	}
	if d.Jar != nil {
		for _, cookie := range d.Jar.Cookies(u) {
			req.AddCookie(cookie)
		}
	}

	if d.HandshakeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.HandshakeTimeout)
		defer cancel()
	}
	netConn, err := d.dial(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	// Until the handshake is over, the context's end closes the socket.
	stop := context.AfterFunc(ctx, func() { netConn.Close() })
	fail := func(resp *http.Response, err error) (*Conn, *http.Response, error) {
		stop()
		netConn.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		} else if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			err = context.DeadlineExceeded // the socket deadline fired first
		}
		return nil, resp, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		netConn.SetDeadline(deadline)
	}
	if err := req.Write(netConn); err != nil {
		return fail(nil, err)
	}
	br := bufio.NewReaderSize(netConn, 4096)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return fail(nil, err)
	}
	if d.Jar != nil {
		if rc := resp.Cookies(); len(rc) > 0 {
			d.Jar.SetCookies(u, rc)
		}
	}
	if err := checkServerResponse(resp, key, d.Subprotocols); err != nil {
		// Let the caller see why the server refused: up to 1 KiB of body.
		body := make([]byte, 1024)
		n, _ := io.ReadFull(resp.Body, body)
		resp.Body = io.NopCloser(bytes.NewReader(body[:n]))
		return fail(resp, err)
	}
	var deflate deflateConfig
	if exts := resp.Header["Sec-Websocket-Extensions"]; len(exts) > 0 {
		if !d.EnableCompression {
			return fail(resp, errors.New("websocket: bad handshake: the server answered an extension that was not offered"))
		}
		deflate, err = clientAcceptDeflate(exts)
		if err != nil {
			return fail(resp, err)
		}
	}
	if !stop() {
		return fail(resp, ctx.Err())
	}
	netConn.SetDeadline(time.Time{})
	resp.Body = http.NoBody

	var pending []byte
	if n := br.Buffered(); n > 0 {
		pending, _ = br.Peek(n)
	}
	c := newConn(netConn, connConfig{
		client:          true,
		readBufferSize:  d.ReadBufferSize,
		writeBufferSize: d.WriteBufferSize,
		writeBufferPool: d.WriteBufferPool,
		subprotocol:     resp.Header.Get("Sec-Websocket-Protocol"),
		deflate:         deflate,
	}, pending)
	return c, resp, nil
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

// dial opens the TCP (and TLS) connection for req, through the proxy when
// one is configured.
func (d *Dialer) dial(ctx context.Context, req *http.Request) (net.Conn, error) {
	u := req.URL
	hostPort := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			hostPort = net.JoinHostPort(u.Hostname(), "443")
		} else {
			hostPort = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	var proxyURL *url.URL
	if d.Proxy != nil {
		var err error
		if proxyURL, err = d.Proxy(req); err != nil {
			return nil, err
		}
	}
	netDial := d.NetDialContext
	if netDial == nil {
		if d.NetDial != nil {
			netDial = func(_ context.Context, network, addr string) (net.Conn, error) { return d.NetDial(network, addr) }
		} else {
			var nd net.Dialer
			netDial = nd.DialContext
		}
	}
	if proxyURL == nil && u.Scheme == "https" && d.NetDialTLSContext != nil {
		return d.NetDialTLSContext(ctx, "tcp", hostPort)
	}
	var nc net.Conn
	var err error
	if proxyURL != nil {
		nc, err = dialProxy(ctx, netDial, proxyURL, hostPort)
	} else {
		nc, err = netDial(ctx, "tcp", hostPort)
	}
	if err != nil {
		return nil, err
	}
	if u.Scheme != "https" {
		return nc, nil
	}
	cfg := d.TLSClientConfig
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	cfg.NextProtos = []string{"http/1.1"} // WebSocket needs HTTP/1.1
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// dialProxy opens a tunnel to hostPort through an http:// proxy with the
// CONNECT method (RFC 9110 §9.3.6).
func dialProxy(ctx context.Context, netDial func(context.Context, string, string) (net.Conn, error), proxyURL *url.URL, hostPort string) (net.Conn, error) {
	if proxyURL.Scheme != "http" {
		return nil, errors.New("websocket: unsupported proxy scheme " + quoteASCII(proxyURL.Scheme))
	}
	proxyAddr := proxyURL.Host
	if proxyURL.Port() == "" {
		proxyAddr = net.JoinHostPort(proxyURL.Hostname(), "80")
	}
	nc, err := netDial(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	connect := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: hostPort},
		Host:   hostPort,
		Header: make(http.Header),
	}
	if user := proxyURL.User; user != nil {
		pass, _ := user.Password()
		cred := base64.StdEncoding.EncodeToString([]byte(user.Username() + ":" + pass))
		connect.Header.Set("Proxy-Authorization", "Basic "+cred)
	}
	if err := connect.Write(nc); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, connect)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		nc.Close()
		return nil, errors.New("websocket: proxy refused the tunnel: " + resp.Status)
	}
	if br.Buffered() > 0 {
		nc.Close()
		return nil, errors.New("websocket: proxy sent bytes before the tunnel was used")
	}
	return nc, nil
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
