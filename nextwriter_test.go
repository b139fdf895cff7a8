package websocket

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// gorilla: "NextWriter closes the previous writer if the application has
// not already done so". Called twice from one goroutine it must not wait
// for itself; the first message ends where it was, the second follows.
func TestNextWriter_closesThePreviousWriterOfTheSameGoroutine(t *testing.T) {
	t.Parallel()
	done := make(chan error, 1)
	addr := serveRaw(t, &Upgrader{}, func(c *Conn, _ *http.Request) {
		w1, err := c.NextWriter(TextMessage)
		if err != nil {
			done <- err
			return
		}
		io.WriteString(w1, "first")
		w2, err := c.NextWriter(BinaryMessage) // must not deadlock
		if err != nil {
			done <- err
			return
		}
		if _, err := io.WriteString(w1, "late"); !errors.Is(err, ErrWriterClosed) {
			done <- errors.New("a write to the replaced writer did not fail with ErrWriterClosed")
			return
		}
		io.WriteString(w2, "second")
		w2.Close()
		if err := c.WriteMessage(TextMessage, []byte("third")); err != nil {
			done <- err
			return
		}
		w3, _ := c.NextWriter(TextMessage)
		io.WriteString(w3, "fourth")
		// WriteMessage from the same goroutine closes the open writer too.
		done <- c.WriteMessage(TextMessage, []byte("fifth"))
	})
	cl := wstest.Dial(t, addr, "/", nil)
	defer cl.Close()
	cl.ExpectMessage(wstest.OpText, []byte("first"))
	cl.ExpectMessage(wstest.OpBinary, []byte("second"))
	cl.ExpectMessage(wstest.OpText, []byte("third"))
	cl.ExpectMessage(wstest.OpText, []byte("fourth"))
	cl.ExpectMessage(wstest.OpText, []byte("fifth"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler is stuck")
	}
}

// A writer another goroutine holds is waited for, not closed.
func TestNextWriter_waitsForAnotherGoroutinesWriter(t *testing.T) {
	t.Parallel()
	addr := serveRaw(t, &Upgrader{}, func(c *Conn, _ *http.Request) {
		w1, _ := c.NextWriter(TextMessage)
		io.WriteString(w1, "held ")
		got := make(chan struct{})
		go func() {
			w2, err := c.NextWriter(TextMessage) // waits for w1
			if err == nil {
				io.WriteString(w2, "after")
				w2.Close()
			}
			close(got)
		}()
		time.Sleep(50 * time.Millisecond)
		io.WriteString(w1, "by its owner")
		w1.Close()
		<-got
	})
	cl := wstest.Dial(t, addr, "/", nil)
	defer cl.Close()
	cl.ExpectMessage(wstest.OpText, []byte("held by its owner"))
	cl.ExpectMessage(wstest.OpText, []byte("after"))
}

// gorilla documents all five message types for NextWriter: a control
// message written through it goes out whole on Close, at most 125 bytes.
func TestNextWriter_controlMessages(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 4)
	addr := serveRaw(t, &Upgrader{}, func(c *Conn, _ *http.Request) {
		for _, mt := range []int{PingMessage, PongMessage} {
			w, err := c.NextWriter(mt)
			if err != nil {
				errs <- err
				return
			}
			io.WriteString(w, "ab")
			io.WriteString(w, "cd")
			if err := w.Close(); err != nil {
				errs <- err
				return
			}
		}
		w, _ := c.NextWriter(PingMessage)
		if _, err := w.Write(make([]byte, 126)); err == nil {
			errs <- errors.New("a 126-byte control payload was accepted")
		}
		w.Close()
		w, _ = c.NextWriter(CloseMessage)
		w.Write(FormatCloseMessage(CloseNormalClosure, "bye"))
		errs <- w.Close()
		if err := c.WriteMessage(TextMessage, []byte("x")); err != ErrCloseSent {
			errs <- errors.New("a write after the close message did not return ErrCloseSent")
		}
		c.ReadMessage() // until the client's close
	})
	cl := wstest.Dial(t, addr, "/", nil)
	defer cl.Close()
	cl.ExpectMessage(wstest.OpPing, []byte("abcd"))
	cl.ExpectMessage(wstest.OpPong, []byte("abcd"))
	cl.ExpectMessage(wstest.OpPing, nil)
	f, err := cl.ReadFrame()
	if err != nil || f.Opcode != wstest.OpClose || !bytes.Equal(f.Payload, FormatCloseMessage(CloseNormalClosure, "bye")) {
		t.Fatalf("got %v, %v; want the close frame with 1000 \"bye\"", f, err)
	}
	cl.Close()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// Every refused message type matches ErrUnsupportedMessage, on both
// protocols.
func TestWrite_unsupportedTypesMatchErrUnsupportedMessage(t *testing.T) {
	t.Parallel()
	c := newConn(hixieFuzzConn{}, connConfig{}, nil)
	if err := c.WriteMessage(42, nil); !errors.Is(err, ErrUnsupportedMessage) {
		t.Errorf("WriteMessage(42) = %v", err)
	}
	if _, err := c.NextWriter(42); !errors.Is(err, ErrUnsupportedMessage) {
		t.Errorf("NextWriter(42) = %v", err)
	}
	if err := c.WriteControl(TextMessage, nil, time.Time{}); !errors.Is(err, ErrUnsupportedMessage) {
		t.Errorf("WriteControl(TextMessage) = %v", err)
	}
	if _, err := NewPreparedMessage(42, nil); !errors.Is(err, ErrUnsupportedMessage) {
		t.Errorf("NewPreparedMessage(42) = %v", err)
	}
	h := newConn(hixieFuzzConn{}, connConfig{}, nil)
	h.fr = new(hixie76)
	for _, mt := range []int{BinaryMessage, PingMessage, 42} {
		if err := h.WriteMessage(mt, nil); !errors.Is(err, ErrUnsupportedMessage) {
			t.Errorf("hixie-76 WriteMessage(%d) = %v", mt, err)
		}
	}
	if _, err := h.NextWriter(BinaryMessage); !errors.Is(err, ErrUnsupportedMessage) {
		t.Errorf("hixie-76 NextWriter(BinaryMessage) = %v", err)
	}
}
