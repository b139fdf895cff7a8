package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"
)

// gorilla documents offering subprotocols through requestHeader's
// Sec-WebSocket-Protocol; the server's pick among them is accepted
// however the caller spelled the field name or split the list.
func TestDialer_subprotocolsInRequestHeader(t *testing.T) {
	t.Parallel()
	wsURL, _ := echoServer(t, &Upgrader{Subprotocols: []string{"v2"}}, false)
	canonical := http.Header{}
	canonical.Set("Sec-WebSocket-Protocol", "v1, v2")
	for name, h := range map[string]http.Header{
		"as in gorilla's doc": {"Sec-WebSocket-Protocol": {"v1, v2"}},
		"Header.Set":          canonical,
		"two lines":           {"Sec-WebSocket-Protocol": {"v1", "v2"}},
	} {
		c, resp, err := (&Dialer{}).Dial(wsURL, h)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Subprotocol() != "v2" || resp.Header.Get("Sec-WebSocket-Protocol") != "v2" {
			t.Errorf("%s: subprotocol %q, want v2", name, c.Subprotocol())
		}
		c.Close()
	}
	// Both sources at once stay refused, as in gorilla.
	d := &Dialer{Subprotocols: []string{"v2"}}
	if _, _, err := d.Dial(wsURL, http.Header{"Sec-WebSocket-Protocol": {"v2"}}); err == nil {
		t.Error("Subprotocols and a Sec-WebSocket-Protocol field were both accepted")
	}
}

// A server that picks a subprotocol the client did not offer fails the
// dial (RFC 6455 §4.1; gorilla accepts it).
func TestDialer_unofferedSubprotocolRefused(t *testing.T) {
	t.Parallel()
	addr := rawServer(t, func(key string) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + computeAcceptKey(key) + "\r\nSec-WebSocket-Protocol: v3\r\n\r\n"
	})
	_, _, err := (&Dialer{}).Dial("ws://"+addr+"/", http.Header{"Sec-WebSocket-Protocol": {"v1, v2"}})
	if err == nil || !strings.Contains(err.Error(), "not offered") {
		t.Fatalf("got %v, want the unoffered subprotocol refused", err)
	}
}

// traceRecorder records the names of the httptrace events, in order.
type traceRecorder struct {
	mu     sync.Mutex
	events []string
}

func (r *traceRecorder) add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.events); n == 0 || r.events[n-1] != name { // one per kind in a row
		r.events = append(r.events, name)
	}
}

func (r *traceRecorder) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:              func(string) { r.add("GetConn") },
		GotConn:              func(httptrace.GotConnInfo) { r.add("GotConn") },
		ConnectStart:         func(string, string) { r.add("ConnectStart") },
		ConnectDone:          func(string, string, error) { r.add("ConnectDone") },
		TLSHandshakeStart:    func() { r.add("TLSHandshakeStart") },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { r.add("TLSHandshakeDone") },
		WroteHeaders:         func() { r.add("WroteHeaders") },
		WroteRequest:         func(httptrace.WroteRequestInfo) { r.add("WroteRequest") },
		GotFirstResponseByte: func() { r.add("GotFirstResponseByte") },
	}
}

// An httptrace.ClientTrace on the dial's context sees the events gorilla
// reports, in gorilla's order.
func TestDialer_httptraceEvents(t *testing.T) {
	t.Parallel()
	for _, tlsOn := range []bool{false, true} {
		wsURL, srv := echoServer(t, &Upgrader{}, tlsOn)
		d := &Dialer{}
		want := "GetConn ConnectStart ConnectDone GotConn WroteHeaders WroteRequest GotFirstResponseByte"
		if tlsOn {
			d.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
			want = "GetConn ConnectStart ConnectDone GotConn TLSHandshakeStart TLSHandshakeDone WroteHeaders WroteRequest GotFirstResponseByte"
		}
		var rec traceRecorder
		ctx := httptrace.WithClientTrace(context.Background(), rec.trace())
		c, _, err := d.DialContext(ctx, wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := strings.Join(rec.events, " "); got != want {
			t.Errorf("tls=%v: events\n  %s\nwant\n  %s", tlsOn, got, want)
		}
	}
}

// A negative HandshakeTimeout fails the dial at once, before anything is
// dialed, as in gorilla.
func TestDialer_negativeHandshakeTimeoutFailsAtOnce(t *testing.T) {
	t.Parallel()
	wsURL, _ := echoServer(t, &Upgrader{}, false)
	var dials countingDial
	d := &Dialer{HandshakeTimeout: -time.Second, NetDialContext: dials.dial}
	if _, _, err := d.Dial(wsURL, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if n := dials.n.Load(); n != 0 {
		t.Fatalf("dialed %d times", n)
	}
}

// A zero Dialer bounds the handshake with DefaultHandshakeTimeout (the
// dial's context carries the deadline), and a nil *Dialer dials with
// DefaultDialer's settings, as in gorilla.
func TestDialer_zeroDialerHasAHandshakeDeadline(t *testing.T) {
	t.Parallel()
	wsURL, _ := echoServer(t, &Upgrader{}, false)
	var deadline time.Time
	var hasDeadline bool
	d := &Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		deadline, hasDeadline = ctx.Deadline()
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}}
	before := time.Now()
	c, _, err := d.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !hasDeadline || deadline.Before(before.Add(DefaultHandshakeTimeout)) || deadline.After(time.Now().Add(DefaultHandshakeTimeout)) {
		t.Fatalf("dial context deadline %v (set: %v), want %v after the call", deadline.Sub(before), hasDeadline, DefaultHandshakeTimeout)
	}
	if nilDialer.HandshakeTimeout != DefaultHandshakeTimeout || nilDialer.Proxy == nil {
		t.Fatalf("a nil Dialer dials with %+v", nilDialer)
	}
	var nd *Dialer
	c, _, err = nd.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
