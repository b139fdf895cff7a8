package websocket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// serveNetConn runs handler on AsNetConn of each upgraded connection.
func serveNetConn(t *testing.T, ctx context.Context, messageType int, handler func(nc net.Conn)) string {
	t.Helper()
	return serve(t, &Upgrader{CloseTimeout: 2 * time.Second}, func(c *Conn) {
		handler(AsNetConn(ctx, c, messageType))
	})
}

func TestAsNetConn_messagesAreAByteStream(t *testing.T) {
	t.Parallel()
	type result struct {
		got      []byte
		eof      error
		closeErr error
	}
	res := make(chan result, 1)
	addr := serveNetConn(t, context.Background(), BinaryMessage, func(nc net.Conn) {
		var r result
		r.got = make([]byte, len("hello, world"))
		if _, err := io.ReadFull(nc, r.got); err != nil {
			t.Errorf("ReadFull: %v", err)
		}
		if _, err := nc.Write(r.got[:5]); err != nil {
			t.Errorf("Write: %v", err)
		}
		nc.Write(nil) // sends nothing
		nc.Write(r.got[5:])
		_, r.eof = nc.Read(make([]byte, 10))
		r.closeErr = nc.Close()
		res <- r
	})
	cl := wstest.Dial(t, addr, "/", nil)
	// Message boundaries fall anywhere; an empty message is no boundary
	// either; a fragmented message reads as its bytes.
	cl.Send(
		wstest.Msg(wstest.OpBinary, []byte("hel")),
		wstest.Msg(wstest.OpBinary, nil),
		wstest.Frag(wstest.OpBinary, false, []byte("lo, ")),
		wstest.Msg(wstest.OpPing, []byte("p")), // answered on the way
		wstest.Frag(wstest.OpContinuation, true, []byte("wor")),
		wstest.Msg(wstest.OpBinary, []byte("ld")),
	)
	cl.ExpectMessage(wstest.OpPong, []byte("p"))
	// Each Write is one message.
	cl.ExpectMessage(wstest.OpBinary, []byte("hello"))
	cl.ExpectMessage(wstest.OpBinary, []byte(", world"))
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(CloseNormalClosure, "")))
	cl.ExpectClose(CloseNormalClosure)

	r := <-res
	if string(r.got) != "hello, world" {
		t.Errorf("read %q", r.got)
	}
	if r.eof != io.EOF {
		t.Errorf("Read after the peer's 1000 = %v, want io.EOF", r.eof)
	}
	if r.closeErr != nil {
		t.Errorf("Close after the peer's close = %v, want nil", r.closeErr)
	}
}

func TestAsNetConn_deadlines(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 2)
	addr := serveNetConn(t, context.Background(), BinaryMessage, func(nc net.Conn) {
		nc.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		_, err := nc.Read(make([]byte, 1))
		errs <- err
		// The client never reads: writes fill the socket buffers and
		// then hit the deadline.
		nc.SetDeadline(time.Now().Add(100 * time.Millisecond))
		chunk := make([]byte, 1<<20)
		for i := 0; i < 256; i++ {
			if _, err = nc.Write(chunk); err != nil {
				break
			}
		}
		errs <- err
		nc.Close()
	})
	wstest.Dial(t, addr, "/", nil)
	for _, dir := range []string{"Read", "Write"} {
		err := <-errs
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("%s past the deadline = %v, want a timeout matching os.ErrDeadlineExceeded", dir, err)
		}
	}
}

func TestAsNetConn_otherMessageType_fails1003(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 2)
	addr := serveNetConn(t, context.Background(), BinaryMessage, func(nc net.Conn) {
		_, err := nc.Read(make([]byte, 8))
		errs <- err
		_, err = nc.Read(make([]byte, 8))
		errs <- err
	})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.Send(wstest.Msg(wstest.OpText, []byte("text")))
	cl.ExpectClose(CloseUnsupportedData)
	first, second := <-errs, <-errs
	if first == nil || first != second {
		t.Errorf("reads returned %v then %v, want the same error twice", first, second)
	}
}

func TestAsNetConn_closeWhileReading_handshakes(t *testing.T) {
	t.Parallel()
	readErr, closeErr := make(chan error, 1), make(chan error, 1)
	addr := serveNetConn(t, context.Background(), BinaryMessage, func(nc net.Conn) {
		reading := make(chan struct{})
		go func() {
			close(reading)
			_, err := nc.Read(make([]byte, 8))
			readErr <- err
		}()
		<-reading
		time.Sleep(20 * time.Millisecond) // the Read is waiting
		err := nc.Close()
		if again := nc.Close(); again != err {
			t.Errorf("second Close = %v, want the first's result %v", again, err)
		}
		closeErr <- err
	})
	cl := wstest.Dial(t, addr, "/", nil)
	f, err := cl.ReadFrame()
	if err != nil || f.Opcode != wstest.OpClose || !bytes.Equal(f.Payload, wstest.CloseBody(CloseNormalClosure, "")) {
		t.Fatalf("got %v, %v; want a close 1000", f, err)
	}
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(CloseNormalClosure, "")))
	cl.ExpectConnClosed()
	if err := <-readErr; err != io.EOF {
		t.Errorf("Read = %v, want io.EOF", err)
	}
	if err := <-closeErr; err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
}

func TestAsNetConn_closeWithoutReader_handshakes(t *testing.T) {
	t.Parallel()
	closeErr := make(chan error, 1)
	addr := serveNetConn(t, context.Background(), BinaryMessage, func(nc net.Conn) {
		closeErr <- nc.Close()
	})
	cl := wstest.Dial(t, addr, "/", nil)
	f, err := cl.ReadFrame()
	if err != nil || f.Opcode != wstest.OpClose {
		t.Fatalf("got %v, %v; want a close", f, err)
	}
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(CloseNormalClosure, "")))
	cl.ExpectConnClosed()
	if err := <-closeErr; err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
}

func TestAsNetConn_otherCloseCodes_areErrors(t *testing.T) {
	t.Parallel()
	readErr := make(chan error, 1)
	addr := serveNetConn(t, context.Background(), BinaryMessage, func(nc net.Conn) {
		_, err := nc.Read(make([]byte, 8))
		readErr <- err
	})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(CloseGoingAway, "tab closed")))
	cl.ExpectClose(CloseGoingAway)
	if err := <-readErr; !IsCloseError(err, CloseGoingAway) {
		t.Errorf("Read = %v, want the *CloseError 1001", err)
	}
}

func TestAsNetConn_contextDone_closesAtOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	readErr := make(chan error, 1)
	addr := serveNetConn(t, ctx, BinaryMessage, func(nc net.Conn) {
		_, err := nc.Read(make([]byte, 8))
		readErr <- err
	})
	cl := wstest.Dial(t, addr, "/", nil)
	cancel()
	cl.ExpectConnClosed()
	if err := <-readErr; err == nil || err == io.EOF {
		t.Errorf("Read after the context ended = %v, want an error", err)
	}
}

func TestAsNetConn_addrs(t *testing.T) {
	t.Parallel()
	addrs := make(chan [2]net.Addr, 1)
	addr := serveNetConn(t, context.Background(), TextMessage, func(nc net.Conn) {
		addrs <- [2]net.Addr{nc.LocalAddr(), nc.RemoteAddr()}
		nc.Close()
	})
	cl := wstest.Dial(t, addr, "/", nil)
	got := <-addrs
	if got[0].String() != cl.Conn().RemoteAddr().String() || got[1].String() != cl.Conn().LocalAddr().String() {
		t.Errorf("LocalAddr, RemoteAddr = %v, %v; the client has %v -> %v", got[0], got[1], cl.Conn().LocalAddr(), cl.Conn().RemoteAddr())
	}
	cl.ReadFrame()
	cl.Send(wstest.Msg(wstest.OpClose, nil))
}
