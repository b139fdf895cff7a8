package main

// The client side of gorilla's API (Dialer, DefaultDialer, NewClient), used
// as gorilla v1.5.3 documents it. compat_test.go builds it with main.go.

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"time"

	websocket "github.com/hybi/websocket"
)

// The signatures a gorilla client may rely on.
var (
	_ func(*websocket.Dialer, string, http.Header) (*websocket.Conn, *http.Response, error)                  = (*websocket.Dialer).Dial
	_ func(*websocket.Dialer, context.Context, string, http.Header) (*websocket.Conn, *http.Response, error) = (*websocket.Dialer).DialContext
	_ func(net.Conn, *url.URL, http.Header, int, int) (*websocket.Conn, *http.Response, error)               = websocket.NewClient
	_ *websocket.Dialer                                                                                      = websocket.DefaultDialer
)

// dialer sets every field gorilla's Dialer has.
func dialer() *websocket.Dialer {
	jar, _ := cookiejar.New(nil)
	return &websocket.Dialer{
		NetDial: func(network, addr string) (net.Conn, error) { return net.Dial(network, addr) },
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		NetDialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := tls.Dialer{Config: &tls.Config{}}
			return d.DialContext(ctx, network, addr)
		},
		Proxy:             http.ProxyFromEnvironment,
		TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12},
		HandshakeTimeout:  10 * time.Second,
		ReadBufferSize:    1024,
		WriteBufferSize:   1024,
		WriteBufferPool:   writeBufferPool,
		Subprotocols:      []string{"chat"},
		EnableCompression: true,
		Jar:               jar,
	}
}

// dialEcho talks to an echo server as gorilla's examples/echo/client.go
// does.
func dialEcho(addr string) error {
	u := url.URL{Scheme: "ws", Host: addr, Path: "/echo"}
	c, resp, err := dialer().Dial(u.String(), nil)
	if err == websocket.ErrBadHandshake {
		return err // resp.StatusCode says why
	}
	if err != nil {
		return err
	}
	_ = resp.Header.Get("Sec-WebSocket-Protocol")
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		return err
	}
	if _, _, err := c.ReadMessage(); err != nil {
		return err
	}
	return c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
}

var _ = dialEcho
var _ = func() (*websocket.Conn, *http.Response, error) {
	return websocket.DefaultDialer.DialContext(context.Background(), "ws://localhost/", nil)
}
