package websocket

import (
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// serveSet runs an echo handler on a loopback server whose upgraded
// connections are tracked by set. Each handler's final read error is sent
// on the returned channel (buffered for n connections).
func serveSet(t *testing.T, u *Upgrader, set *ConnSet, n int) (addr string, readErrs <-chan error) {
	t.Helper()
	errs := make(chan error, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		defer set.Add(c)()
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				errs <- err
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				// Keep reading: the close handshake arrives on the
				// read side.
				continue
			}
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), errs
}

// waitLen waits until set holds n connections.
func waitLen(t *testing.T, set *ConnSet, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for set.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("ConnSet.Len() = %d, want %d", set.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// readUntilClose reads frames from cl, skipping data and pongs, until a
// close frame, and returns its code (wstest.NoStatus when empty).
func readUntilClose(t *testing.T, cl *wstest.Client) int {
	t.Helper()
	for {
		f, err := cl.ReadFrame()
		if err != nil {
			t.Fatalf("reading until the close frame: %v", err)
		}
		if f.Opcode != wstest.OpClose {
			continue
		}
		if len(f.Payload) < 2 {
			return wstest.NoStatus
		}
		return int(binary.BigEndian.Uint16(f.Payload))
	}
}

func TestConnSet_shutdownUnderLoad_closesEveryConnWith1001(t *testing.T) {
	t.Parallel()
	const conns = 40
	var set ConnSet
	addr, readErrs := serveSet(t, &Upgrader{}, &set, conns)

	clients := make([]*wstest.Client, conns)
	for i := range clients {
		clients[i] = wstest.Dial(t, addr, "/", nil)
	}
	waitLen(t, &set, conns)

	// Load: every client keeps sending messages, which the server echoes,
	// until its write fails (the server closed the connection).
	var load sync.WaitGroup
	stop := make(chan struct{})
	for _, cl := range clients {
		load.Add(1)
		go func(cl *wstest.Client) {
			defer load.Done()
			msg := []byte(strings.Repeat("load ", 40))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if cl.WriteFrame(wstest.Msg(wstest.OpText, msg)) != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}(cl)
	}
	time.Sleep(50 * time.Millisecond) // messages in flight everywhere

	const deadline = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- set.Shutdown(ctx) }()

	// Each client reads until the server's close, answers it (which ends
	// its writes) and sees the server end the TCP connection.
	for i, cl := range clients {
		if code := readUntilClose(t, cl); code != CloseGoingAway {
			t.Errorf("client %d: close code %d, want %d", i, code, CloseGoingAway)
		}
	}
	close(stop)
	load.Wait()
	for _, cl := range clients {
		cl.WriteFrame(wstest.Msg(wstest.OpClose, wstest.CloseBody(CloseGoingAway, "")))
	}

	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v, want nil", err)
	}
	if elapsed := time.Since(start); elapsed >= deadline {
		t.Errorf("Shutdown took %v, not under the %v deadline", elapsed, deadline)
	}
	if n := set.Len(); n != 0 {
		t.Errorf("Len() after Shutdown = %d, want 0", n)
	}
	for _, cl := range clients {
		cl.ExpectConnClosed()
	}
	for i := 0; i < conns; i++ {
		if err := <-readErrs; !IsCloseError(err, CloseGoingAway) {
			t.Errorf("handler's read error = %v, want the peer's 1001 close", err)
		}
	}
}

func TestConnSet_shutdownDeadline_forceClosesSilentPeers(t *testing.T) {
	t.Parallel()
	const conns = 5
	var set ConnSet
	// The close handshake alone would wait 10 s for peers that never answer.
	addr, readErrs := serveSet(t, &Upgrader{CloseTimeout: 10 * time.Second}, &set, conns)
	clients := make([]*wstest.Client, conns)
	for i := range clients {
		clients[i] = wstest.Dial(t, addr, "/", nil)
	}
	waitLen(t, &set, conns)

	const deadline = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err := set.Shutdown(ctx)
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	if elapsed < deadline || elapsed > deadline+2*time.Second {
		t.Errorf("Shutdown returned after %v, want just after the %v deadline", elapsed, deadline)
	}
	for _, cl := range clients {
		// The 1001 went out; then the socket was closed without waiting.
		cl.ExpectClose(CloseGoingAway)
	}
	for i := 0; i < conns; i++ {
		if err := <-readErrs; err == nil {
			t.Error("handler's read returned nil error")
		}
	}
	if n := set.Len(); n != 0 {
		t.Errorf("Len() after Shutdown = %d, want 0", n)
	}
}

func TestConnSet_addAfterGoingAway_closesAtOnce(t *testing.T) {
	t.Parallel()
	var set ConnSet
	addr, readErrs := serveSet(t, &Upgrader{}, &set, 1)
	set.GoingAway()
	set.GoingAway() // harmless

	cl := wstest.Dial(t, addr, "/", nil)
	if code := readUntilClose(t, cl); code != CloseGoingAway {
		t.Fatalf("close code %d, want %d", code, CloseGoingAway)
	}
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(CloseGoingAway, "")))
	cl.ExpectConnClosed()
	if err := <-readErrs; !IsCloseError(err, CloseGoingAway) {
		t.Errorf("handler's read error = %v, want the peer's 1001 close", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := set.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

func TestConnSet_removeWhenHandlerReturns(t *testing.T) {
	t.Parallel()
	var set ConnSet
	addr, readErrs := serveSet(t, &Upgrader{}, &set, 2)
	a := wstest.Dial(t, addr, "/", nil)
	b := wstest.Dial(t, addr, "/", nil)
	waitLen(t, &set, 2)

	a.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(CloseNormalClosure, "bye")))
	a.ExpectClose(CloseNormalClosure)
	<-readErrs
	waitLen(t, &set, 1)

	// An empty set shuts down at once; b still gets its 1001.
	b.Send(wstest.Msg(wstest.OpText, []byte("hi")))
	b.ExpectMessage(wstest.OpText, []byte("hi"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- set.Shutdown(ctx) }()
	if code := readUntilClose(t, b); code != CloseGoingAway {
		t.Fatalf("close code %d, want %d", code, CloseGoingAway)
	}
	b.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(CloseGoingAway, "")))
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	<-readErrs
}

// The zero ConnSet wired to an http.Server: Shutdown stops the HTTP side,
// the registered GoingAway starts the WebSocket closes, ConnSet.Shutdown
// waits for them.
func TestConnSet_withHTTPServerShutdown(t *testing.T) {
	t.Parallel()
	var set ConnSet
	var u Upgrader
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		defer set.Add(c)()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	srv.Config.RegisterOnShutdown(set.GoingAway)
	srv.Start()
	defer srv.Close()
	cl := wstest.Dial(t, strings.TrimPrefix(srv.URL, "http://"), "/", nil)
	waitLen(t, &set, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("http.Server.Shutdown: %v", err)
	}
	// Shutdown returned without waiting for the hijacked connection; the
	// registered GoingAway has sent (or is sending) the 1001.
	if code := readUntilClose(t, cl); code != CloseGoingAway {
		t.Fatalf("close code %d, want %d", code, CloseGoingAway)
	}
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(CloseGoingAway, "")))
	if err := set.Shutdown(ctx); err != nil {
		t.Errorf("ConnSet.Shutdown = %v", err)
	}
	cl.ExpectConnClosed()
}
