package h2test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/wstest"
)

func TestMain(m *testing.M) { Main(m) }

// server is a Go HTTP/2 server whose handler upgrades with u and hands the
// Conn to serve, and a bridge holding one HTTP/2 connection to it.
type server struct {
	*Bridge
	url string

	mu       sync.Mutex
	remotes  []string // r.RemoteAddr of each accepted WebSocket
	refusals []error  // Upgrade's errors
}

// start serves u and serve over HTTPS/HTTP/2. serve runs on the handler's
// goroutine; after it returns, the handler waits for the Conn to be done,
// as the lifetime rule asks, unless serve returned false.
func start(t *testing.T, u *websocket.Upgrader, serve func(c *websocket.Conn, r *http.Request) (wait bool), configure func(*http.Server)) *server {
	t.Helper()
	s := &server{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 || r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" {
			t.Errorf("handler got %s %s (:protocol %q), want an HTTP/2 extended CONNECT", r.Proto, r.Method, r.Header.Get(":protocol"))
		}
		if !websocket.IsWebSocketUpgrade(r) { // the guard gorilla-style handlers use
			t.Errorf("IsWebSocketUpgrade is false for an RFC 8441 request")
		}
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			s.mu.Lock()
			s.refusals = append(s.refusals, err)
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		s.remotes = append(s.remotes, r.RemoteAddr)
		s.mu.Unlock()
		if serve(c, r) {
			<-c.Done()
		}
	})
	srv := NewServer(t, h, configure)
	s.url = srv.URL
	s.Bridge = StartBridge(t, srv.Listener.Addr().String())
	return s
}

// echo echoes whole messages until the connection ends.
func echo(c *websocket.Conn, _ *http.Request) bool {
	defer c.Close()
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return true
		}
		if c.WriteMessage(mt, p) != nil {
			return true
		}
	}
}

func origin(s *server) http.Header {
	return http.Header{"Origin": {s.url}} // https://127.0.0.1:port, the :authority
}

func TestH2_handshake_subprotocolAndDeflate(t *testing.T) {
	u := &websocket.Upgrader{EnableHTTP2: true, Subprotocols: []string{"chat", "superchat"}, EnableCompression: true}
	got := make(chan string, 1)
	s := start(t, u, func(c *websocket.Conn, r *http.Request) bool {
		if r.Header.Get("Sec-Websocket-Key") != "" {
			t.Errorf("the bridge sent a Sec-WebSocket-Key over HTTP/2")
		}
		got <- c.Subprotocol()
		return echo(c, r)
	}, nil)
	hdr := origin(s)
	hdr.Set("Sec-WebSocket-Protocol", "superchat, chat")
	hdr.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
	c := wstest.Dial(t, s.Addr(), "/ws", hdr)
	if st := c.Resp.Header.Get("X-H2-Status"); st != "200" {
		t.Errorf("HTTP/2 status %q, want 200 (RFC 8441 §5)", st)
	}
	if p := c.Resp.Header.Get("Sec-WebSocket-Protocol"); p != "chat" {
		t.Errorf("Sec-WebSocket-Protocol %q, want chat (the server's first choice)", p)
	}
	if e := c.Resp.Header.Get("Sec-WebSocket-Extensions"); !strings.HasPrefix(e, "permessage-deflate") {
		t.Errorf("Sec-WebSocket-Extensions %q, want permessage-deflate", e)
	}
	if p := <-got; p != "chat" {
		t.Errorf("Conn.Subprotocol() = %q, want chat", p)
	}
	c.Send(wstest.Msg(wstest.OpText, []byte("hello"))) // under the compression threshold
	c.ExpectMessage(wstest.OpText, []byte("hello"))
	c.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(1000, "")))
	c.ExpectClose(1000)
	if e := s.WaitClose(c.Resp.Header.Get("X-H2-Stream")); !e.EndStream || e.RSTCode != 0 {
		t.Errorf("stream ended with %+v, want END_STREAM and no error", e)
	}
}

func TestH2_echo_sizes(t *testing.T) {
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, echo, nil)
	c := wstest.Dial(t, s.Addr(), "/", origin(s))
	c.Timeout = 20 * time.Second
	for _, n := range []int{0, 1, 125, 126, 4096, 65535, 65536, 1 << 20} {
		text := bytes.Repeat([]byte("héllo, wörld "), n/14+1)[:0]
		for len(text) < n {
			text = append(text, "héllo "...)
		}
		text = bytes.ToValidUTF8(text[:n], nil)
		bin := make([]byte, n)
		for i := range bin {
			bin[i] = byte(i * 7)
		}
		c.Send(wstest.Msg(wstest.OpText, text))
		c.ExpectMessage(wstest.OpText, text)
		c.Send(wstest.Msg(wstest.OpBinary, bin))
		c.ExpectMessage(wstest.OpBinary, bin)
	}
}

func TestH2_fragmentsWithPingBetween(t *testing.T) {
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, echo, nil)
	c := wstest.Dial(t, s.Addr(), "/", origin(s))
	c.Send(
		wstest.Frag(wstest.OpText, false, []byte("frag")),
		wstest.Msg(wstest.OpPing, []byte("between")),
		wstest.Frag(wstest.OpContinuation, false, []byte("men")),
		wstest.Frag(wstest.OpContinuation, true, []byte("ts")),
	)
	c.ExpectMessage(wstest.OpPong, []byte("between"))
	c.ExpectMessage(wstest.OpText, []byte("fragments"))
}

func TestH2_invalidUTF8_closes1007(t *testing.T) {
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, echo, nil)
	c := wstest.Dial(t, s.Addr(), "/", origin(s))
	c.Send(wstest.Msg(wstest.OpText, []byte{'o', 'k', 0xff}))
	c.ExpectCloseNext(1007)
	if e := s.WaitClose(c.Resp.Header.Get("X-H2-Stream")); !e.EndStream {
		t.Errorf("stream ended with %+v, want END_STREAM after the close frame", e)
	}
}

func TestH2_unmaskedClientFrame_closes1002(t *testing.T) {
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, echo, nil)
	c := wstest.Dial(t, s.Addr(), "/", origin(s))
	c.Send(wstest.Frame{Fin: true, Opcode: wstest.OpBinary, Payload: []byte("bare")}) // RFC 6455 §5.1, RFC 8441 §5
	c.ExpectCloseNext(1002)
}

func TestH2_closeHandshake(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		s := start(t, &websocket.Upgrader{EnableHTTP2: true}, echo, nil)
		c := wstest.Dial(t, s.Addr(), "/", origin(s))
		c.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(1000, "done")))
		c.ExpectClose(1000)
		if e := s.WaitClose(c.Resp.Header.Get("X-H2-Stream")); !e.EndStream || e.RSTCode != 0 {
			t.Errorf("stream ended with %+v, want END_STREAM and no error", e)
		}
	})
	t.Run("server", func(t *testing.T) {
		res := make(chan error, 1)
		s := start(t, &websocket.Upgrader{EnableHTTP2: true}, func(c *websocket.Conn, _ *http.Request) bool {
			res <- c.CloseHandshake(websocket.CloseNormalClosure, "bye")
			return true
		}, nil)
		c := wstest.Dial(t, s.Addr(), "/", origin(s))
		f, err := c.ReadFrame()
		if err != nil || f.Opcode != wstest.OpClose || !bytes.Equal(f.Payload, wstest.CloseBody(1000, "bye")) {
			t.Fatalf("got %v, %v; want close 1000 bye", f, err)
		}
		c.Send(wstest.Msg(wstest.OpClose, f.Payload))
		c.ExpectConnClosed()
		if err := <-res; err != nil {
			t.Errorf("CloseHandshake: %v", err)
		}
		if e := s.WaitClose(c.Resp.Header.Get("X-H2-Stream")); !e.EndStream || e.RSTCode != 0 {
			t.Errorf("stream ended with %+v, want END_STREAM and no error", e)
		}
	})
}

// A Close with no close frame is an abort: the stream is reset (RFC 8441
// §5), INTERNAL_ERROR being the one code net/http lets a handler send.
func TestH2_abort_resetsStream(t *testing.T) {
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, func(c *websocket.Conn, _ *http.Request) bool {
		c.ReadMessage()
		c.Close()
		return true
	}, nil)
	c := wstest.Dial(t, s.Addr(), "/", origin(s))
	c.Send(wstest.Msg(wstest.OpText, []byte("x")))
	c.ExpectConnClosed()
	if e := s.WaitClose(c.Resp.Header.Get("X-H2-Stream")); e.EndStream || e.RSTCode != 2 {
		t.Errorf("stream ended with %+v, want RST_STREAM INTERNAL_ERROR (2) and no END_STREAM", e)
	}
}

// Ten WebSockets at once on the bridge's one HTTP/2 connection, each with
// its own flow: all ten are open before any message is sent, and each
// echoes 64 KiB, so their DATA frames interleave on the connection.
func TestH2_tenStreamsOneConnection(t *testing.T) {
	const n = 10
	var wg sync.WaitGroup
	wg.Add(n)
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, func(c *websocket.Conn, r *http.Request) bool {
		wg.Done()
		wg.Wait() // all ten streams open
		return echo(c, r)
	}, nil)
	var cs []*wstest.Client
	for i := 0; i < n; i++ {
		cs = append(cs, wstest.Dial(t, s.Addr(), "/", origin(s)))
	}
	msgs := make([][]byte, n)
	for i, c := range cs {
		msgs[i] = bytes.Repeat([]byte{byte('a' + i)}, 64<<10)
		c.Send(wstest.Msg(wstest.OpBinary, msgs[i]))
	}
	for i, c := range cs {
		c.ExpectMessage(wstest.OpBinary, msgs[i])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.remotes) != n {
		t.Fatalf("%d WebSockets accepted, want %d", len(s.remotes), n)
	}
	for _, a := range s.remotes {
		if a != s.remotes[0] {
			t.Errorf("WebSockets came from %q and %q, want one HTTP/2 connection", s.remotes[0], a)
		}
	}
}

func TestH2_refusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		u      websocket.Upgrader
		header http.Header
		status int
		reason string
	}{
		{"notEnabled", websocket.Upgrader{}, nil, http.StatusNotImplemented, "not enabled"},
		{"version8", websocket.Upgrader{EnableHTTP2: true}, http.Header{"Sec-Websocket-Version": {"8"}}, http.StatusUpgradeRequired, "version"},
		{"noVersion", websocket.Upgrader{EnableHTTP2: true, EnableHixie76: true}, http.Header{"Sec-Websocket-Version": nil, "Sec-Websocket-Key1": {"4 @1  46546xW%0l 1 5"}, "Sec-Websocket-Key2": {"12998 5 Y3 1  .P00"}}, http.StatusUpgradeRequired, "version"},
		{"badOrigin", websocket.Upgrader{EnableHTTP2: true}, http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden, "origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.u
			s := start(t, &u, echo, nil)
			h := wstest.DefaultHeader(s.Addr(), wstest.NewKey())
			h.Set("Origin", s.url)
			for k, v := range tc.header {
				if v == nil {
					delete(h, k)
				} else {
					h[k] = v
				}
			}
			r := wstest.RawHandshake(t, s.Addr(), wstest.BuildRequest("GET", "/", "HTTP/1.1", h))
			if st := r.Header.Get("X-H2-Status"); st != strconv.Itoa(tc.status) {
				t.Errorf("HTTP/2 status %s, want %d; response:\n%s%s", st, tc.status, r.Raw, r.Body)
			}
			if !strings.Contains(string(r.Body), tc.reason) {
				t.Errorf("body %q does not say %q", r.Body, tc.reason)
			}
			if tc.status == http.StatusUpgradeRequired && r.Header.Get("Sec-Websocket-Version") != "13" {
				t.Errorf("426 without Sec-WebSocket-Version: 13")
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			var he websocket.HandshakeError
			if len(s.refusals) != 1 || !errors.As(s.refusals[0], &he) || he.Status != tc.status {
				t.Errorf("Upgrade returned %v, want one HandshakeError with status %d", s.refusals, tc.status)
			}
		})
	}
}

// Server.ReadTimeout and WriteTimeout are armed per stream by net/http;
// Upgrade clears them, so the WebSocket outlives them.
func TestH2_serverTimeoutsCleared(t *testing.T) {
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, echo, func(srv *http.Server) {
		srv.ReadTimeout = 200 * time.Millisecond
		srv.WriteTimeout = 200 * time.Millisecond
	})
	c := wstest.Dial(t, s.Addr(), "/", origin(s))
	time.Sleep(600 * time.Millisecond) // both timeouts pass, idle
	c.Send(wstest.Msg(wstest.OpText, []byte("still here")))
	c.ExpectMessage(wstest.OpText, []byte("still here"))
	c.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(1000, "")))
	c.ExpectClose(1000)
}

// A handler that returns while its Conn is open ends the stream; every
// later call on the Conn fails with ErrHandlerReturned.
func TestH2_handlerReturned_failsLoudly(t *testing.T) {
	errs := make(chan error, 3)
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, func(c *websocket.Conn, _ *http.Request) bool {
		go func() {
			<-c.Done() // fires once net/http ended the stream
			errs <- c.WriteMessage(websocket.TextMessage, []byte("late"))
			_, _, err := c.ReadMessage()
			errs <- err
			errs <- c.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
		}()
		return false // the misuse: return without waiting for the Conn
	}, nil)
	c := wstest.Dial(t, s.Addr(), "/", origin(s))
	for i := 0; i < 3; i++ {
		if err := <-errs; !errors.Is(err, websocket.ErrHandlerReturned) {
			t.Errorf("call %d after the handler returned: %v, want ErrHandlerReturned", i, err)
		}
	}
	c.ExpectConnClosed()
}

// net/http resets a stream whose write deadline passes even when nothing
// is being written; the Conn applies its write deadline only during
// writes, so a stale one leaves the stream alone: reads go on, and only a
// later write fails, as on a socket.
func TestH2_staleWriteDeadline_doesNotResetStream(t *testing.T) {
	errs := make(chan error, 2)
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, func(c *websocket.Conn, _ *http.Request) bool {
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		c.WriteMessage(websocket.TextMessage, []byte("first"))
		_, p, err := c.ReadMessage() // sent by the client after the deadline passed
		if err == nil && string(p) != "after" {
			t.Errorf("read %q, want after", p)
		}
		errs <- err
		errs <- c.WriteMessage(websocket.TextMessage, []byte("late"))
		c.Close()
		return true
	}, nil)
	c := wstest.Dial(t, s.Addr(), "/", origin(s))
	c.ExpectMessage(wstest.OpText, []byte("first"))
	time.Sleep(300 * time.Millisecond)
	c.Send(wstest.Msg(wstest.OpText, []byte("after")))
	if err := <-errs; err != nil {
		t.Errorf("read after the write deadline passed: %v, want the message", err)
	}
	if err := <-errs; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write after the write deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

// A client that resets its stream ends the Conn: the read in progress
// fails, Done fires, and later calls return ErrHandlerReturned.
func TestH2_clientReset_endsConn(t *testing.T) {
	errs := make(chan error, 2)
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, func(c *websocket.Conn, _ *http.Request) bool {
		_, _, err := c.ReadMessage()
		errs <- err
		<-c.Done()
		errs <- c.WriteMessage(websocket.TextMessage, []byte("gone"))
		return true
	}, nil)
	c := wstest.Dial(t, s.Addr(), "/", origin(s))
	c.Conn().(*net.TCPConn).SetLinger(0)
	c.Close() // the bridge answers a TCP reset with RST_STREAM(CANCEL)
	if err := <-errs; err == nil {
		t.Errorf("ReadMessage after the client's reset: nil error")
	}
	if err := <-errs; !errors.Is(err, websocket.ErrHandlerReturned) {
		t.Errorf("write after the client's reset: %v, want ErrHandlerReturned", err)
	}
}

// http.Server.Shutdown waits for HTTP/2 streams, WebSockets included, so
// their handlers must end: a ConnSet's GoingAway, registered with
// RegisterOnShutdown, sends each 1001 and the streams end with END_STREAM.
func TestH2_shutdown_goingAway(t *testing.T) {
	var conns websocket.ConnSet
	var srv *http.Server
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, func(c *websocket.Conn, r *http.Request) bool {
		defer conns.Add(c)()
		return echo(c, r)
	}, func(hs *http.Server) {
		srv = hs
		hs.RegisterOnShutdown(conns.GoingAway)
	})
	c := wstest.Dial(t, s.Addr(), "/", origin(s))
	c.Send(wstest.Msg(wstest.OpText, []byte("up")))
	c.ExpectMessage(wstest.OpText, []byte("up"))
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	f, err := c.ReadFrame()
	if err != nil || f.Opcode != wstest.OpClose || !bytes.Equal(f.Payload[:2], []byte{0x03, 0xe9}) {
		t.Fatalf("got %v, %v; want close 1001", f, err)
	}
	c.Send(wstest.Msg(wstest.OpClose, f.Payload[:2]))
	c.ExpectConnClosed()
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if e := s.WaitClose(c.Resp.Header.Get("X-H2-Stream")); !e.EndStream || e.RSTCode != 0 {
		t.Errorf("stream ended with %+v, want END_STREAM and no error", e)
	}
}

// A Heartbeat works over a stream as over a socket: a client that never
// answers the pings gets 1001, and the stream ends with END_STREAM.
func TestH2_heartbeat_noPong_closes1001(t *testing.T) {
	errc := make(chan error, 1)
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, func(c *websocket.Conn, r *http.Request) bool {
		hb := websocket.StartHeartbeat(c, 50*time.Millisecond, 100*time.Millisecond)
		echo(c, r)
		hb.Stop()
		errc <- hb.Err()
		return true
	}, nil)
	c := wstest.Dial(t, s.Addr(), "/", origin(s))
	c.ExpectClose(1001) // pings skipped, never answered
	if err := <-errc; !errors.Is(err, websocket.ErrPongTimeout) {
		t.Errorf("Heartbeat.Err() = %v, want ErrPongTimeout", err)
	}
	if e := s.WaitClose(c.Resp.Header.Get("X-H2-Stream")); !e.EndStream || e.RSTCode != 0 {
		t.Errorf("stream ended with %+v, want END_STREAM and no error", e)
	}
}

// Read deadlines are the stream's own: one that passes fails the read
// with a timeout (a net.Error, as on a socket) and leaves the other
// WebSockets on the connection alone.
func TestH2_readDeadline_timesOutOneStream(t *testing.T) {
	errc := make(chan error, 1)
	s := start(t, &websocket.Upgrader{EnableHTTP2: true}, func(c *websocket.Conn, r *http.Request) bool {
		if r.URL.Path == "/deadline" {
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			_, _, err := c.ReadMessage()
			errc <- err
			c.Close()
			return true
		}
		return echo(c, r)
	}, nil)
	other := wstest.Dial(t, s.Addr(), "/", origin(s))
	wstest.Dial(t, s.Addr(), "/deadline", origin(s))
	var ne net.Error
	if err := <-errc; !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("ReadMessage past the deadline: %v, want a timeout net.Error", err)
	}
	other.Send(wstest.Msg(wstest.OpText, []byte("unaffected")))
	other.ExpectMessage(wstest.OpText, []byte("unaffected"))
}
