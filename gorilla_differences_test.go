package websocket

// The deliberate differences from gorilla/websocket v1.5.3 that the README
// lists under "What behaves differently", each as a gorilla program would
// see it: through the public API, over a real loopback socket, with the
// independent wstest client as the peer. Differences tested elsewhere are
// named in the README next to their item.

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// readUntilError serves u and returns the address and a channel that gets
// the first error ReadMessage returned on the server side.
func readUntilError(t *testing.T, u *Upgrader) (string, chan error) {
	t.Helper()
	errc := make(chan error, 1)
	addr := serve(t, u, func(c *Conn) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				errc <- err
				return
			}
		}
	})
	return addr, errc
}

func wantProtocolError(t *testing.T, err error, code int) {
	t.Helper()
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("ReadMessage: %v, want a *ProtocolError with code %d", err, code)
	}
}

// gorilla delivers invalid UTF-8 in a text message; here it fails the
// connection with 1007 (RFC 6455 §8.1).
func TestGorillaDiff_invalidUTF8Closes1007(t *testing.T) {
	t.Parallel()
	addr, errc := readUntilError(t, &Upgrader{})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.Send(wstest.Msg(wstest.OpText, []byte("ok \xff")))
	cl.ExpectCloseNext(CloseInvalidFramePayloadData)
	wantProtocolError(t, <-errc, CloseInvalidFramePayloadData)
}

// gorilla returns ErrReadLimit, with no close frame, for a 64-bit length
// with its most significant bit set; RFC 6455 §5.2 says that bit MUST be
// 0, so here it is a protocol error: 1002.
func TestGorillaDiff_length64TopBitCloses1002(t *testing.T) {
	t.Parallel()
	addr, errc := readUntilError(t, &Upgrader{})
	cl := wstest.Dial(t, addr, "/", nil)
	f := wstest.Msg(wstest.OpBinary, []byte("x"))
	f.LenEncoding, f.LenOverride = wstest.Len64, wstest.Uint64(1<<63|1)
	cl.Send(f)
	cl.ExpectCloseNext(CloseProtocolError)
	wantProtocolError(t, <-errc, CloseProtocolError)
}

// gorilla has no default read limit. Here it is DefaultReadLimit, judged
// from the frame header, or DefaultCompressedReadLimit, judged on the
// inflated bytes, once permessage-deflate was negotiated.
func TestGorillaDiff_defaultReadLimits(t *testing.T) {
	t.Parallel()
	t.Run("32 MiB", func(t *testing.T) {
		t.Parallel()
		addr, errc := readUntilError(t, &Upgrader{})
		cl := wstest.Dial(t, addr, "/", nil)
		f := wstest.Msg(wstest.OpBinary, []byte("x"))
		f.LenOverride = wstest.Uint64(DefaultReadLimit + 1)
		cl.Send(f)
		cl.ExpectCloseNext(CloseMessageTooBig)
		if err := <-errc; err != ErrReadLimit {
			t.Fatalf("ReadMessage: %v, want ErrReadLimit", err)
		}
		// Exactly the limit is not refused: the server waits for the bytes.
		addr, errc = readUntilError(t, &Upgrader{})
		cl = wstest.Dial(t, addr, "/", nil)
		f.LenOverride = wstest.Uint64(DefaultReadLimit)
		cl.Send(f)
		cl.Close()
		if err := <-errc; err == ErrReadLimit {
			t.Fatal("a message of exactly DefaultReadLimit bytes was refused")
		}
	})
	t.Run("4 MiB with compression", func(t *testing.T) {
		t.Parallel()
		got := make(chan int, 1)
		u := &Upgrader{EnableCompression: true}
		errc := make(chan error, 1)
		addr := serve(t, u, func(c *Conn) {
			for {
				_, p, err := c.ReadMessage()
				if err != nil {
					errc <- err
					return
				}
				got <- len(p)
			}
		})
		pmd := http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate"}}
		cl := wstest.Dial(t, addr, "/", pmd)
		send := func(mib int) {
			f := wstest.Msg(wstest.OpBinary, pmdBomb(mib))
			f.Rsv = wstest.Rsv1
			cl.Send(f)
		}
		send(DefaultCompressedReadLimit >> 20)
		if n := <-got; n != DefaultCompressedReadLimit {
			t.Fatalf("read %d bytes, want %d", n, DefaultCompressedReadLimit)
		}
		send(DefaultCompressedReadLimit>>20 + 1)
		cl.ExpectCloseNext(CloseMessageTooBig)
		if err := <-errc; err != ErrReadLimit {
			t.Fatalf("ReadMessage: %v, want ErrReadLimit", err)
		}
	})
}

// gorilla panics on the 1000th read after a failure ("repeated read on
// failed websocket connection"); here every read returns the same error.
func TestGorillaDiff_repeatedReadsAfterFailureReturnTheError(t *testing.T) {
	t.Parallel()
	result := make(chan error, 1)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		_, _, first := c.ReadMessage()
		for i := 0; i < 1500; i++ {
			_, _, err := c.ReadMessage()
			if i%2 == 1 {
				_, _, err = c.NextReader()
			}
			if err == nil || err.Error() != first.Error() {
				result <- fmt.Errorf("read %d after the failure: %v, want %v", i, err, first)
				return
			}
		}
		result <- first
	})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(CloseNormalClosure, "bye")))
	cl.ExpectClose(CloseNormalClosure)
	if err := <-result; !IsCloseError(err, CloseNormalClosure) {
		t.Fatal(err)
	}
}

// gorilla upgrades an HTTP/1.0 request; RFC 6455 §4.1 requires HTTP/1.1 or
// later, so here it gets 400 and Connection: close.
func TestGorillaDiff_http10Refused(t *testing.T) {
	t.Parallel()
	addr := serve(t, &Upgrader{}, func(c *Conn) { t.Error("an HTTP/1.0 request was upgraded") })
	req := wstest.BuildRequest("GET", "/", "HTTP/1.0", wstest.DefaultHeader(addr, wstest.NewKey()))
	resp := wstest.RawHandshake(t, addr, req)
	if resp.StatusCode != http.StatusBadRequest || !strings.EqualFold(resp.Header.Get("Connection"), "close") {
		t.Fatalf("got %q with Connection %q, want 400 and close", resp.StatusLine, resp.Header.Get("Connection"))
	}
}

// gorilla panics ("concurrent write to websocket connection") when two
// goroutines write at once; here the writes are serialized and every
// message arrives whole. A NextWriter stream held by one goroutine makes
// the others wait for its Close (TestNextWriter_waitsForAnotherGoroutinesWriter);
// a writer the same goroutine left open is closed by its next NextWriter,
// as in gorilla (TestNextWriter_closesThePreviousWriterOfTheSameGoroutine).
func TestGorillaDiff_concurrentWritesAreSerialized(t *testing.T) {
	t.Parallel()
	const writers, each = 4, 50
	addr := serve(t, &Upgrader{WriteBufferSize: 512}, func(c *Conn) {
		var wg sync.WaitGroup
		for g := 0; g < writers; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				msg := bytes.Repeat([]byte{byte('a' + g)}, 700) // more than one frame's buffer
				for i := 0; i < each; i++ {
					if g == 0 {
						w, err := c.NextWriter(BinaryMessage)
						if err != nil {
							t.Error(err)
							return
						}
						w.Write(msg[:350])
						w.Write(msg[350:])
						w.Close()
						continue
					}
					if err := c.WriteMessage(BinaryMessage, msg); err != nil {
						t.Error(err)
						return
					}
				}
			}(g)
		}
		wg.Wait()
	})
	cl := wstest.Dial(t, addr, "/", nil)
	for i := 0; i < writers*each; i++ {
		_, p := cl.ReadMessage()
		if len(p) != 700 || bytes.Count(p, p[:1]) != 700 {
			t.Fatalf("message %d interleaved: %d bytes, %q...", i, len(p), p[:min(len(p), 20)])
		}
	}
}

// gorilla's CloseError.Error prints the peer's reason raw; here it is
// quoted, so a peer cannot put newlines or terminal escapes into a log
// line. Text keeps the reason exactly as sent. Both sides: the server's
// read of a client's close, and a Dialer's read of a server's close.
func TestGorillaDiff_closeErrorQuotesTheReason(t *testing.T) {
	t.Parallel()
	const reason = "\n\x1b[31m"
	const want = `websocket: close 4000: "\n\x1b[31m"`
	check := func(side string, err error) {
		t.Helper()
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != 4000 || ce.Text != reason {
			t.Fatalf("%s: %v, want a *CloseError 4000 with the reason as sent", side, err)
		}
		if got := ce.Error(); got != want || strings.ContainsAny(got, "\n\x1b") {
			t.Fatalf("%s: Error() = %q, want %q", side, got, want)
		}
	}

	addr, errc := readUntilError(t, &Upgrader{})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(4000, reason)))
	cl.ExpectClose(4000)
	check("server", <-errc)

	addr = serve(t, &Upgrader{}, func(c *Conn) {
		c.WriteControl(CloseMessage, FormatCloseMessage(4000, reason), time.Time{})
		c.ReadMessage() // the client's answer
	})
	c, _, err := DefaultDialer.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _, err = c.ReadMessage()
	check("Dialer", err)
}
