package websocket

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// serve runs handler on each upgraded connection of a loopback server and
// returns the server's address.
func serve(t *testing.T, u *Upgrader, handler func(c *Conn)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		handler(c)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestConn_concurrentWritersNeverInterleave(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 8, 40
	addr := serve(t, &Upgrader{WriteBufferSize: 256}, func(c *Conn) {
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					// Messages of up to 2 KiB, many frames each with the
					// small buffer; even ones streamed in pieces.
					msg := bytes.Repeat([]byte{byte('a' + w)}, 1+(i*53)%2000)
					if i%2 == 0 {
						if err := c.WriteMessage(BinaryMessage, msg); err != nil {
							t.Error(err)
						}
						continue
					}
					wr, err := c.NextWriter(BinaryMessage)
					if err != nil {
						t.Error(err)
						return
					}
					for len(msg) > 0 {
						k := min(len(msg), 300)
						wr.Write(msg[:k])
						msg = msg[k:]
					}
					if err := wr.Close(); err != nil {
						t.Error(err)
					}
				}
			}(w)
		}
		wg.Add(1)
		go func() { // pings slip in between frames
			defer wg.Done()
			for i := 0; i < 50; i++ {
				c.WriteControl(PingMessage, []byte("p"), time.Now().Add(time.Second))
			}
		}()
		wg.Wait()
		c.ReadMessage() // until the client closes
	})
	cl := wstest.Dial(t, addr, "/", nil)
	got := 0
	var p []byte
	open := false
	for got < writers*perWriter {
		f, err := cl.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case f.Opcode == wstest.OpPing:
			continue // control frames may come between fragments
		case f.Opcode == wstest.OpContinuation && !open, f.Opcode != wstest.OpContinuation && open:
			t.Fatalf("message %d: frames of two messages interleave: %v", got, f)
		}
		open = !f.Fin
		p = append(p, f.Payload...)
		if !f.Fin {
			continue
		}
		if len(p) == 0 || !bytes.Equal(p, bytes.Repeat(p[:1], len(p))) {
			t.Fatalf("message %d mixes writers: %q...", got, p[:min(len(p), 40)])
		}
		p = p[:0]
		got++
	}
}

func TestConn_writeControlBetweenFramesOfOpenMessage(t *testing.T) {
	t.Parallel()
	sent := make(chan error, 1)
	addr := serve(t, &Upgrader{WriteBufferSize: 256}, func(c *Conn) {
		w, _ := c.NextWriter(TextMessage)
		w.Write(bytes.Repeat([]byte("x"), 600)) // two frames go out now
		// Another goroutine's ping does not wait for the message.
		go func() { sent <- c.WriteControl(PingMessage, []byte("mid"), time.Now().Add(time.Second)) }()
		if err := <-sent; err != nil {
			t.Error(err)
		}
		w.Write([]byte("end"))
		w.Close()
		c.ReadMessage()
	})
	cl := wstest.Dial(t, addr, "/", nil)
	var ops []byte
	var text []byte
	for {
		f, err := cl.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, f.Opcode)
		if f.Opcode != wstest.OpPing {
			text = append(text, f.Payload...)
		}
		if f.Fin && f.Opcode != wstest.OpPing {
			break
		}
	}
	if i := bytes.IndexByte(ops, wstest.OpPing); i <= 0 || i == len(ops)-1 {
		t.Fatalf("ping not between data frames: opcodes %v", ops)
	}
	if string(text) != strings.Repeat("x", 600)+"end" {
		t.Fatalf("message corrupted: %d bytes", len(text))
	}
}

func TestConn_misuseReturnsErrors(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		defer close(done)
		// A second concurrent reader is refused.
		go c.ReadMessage()
		for !c.rd.sem.held() { // until the first reader holds the lock
			time.Sleep(time.Millisecond)
		}
		if _, _, err := c.ReadMessage(); err != ErrConcurrentRead {
			t.Errorf("concurrent ReadMessage: %v, want ErrConcurrentRead", err)
		}
		if _, _, err := c.NextReader(); err != ErrConcurrentRead {
			t.Errorf("concurrent NextReader: %v, want ErrConcurrentRead", err)
		}
		// A closed writer is refused; so are bad message types.
		w, err := c.NextWriter(TextMessage)
		if err != nil {
			t.Error(err)
			return
		}
		w.Close()
		if _, err := w.Write([]byte("late")); err != ErrWriterClosed {
			t.Errorf("write after Close: %v", err)
		}
		if err := w.Close(); err != ErrWriterClosed {
			t.Errorf("second Close: %v", err)
		}
		if err := c.WriteMessage(99, nil); err == nil {
			t.Error("message type 99 accepted")
		}
		if err := c.WriteControl(PingMessage, make([]byte, 126), time.Time{}); err == nil {
			t.Error("126-byte ping accepted")
		}
		if err := c.WriteControl(TextMessage, nil, time.Time{}); err == nil {
			t.Error("WriteControl accepted a text message")
		}
	})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.ExpectMessage(wstest.OpText, nil)
	<-done
}

func TestConn_staleReaderIsRefused(t *testing.T) {
	t.Parallel()
	errc := make(chan error, 2)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		_, r1, _ := c.NextReader()
		var b [2]byte
		r1.Read(b[:])
		_, r2, err := c.NextReader() // discards the rest of message 1
		if err != nil {
			errc <- err
			return
		}
		_, err = r1.Read(b[:])
		errc <- err
		rest, _ := io.ReadAll(r2)
		if string(rest) != "second" {
			errc <- fmt.Errorf("second message read as %q", rest)
		}
		errc <- nil
	})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.Send(wstest.Msg(wstest.OpText, []byte("first message")), wstest.Msg(wstest.OpText, []byte("second")))
	if err := <-errc; err != ErrReaderReplaced {
		t.Fatalf("read from replaced reader: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestConn_closeHandshake(t *testing.T) {
	t.Parallel()
	t.Run("no other reader", func(t *testing.T) {
		t.Parallel()
		result := make(chan error, 1)
		addr := serve(t, &Upgrader{}, func(c *Conn) { result <- c.CloseHandshake(CloseGoingAway, "bye") })
		cl := wstest.Dial(t, addr, "/", nil)
		f, err := cl.ReadFrame()
		if err != nil || f.Opcode != wstest.OpClose || !bytes.Equal(f.Payload, wstest.CloseBody(1001, "bye")) {
			t.Fatalf("got %v %v", f, err)
		}
		cl.Send(wstest.Msg(wstest.OpText, []byte("ignored")), wstest.Msg(wstest.OpClose, wstest.CloseBody(1001, "")))
		if err := <-result; err != nil {
			t.Fatalf("CloseHandshake: %v", err)
		}
		cl.ExpectConnClosed()
	})
	t.Run("reader in another goroutine", func(t *testing.T) {
		t.Parallel()
		result := make(chan error, 2)
		addr := serve(t, &Upgrader{}, func(c *Conn) {
			go func() {
				_, _, err := c.ReadMessage()
				result <- err
			}()
			time.Sleep(20 * time.Millisecond)
			result <- c.CloseHandshake(CloseNormalClosure, "")
		})
		cl := wstest.Dial(t, addr, "/", nil)
		f, _ := cl.ReadFrame()
		if f.Opcode != wstest.OpClose {
			t.Fatalf("got %v", f)
		}
		cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(1000, "ok")))
		for i := 0; i < 2; i++ {
			err := <-result
			if err != nil && !IsCloseError(err, CloseNormalClosure) {
				t.Fatalf("got %v", err)
			}
		}
		cl.ExpectConnClosed()
	})
	t.Run("peer never answers", func(t *testing.T) {
		t.Parallel()
		result := make(chan error, 1)
		addr := serve(t, &Upgrader{CloseTimeout: 200 * time.Millisecond}, func(c *Conn) {
			result <- c.CloseHandshake(CloseNormalClosure, "")
		})
		cl := wstest.Dial(t, addr, "/", nil)
		start := time.Now()
		if err := <-result; err != errCloseTimeout {
			t.Fatalf("CloseHandshake without the peer's close: %v, want errCloseTimeout", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("waited %v", d)
		}
		cl.ExpectClose(1000)
	})
}

func TestConn_readLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		u     *Upgrader
		claim uint64
	}{
		{"Upgrader.ReadLimit", &Upgrader{ReadLimit: 1024}, 1025},
		{"default limit, 1 GiB claimed", &Upgrader{}, 1 << 30},
		{"2^63-1 claimed", &Upgrader{}, 1<<63 - 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			result := make(chan error, 1)
			var alloc uint64
			addr := serve(t, tt.u, func(c *Conn) {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				_, _, err := c.ReadMessage()
				runtime.ReadMemStats(&after)
				alloc = after.TotalAlloc - before.TotalAlloc
				result <- err
			})
			cl := wstest.Dial(t, addr, "/", nil)
			f := wstest.Msg(wstest.OpBinary, []byte("only a few bytes"))
			f.LenOverride = wstest.Uint64(tt.claim)
			cl.Send(f)
			cl.ExpectClose(1009)
			if err := <-result; err != ErrReadLimit {
				t.Fatalf("ReadMessage: %v, want ErrReadLimit", err)
			}
			// Other tests run in parallel, so TotalAlloc is only a loose
			// bound; the claim is far above it.
			if alloc > 64<<20 && tt.claim > 64<<20 {
				t.Fatalf("allocated %d bytes for a refused message", alloc)
			}
		})
	}
}

func TestConn_protocolErrorCarriesCode(t *testing.T) {
	t.Parallel()
	result := make(chan error, 1)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		_, _, err := c.ReadMessage()
		result <- err
		if _, _, err2 := c.ReadMessage(); err2 != err {
			t.Errorf("error not sticky: %v then %v", err, err2)
		}
	})
	cl := wstest.Dial(t, addr, "/", nil)
	f := wstest.Msg(wstest.OpText, []byte("x"))
	f.Masked = false
	cl.Send(f)
	cl.ExpectClose(1002)
	var pe *ProtocolError
	if err := <-result; !errors.As(err, &pe) || pe.Code != CloseProtocolError {
		t.Fatalf("got %v, want *ProtocolError 1002", err)
	}
}

func TestConn_peerDropsConnection_is1006(t *testing.T) {
	t.Parallel()
	result := make(chan error, 1)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		_, _, err := c.ReadMessage()
		result <- err
	})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.Close()
	if err := <-result; !IsUnexpectedCloseError(err) || !IsCloseError(err, CloseAbnormalClosure) {
		t.Fatalf("got %v, want a 1006 CloseError as gorilla reports", err)
	}
}

func TestConn_writeDeadlineOnPeerThatNeverReads(t *testing.T) {
	t.Parallel()
	result := make(chan error, 1)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		msg := make([]byte, 256<<10)
		var err error
		for i := 0; i < 4096 && err == nil; i++ {
			err = c.WriteMessage(BinaryMessage, msg)
		}
		if err2 := c.WriteMessage(BinaryMessage, []byte("x")); err2 == nil {
			t.Error("write after a timed-out write succeeded")
		}
		result <- err
	})
	cl := wstest.Dial(t, addr, "/", nil)
	_ = cl // never reads
	select {
	case err := <-result:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("got %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("write deadline did not fire")
	}
}

// unwrapWriter is a middleware's ResponseWriter that hides Hijack but
// offers Unwrap, as http.NewResponseController expects.
type unwrapWriter struct{ rw http.ResponseWriter }

func (w unwrapWriter) Header() http.Header         { return w.rw.Header() }
func (w unwrapWriter) Write(b []byte) (int, error) { return w.rw.Write(b) }
func (w unwrapWriter) WriteHeader(s int)           { w.rw.WriteHeader(s) }
func (w unwrapWriter) Unwrap() http.ResponseWriter { return w.rw }

func TestUpgrade_throughMiddlewareWithUnwrapAndPipelinedFrames(t *testing.T) {
	t.Parallel()
	u := &Upgrader{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(unwrapWriter{w}, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, p)
		}
	}))
	// Short server timeouts: Upgrade must clear them.
	srv.Config.ReadTimeout = 100 * time.Millisecond
	srv.Config.WriteTimeout = 100 * time.Millisecond
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	pipelined := append(wstest.AppendFrame(nil, wstest.Msg(wstest.OpText, []byte("one"))),
		wstest.AppendFrame(nil, wstest.Msg(wstest.OpBinary, []byte("two")))...)
	cl := wstest.DialPipelined(t, addr, "/", nil, pipelined)
	cl.ExpectMessage(wstest.OpText, []byte("one"))
	cl.ExpectMessage(wstest.OpBinary, []byte("two"))
	time.Sleep(250 * time.Millisecond) // past the server's timeouts
	cl.Send(wstest.Msg(wstest.OpText, []byte("three")))
	cl.ExpectMessage(wstest.OpText, []byte("three"))
}

func TestIsCloseError_wrapped(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("handler: %w", &CloseError{Code: CloseGoingAway, Text: "bye"})
	if !IsCloseError(err, CloseGoingAway) || IsUnexpectedCloseError(err, CloseGoingAway) || !IsUnexpectedCloseError(err, CloseNormalClosure) {
		t.Fatal("wrapped CloseError not matched")
	}
	if IsCloseError(errors.New("x"), CloseGoingAway) {
		t.Fatal("plain error matched")
	}
	if got := (&CloseError{Code: 1001, Text: "bye"}).Error(); got != `websocket: close 1001 (going away): "bye"` {
		t.Fatalf("Error() = %q", got)
	}
}

// A handler between two reads when CloseHandshake (from another goroutine)
// starts reading the peer's close gets that close from its next read, not
// ErrConcurrentRead.
func TestConn_readDuringCloseHandshakeWaitsForIt(t *testing.T) {
	t.Parallel()
	result := make(chan error, 2)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		done := make(chan error, 1)
		go func() { done <- c.CloseHandshake(CloseGoingAway, "") }()
		for !c.rd.closeReading.Load() || !c.rd.sem.held() { // until it reads
			time.Sleep(time.Millisecond)
		}
		// The client answers 200 ms after the close arrived: by then
		// this read is waiting for CloseHandshake.
		_, _, err := c.ReadMessage()
		result <- err
		result <- <-done
	})
	cl := wstest.Dial(t, addr, "/", nil)
	f, err := cl.ReadFrame()
	if err != nil || f.Opcode != wstest.OpClose {
		t.Fatalf("got %v %v", f, err)
	}
	time.Sleep(200 * time.Millisecond)
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(1001, "")))
	if err := <-result; !IsCloseError(err, CloseGoingAway) {
		t.Fatalf("ReadMessage during CloseHandshake: %v, want the peer's 1001", err)
	}
	if err := <-result; err != nil {
		t.Fatalf("CloseHandshake: %v", err)
	}
}
