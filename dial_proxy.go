package websocket

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
)

// dialFunc is the shape of Dialer.NetDialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// errTLSHookThroughProxy refuses what cannot be done faithfully: the
// NetDialTLSContext hook dials by itself, so it cannot run the TLS
// handshake inside a proxy tunnel, and skipping it would skip whatever
// checks it makes (certificate pinning...).
var errTLSHookThroughProxy = errors.New("websocket: Dialer.NetDialTLSContext cannot be used through a proxy: " +
	"it dials by itself, so the TLS handshake it performs cannot run inside the tunnel; " +
	"unset Proxy (or have it return nil) for this host, or do the TLS checks in TLSClientConfig")

// dial opens the TCP (and TLS) connection for req, through the proxy when
// one is configured, reporting to the context's httptrace.ClientTrace as
// gorilla does: GetConn, GotConn, then TLSHandshakeStart/Done; the dial's
// own ConnectStart/ConnectDone come from net.Dialer.
func (d *Dialer) dial(ctx context.Context, req *http.Request) (net.Conn, error) {
	u := req.URL
	hostPort := hostPortOf(u.Hostname(), u.Port(), u.Scheme)
	var proxyURL *url.URL
	if d.Proxy != nil {
		var err error
		if proxyURL, err = d.Proxy(req); err != nil {
			return nil, err
		}
	}
	useTLSHook := u.Scheme == "https" && d.NetDialTLSContext != nil
	if proxyURL != nil && useTLSHook {
		return nil, errTLSHookThroughProxy
	}
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.GetConn != nil {
		trace.GetConn(hostPort)
	}
	var nc net.Conn
	var err error
	switch {
	case proxyURL != nil:
		nc, err = dialProxy(ctx, d.netDial(), proxyURL, hostPort)
	case useTLSHook:
		nc, err = d.NetDialTLSContext(ctx, "tcp", hostPort)
	default:
		nc, err = d.netDial()(ctx, "tcp", hostPort)
	}
	if err != nil {
		return nil, err
	}
	if trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: nc})
	}
	if u.Scheme != "https" || useTLSHook {
		return nc, nil
	}
	return d.tlsHandshake(ctx, nc, u.Hostname(), trace)
}

// netDial returns the function that opens TCP connections: NetDialContext,
// NetDial, or a net.Dialer.
func (d *Dialer) netDial() dialFunc {
	if d.NetDialContext != nil {
		return d.NetDialContext
	}
	if d.NetDial != nil {
		return func(_ context.Context, network, addr string) (net.Conn, error) { return d.NetDial(network, addr) }
	}
	var nd net.Dialer
	return nd.DialContext
}

// tlsHandshake runs the client's TLS handshake on nc for host; nc is
// closed when it fails.
func (d *Dialer) tlsHandshake(ctx context.Context, nc net.Conn, host string, trace *httptrace.ClientTrace) (net.Conn, error) {
	cfg := d.TLSClientConfig
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"http/1.1"} // WebSocket needs HTTP/1.1
	tc := tls.Client(nc, cfg)
	if trace != nil && trace.TLSHandshakeStart != nil {
		trace.TLSHandshakeStart()
	}
	err := tc.HandshakeContext(ctx)
	if trace != nil && trace.TLSHandshakeDone != nil {
		trace.TLSHandshakeDone(tc.ConnectionState(), err)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// hostPortOf joins host and port, with the scheme's default port when
// port is empty.
func hostPortOf(host, port, scheme string) string {
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(host, port)
}

// dialProxy opens a tunnel to hostPort through the proxy at proxyURL; the
// context's end closes the connection while the proxy is talked to.
func dialProxy(ctx context.Context, netDial dialFunc, proxyURL *url.URL, hostPort string) (net.Conn, error) {
	var connect func(net.Conn, *url.URL, string) error
	switch proxyURL.Scheme {
	case "http":
		connect = httpConnect
	case "socks5", "socks5h":
		connect = socks5Connect
	default:
		return nil, errors.New("websocket: unsupported proxy scheme " + quoteASCII(proxyURL.Scheme) + ": want http, socks5 or socks5h")
	}
	nc, err := netDial(ctx, "tcp", hostPortOf(proxyURL.Hostname(), proxyURL.Port(), proxyURL.Scheme))
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	err = connect(nc, proxyURL, hostPort)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return nil, err
	}
	return nc, nil
}

// httpConnect asks an http:// proxy on nc for a tunnel to hostPort with
// the CONNECT method (RFC 9110 §9.3.6). The proxy's answer is read
// through the same 1 MiB cap as a server's.
func httpConnect(nc net.Conn, proxyURL *url.URL, hostPort string) error {
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
		return err
	}
	resp, br, err := readResponseHead(nc, connect, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New("websocket: proxy refused the tunnel: " + quoteASCII(resp.Status))
	}
	if br.Buffered() > 0 {
		return errors.New("websocket: proxy sent bytes before the tunnel was used")
	}
	return nil
}
