package websocket

import (
	"errors"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// heartbeatServer starts a heartbeat on each connection and reads until
// the read fails; the heartbeat and the read error are sent on the
// returned channels once the handler is done. setup, if not nil, runs
// before the heartbeat starts.
func heartbeatServer(t *testing.T, interval, timeout time.Duration, setup func(c *Conn)) (addr string, hbs <-chan *Heartbeat, readErrs <-chan error) {
	t.Helper()
	hbc := make(chan *Heartbeat, 1)
	errc := make(chan error, 1)
	addr = serve(t, &Upgrader{}, func(c *Conn) {
		if setup != nil {
			setup(c)
		}
		hb := StartHeartbeat(c, interval, timeout)
		defer func() { hbc <- hb }()
		defer hb.Stop()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				errc <- err
				return
			}
		}
	})
	return addr, hbc, errc
}

func TestHeartbeat_answeredPings_keepTheConnection(t *testing.T) {
	t.Parallel()
	var appPongs int
	addr, hbs, readErrs := heartbeatServer(t, 20*time.Millisecond, 60*time.Millisecond, func(c *Conn) {
		// An application's own pong handler, set before the heartbeat.
		c.SetPongHandler(func(string) error { appPongs++; return nil })
	})
	cl := wstest.Dial(t, addr, "/", nil)

	// Answer every ping for well past the pong timeout.
	pings := 0
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		f, err := cl.ReadFrame()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if f.Opcode != wstest.OpPing {
			t.Fatalf("got %v, want only pings", f)
		}
		pings++
		cl.Send(wstest.Msg(wstest.OpPong, f.Payload))
	}
	if pings < 5 {
		t.Errorf("%d pings in 300ms at a 20ms interval", pings)
	}
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(CloseNormalClosure, "")))
	if err := <-readErrs; !IsCloseError(err, CloseNormalClosure) {
		t.Errorf("read error = %v, want the peer's 1000", err)
	}
	hb := <-hbs
	if err := hb.Err(); err != nil {
		t.Errorf("Err() = %v after a clean close", err)
	}
	if appPongs < pings-1 {
		t.Errorf("the application's pong handler saw %d pongs of %d: not chained", appPongs, pings)
	}
}

func TestHeartbeat_missingPong_failsWithErrPongTimeout(t *testing.T) {
	t.Parallel()
	const interval, timeout = 20 * time.Millisecond, 80 * time.Millisecond
	addr, hbs, readErrs := heartbeatServer(t, interval, timeout, nil)
	cl := wstest.Dial(t, addr, "/", nil)
	start := time.Now()

	// The client reads the pings and never answers.
	var closeFrame wstest.Frame
	for {
		f, err := cl.ReadFrame()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if f.Opcode == wstest.OpClose {
			closeFrame = f
			break
		}
		if f.Opcode != wstest.OpPing {
			t.Fatalf("got %v, want pings then a close", f)
		}
	}
	elapsed := time.Since(start)
	want := string(wstest.CloseBody(CloseGoingAway, "no pong within 80ms"))
	if string(closeFrame.Payload) != want {
		t.Errorf("close payload %q, want %q", closeFrame.Payload, want)
	}
	// The first ping goes out after interval, the failure timeout later;
	// the clock here started a little after the server's.
	if elapsed < timeout || elapsed > 2*time.Second {
		t.Errorf("failed after %v; want about %v", elapsed, interval+timeout)
	}
	cl.ExpectConnClosed()
	if err := <-readErrs; err == nil {
		t.Error("read returned nil error")
	}
	hb := <-hbs
	err := hb.Err()
	if !errors.Is(err, ErrPongTimeout) {
		t.Fatalf("Err() = %v, want ErrPongTimeout", err)
	}
	t.Logf("Err(): %v", err)
}

func TestHeartbeat_stop_endsPings(t *testing.T) {
	t.Parallel()
	stopped := make(chan struct{})
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		hb := StartHeartbeat(c, 10*time.Millisecond, time.Minute)
		time.Sleep(35 * time.Millisecond)
		hb.Stop()
		hb.Stop() // harmless
		select {
		case <-hb.Done():
		default:
			t.Error("Done not closed after Stop")
		}
		close(stopped)
		c.ReadMessage()
	})
	cl := wstest.Dial(t, addr, "/", nil)
	<-stopped
	// Pings sent before Stop are buffered; drain them, then nothing more.
	for {
		cl.Timeout = 100 * time.Millisecond
		f, err := cl.ReadFrame()
		if err != nil {
			break // nothing within 100ms
		}
		if f.Opcode != wstest.OpPing {
			t.Fatalf("got %v, want pings", f)
		}
	}
}

func TestHeartbeat_endsWhenConnCloses(t *testing.T) {
	t.Parallel()
	hbc := make(chan *Heartbeat, 1)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		hb := StartHeartbeat(c, time.Hour, 0)
		hbc <- hb
		c.ReadMessage() // until the client leaves
	})
	cl := wstest.Dial(t, addr, "/", nil)
	hb := <-hbc
	cl.Close()
	select {
	case <-hb.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("heartbeat still running 5s after the connection ended")
	}
	if err := hb.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
	hb.Stop()
}

func TestHeartbeat_nonPositiveInterval_doesNothing(t *testing.T) {
	t.Parallel()
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		hb := StartHeartbeat(c, 0, time.Second)
		<-hb.Done()
		hb.Stop()
		c.ReadMessage()
	})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.ExpectNoFrame(50 * time.Millisecond)
}
