package websocket

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hybi/websocket/internal/hixieclient"
	"github.com/hybi/websocket/internal/wstest"
)

// --- Framing ---

func TestHixie76_echoTextASCIIAndMultibyte(t *testing.T) {
	t.Parallel()
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true, ReadBufferSize: 256, WriteBufferSize: 256}, nil, nil)
	c := hixieDial(t, addr, hixieclient.Options{})
	big := strings.Repeat("aé€𝄞", 20000) // crosses every buffer, sequences cut everywhere
	for _, s := range []string{"hello", "", "héllo wörld ✓ 𝄞 日本語", big, "last"} {
		if err := c.WriteText(s); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadText()
		if err != nil || got != s {
			t.Fatalf("echo of %d bytes: got %d bytes, %v", len(s), len(got), err)
		}
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

func TestHixie76_pipelinedFramesAfterKey3(t *testing.T) {
	t.Parallel()
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true}, nil, nil)
	c := hixieDial(t, addr, hixieclient.Options{Pipelined: []byte("\x00one\xff\x00two\xff")})
	for _, want := range []string{"one", "two"} {
		if s, err := c.ReadText(); err != nil || s != want {
			t.Fatalf("got %q, %v; want %q", s, err, want)
		}
	}
}

func TestHixie76_skipsLengthFramesAndDropsOtherTypes(t *testing.T) {
	t.Parallel()
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true, ReadBufferSize: 256}, nil, nil)
	c := hixieDial(t, addr, hixieclient.Options{})
	var raw []byte
	raw = append(raw, 0x80, 0x00)                  // empty length frame
	raw = append(raw, 0x81, 0x03, 0xFF, 0x00, 'x') // payload that looks like a close and text
	raw = append(raw, 0xFE, 0x82, 0x00)            // 256 bytes, two length bytes
	raw = append(raw, bytes.Repeat([]byte{0xFF, 0x00}, 128)...)
	raw = append(raw, 0xFF, 0x01, 0x00)                     // 0xFF with a length is not a close
	raw = append(raw, 0x01, 'n', 'o', 0xFF)                 // low type other than 0x00: dropped
	raw = append(raw, 0x7F, 0xC3, 0x28, 0x80, 0xFF)         // dropped unvalidated
	raw = append(raw, 0x00, 'o', 'k', 0xFF)                 // delivered
	raw = append(raw, 0x80, 0x81, 0x80, 0x00)               // 16384 bytes follow
	raw = append(raw, bytes.Repeat([]byte{0xAA}, 16384)...) //
	raw = append(raw, "\x00é\xff"...)
	// In small pieces, so every state is crossed at a buffer boundary.
	for len(raw) > 0 {
		n := min(len(raw), 7)
		if err := c.WriteRaw(raw[:n]); err != nil {
			t.Fatal(err)
		}
		raw = raw[n:]
	}
	for _, want := range []string{"ok", "é"} {
		if s, err := c.ReadText(); err != nil || s != want {
			t.Fatalf("got %q, %v; want %q", s, err, want)
		}
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

// hixieReadErr serves one connection whose handler reads until an error,
// returning it on the channel along with the messages read.
func hixieReadErr(t *testing.T, u *Upgrader) (string, chan error, chan string) {
	t.Helper()
	u.EnableHixie76 = true
	errc, msgs := make(chan error, 1), make(chan string, 16)
	addr, _ := hixieServer(t, u, nil, func(c *Conn) {
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				errc <- err
				return
			}
			msgs <- string(p)
		}
	})
	return addr, errc, msgs
}

func TestHixie76_invalidUTF8ClosesTheConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, frame string }{
		{"invalid byte", "\x00ok \xc3\x28\xff"},
		{"surrogate", "\x00\xed\xa0\x80\xff"},
		{"sequence cut by the frame end", "\x00abc\xe2\x82\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, errc, _ := hixieReadErr(t, &Upgrader{})
			c := hixieDial(t, addr, hixieclient.Options{})
			c.WriteRaw([]byte(tc.frame + "\x00never\xff"))
			if err := c.ExpectClose(); err != nil {
				t.Error(err)
			}
			var pe *ProtocolError
			if err := <-errc; !errors.As(err, &pe) || pe.Code != CloseInvalidFramePayloadData {
				t.Errorf("server read %v, want a ProtocolError 1007", err)
			}
		})
	}
}

func TestHixie76_readLimit(t *testing.T) {
	t.Parallel()
	limited := func() *Upgrader { return &Upgrader{ReadLimit: 16, ReadBufferSize: 256} }
	for _, tc := range []struct {
		name string
		u    *Upgrader
		raw  []byte
		want error // ErrReadLimit, or nil for a ProtocolError
		msgs []string
	}{
		{"text over the limit", limited(), []byte("\x000123456789abcdef\xff\x000123456789abcdefg\xff"), ErrReadLimit, []string{"0123456789abcdef"}},
		{"text over the limit, 0xFF not yet sent", limited(), []byte("\x00" + strings.Repeat("x", 300)), ErrReadLimit, nil},
		{"dropped frame over the limit", limited(), []byte("\x05" + strings.Repeat("x", 17) + "\xff"), ErrReadLimit, nil},
		{"length frame over the limit", limited(), []byte{0x80, 0x11}, ErrReadLimit, nil},
		{"length accumulator over the limit", limited(), []byte{0x80, 0x81, 0x80, 0x80, 0x80}, ErrReadLimit, nil},
		{"length accumulator overflows without a limit", &Upgrader{ReadLimit: -1}, bytes.Repeat([]byte{0xFF}, 12), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, errc, msgs := hixieReadErr(t, tc.u)
			c := hixieDial(t, addr, hixieclient.Options{})
			c.WriteRaw(tc.raw)
			if err := c.ExpectClose(); err != nil {
				t.Error(err)
			}
			err := <-errc
			var pe *ProtocolError
			if tc.want != nil && err != tc.want || tc.want == nil && !errors.As(err, &pe) {
				t.Errorf("server read %v, want %v", err, tc.want)
			}
			close(msgs)
			var got []string
			for m := range msgs {
				got = append(got, m)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.msgs) {
				t.Errorf("messages %q, want %q", got, tc.msgs)
			}
		})
	}
}

// --- Closing ---

func TestHixie76_clientCloses(t *testing.T) {
	t.Parallel()
	addr, errc, msgs := hixieReadErr(t, &Upgrader{})
	c := hixieDial(t, addr, hixieclient.Options{})
	// Bytes after the closing frame are discarded.
	c.WriteRaw([]byte("\x00bye\xff\xff\x00\x00ignored\xff"))
	if err := c.ExpectClose(); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	if !IsCloseError(err, CloseNoStatusReceived) {
		t.Errorf("server read %v, want a CloseError %d", err, CloseNoStatusReceived)
	}
	if m := <-msgs; m != "bye" {
		t.Errorf("message %q", m)
	}
}

func TestHixie76_closeHandlerRuns(t *testing.T) {
	t.Parallel()
	called := make(chan int, 1)
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true}, nil, func(c *Conn) {
		c.SetCloseHandler(func(code int, text string) error {
			called <- code
			return nil // sends nothing: the hixie-76 close is answered anyway
		})
		hixieEcho(c)
	})
	c := hixieDial(t, addr, hixieclient.Options{})
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if code := <-called; code != CloseNoStatusReceived {
		t.Errorf("close handler got %d", code)
	}
}

func TestHixie76_serverCloseHandshake(t *testing.T) {
	t.Parallel()
	res := make(chan error, 1)
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true}, nil, func(c *Conn) {
		c.WriteMessage(TextMessage, []byte("going"))
		res <- c.CloseHandshake(CloseGoingAway, "bye")
		if err := c.WriteMessage(TextMessage, []byte("late")); err == nil {
			t.Error("write after CloseHandshake succeeded")
		}
	})
	c := hixieDial(t, addr, hixieclient.Options{})
	if s, err := c.ReadText(); err != nil || s != "going" {
		t.Fatalf("got %q, %v", s, err)
	}
	c.WriteText("in flight") // discarded by CloseHandshake
	if typ, p, err := c.ReadFrame(); err != nil || typ != 0xFF || len(p) != 0 {
		t.Fatalf("got %#x %q %v, want 0xFF 0x00", typ, p, err)
	}
	c.WriteClose()
	if err := c.ExpectEOF(); err != nil {
		t.Error(err)
	}
	if err := <-res; err != nil {
		t.Errorf("CloseHandshake: %v", err)
	}
}

func TestHixie76_serverCloseHandshake_peerSilent(t *testing.T) {
	t.Parallel()
	res := make(chan error, 1)
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true, CloseTimeout: 200 * time.Millisecond}, nil, func(c *Conn) {
		res <- c.CloseHandshake(CloseNormalClosure, "")
	})
	c := hixieDial(t, addr, hixieclient.Options{})
	if typ, p, err := c.ReadFrame(); err != nil || typ != 0xFF || len(p) != 0 {
		t.Fatalf("got %#x %q %v, want 0xFF 0x00", typ, p, err)
	}
	if err := c.ExpectEOF(); err != nil {
		t.Error(err)
	}
	if err := <-res; err == nil {
		t.Error("CloseHandshake returned nil though the peer never answered")
	}
}

// TestHixie76_closeWhileStreaming closes while a NextWriter frame is open
// on the wire: the frame is ended with 0xFF before 0xFF 0x00, and holds
// only whole UTF-8 sequences.
func TestHixie76_closeWhileStreaming(t *testing.T) {
	t.Parallel()
	res := make(chan error, 2)
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true, WriteBufferSize: 256}, nil, func(c *Conn) {
		w, err := c.NextWriter(TextMessage)
		if err != nil {
			res <- err
			return
		}
		w.Write([]byte(strings.Repeat("é", 150) + "\xe2\x82")) // direct write, "€" cut in two
		res <- c.CloseHandshake(CloseNormalClosure, "")
		if _, err = w.Write([]byte("\xac more")); err == nil {
			err = w.Close()
		}
		res <- err
	})
	c := hixieDial(t, addr, hixieclient.Options{})
	if s, err := c.ReadText(); err != nil || s != strings.Repeat("é", 150) {
		t.Fatalf("got %q, %v", s, err)
	}
	if typ, _, err := c.ReadFrame(); err != nil || typ != 0xFF {
		t.Fatalf("got %#x, %v; want the closing frame", typ, err)
	}
	c.WriteClose()
	if err := <-res; err != nil {
		t.Errorf("CloseHandshake: %v", err)
	}
	if err := <-res; err == nil {
		t.Error("Write after the close succeeded")
	}
}

// --- Writing ---

func TestHixie76_writesRefusedAndNothingSent(t *testing.T) {
	t.Parallel()
	res := make(chan string, 1)
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true}, nil, func(c *Conn) {
		var bad []string
		check := func(name string, err error, want error) {
			if !errors.Is(err, want) {
				bad = append(bad, fmt.Sprintf("%s: %v, want %v", name, err, want))
			}
		}
		check("WriteMessage(Binary)", c.WriteMessage(BinaryMessage, []byte("b")), ErrUnsupportedMessage)
		check("WriteMessage(Ping)", c.WriteMessage(PingMessage, nil), ErrUnsupportedMessage)
		check("WriteControl(Pong)", c.WriteControl(PongMessage, nil, time.Now().Add(time.Second)), ErrUnsupportedMessage)
		_, err := c.NextWriter(BinaryMessage)
		check("NextWriter(Binary)", err, ErrUnsupportedMessage)
		pm, _ := NewPreparedMessage(BinaryMessage, []byte("b"))
		check("WritePreparedMessage(Binary)", c.WritePreparedMessage(pm), ErrUnsupportedMessage)
		check("WriteMessage(invalid UTF-8)", c.WriteMessage(TextMessage, []byte("a\xffb")), errHixieInvalidUTF8)
		check("WriteMessage(cut UTF-8)", c.WriteMessage(TextMessage, []byte("a\xc3")), errHixieInvalidUTF8)
		pm, _ = NewPreparedMessage(TextMessage, []byte{0xC3})
		check("WritePreparedMessage(invalid UTF-8)", c.WritePreparedMessage(pm), errHixieInvalidUTF8)
		w, _ := c.NextWriter(TextMessage)
		w.Write([]byte("\xc3"))
		check("NextWriter invalid UTF-8 at Close", w.Close(), errHixieInvalidUTF8)
		c.WriteMessage(TextMessage, []byte("only this"))
		res <- strings.Join(bad, "\n")
		hixieEcho(c)
	})
	c := hixieDial(t, addr, hixieclient.Options{})
	if s, err := c.ReadText(); err != nil || s != "only this" {
		t.Errorf("first frame %q, %v; want nothing sent before \"only this\"", s, err)
	}
	if bad := <-res; bad != "" {
		t.Error(bad)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

func TestHixie76_nextWriterStreamsWholeSequences(t *testing.T) {
	t.Parallel()
	msg := strings.Repeat("a€𝄞é", 500)
	res := make(chan error, 4)
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true, WriteBufferSize: 256}, nil, func(c *Conn) {
		// In 7-byte pieces (buffered), then one large piece (direct).
		w, _ := c.NextWriter(TextMessage)
		b := []byte(msg)
		for len(b) > 0 {
			n := min(7, len(b))
			if _, err := w.Write(b[:n]); err != nil {
				res <- err
				return
			}
			b = b[n:]
		}
		res <- w.Close()
		w, _ = c.NextWriter(TextMessage)
		w.Write([]byte(msg[:1]))
		w.Write([]byte(msg[1:]))
		res <- w.Close()
		// io.Copy goes through ReadFrom.
		w, _ = c.NextWriter(TextMessage)
		io.Copy(w, struct{ io.Reader }{strings.NewReader(msg)}) // hide WriteTo
		res <- w.Close()
		// Invalid UTF-8 mid-stream: the frame ends with what was valid.
		w, _ = c.NextWriter(TextMessage)
		w.Write([]byte(strings.Repeat("x", 300)))
		_, err := w.Write([]byte(strings.Repeat("y", 300) + "\xff"))
		if !errors.Is(err, errHixieInvalidUTF8) {
			res <- fmt.Errorf("invalid write: %v", err)
		}
		c.WriteMessage(TextMessage, []byte("after"))
		hixieEcho(c)
	})
	c := hixieDial(t, addr, hixieclient.Options{})
	for i := 0; i < 3; i++ {
		if s, err := c.ReadText(); err != nil || s != msg {
			t.Fatalf("message %d: %d bytes, %v; want %d", i, len(s), err, len(msg))
		}
		if err := <-res; err != nil {
			t.Fatal(err)
		}
	}
	if s, err := c.ReadText(); err != nil || !strings.HasPrefix(s, strings.Repeat("x", 300)) || !utf8.ValidString(s) || strings.Contains(s, "\xff") {
		t.Errorf("aborted message %q, %v", s, err)
	}
	if s, err := c.ReadText(); err != nil || s != "after" {
		t.Errorf("got %q, %v; want \"after\"", s, err)
	}
	select {
	case err := <-res:
		t.Error(err)
	default:
	}
}

func TestHixie76_preparedMessage(t *testing.T) {
	t.Parallel()
	pm, err := NewPreparedMessage(TextMessage, []byte("broadcast ✓"))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true}, nil, func(c *Conn) {
		if err := c.WritePreparedMessage(pm); err != nil {
			t.Error(err)
		}
		hixieEcho(c)
	})
	// Hixie-76 and RFC 6455 conns share the PreparedMessage, concurrently.
	var clients []*hixieclient.Client
	for i := 0; i < 4; i++ {
		clients = append(clients, hixieDial(t, addr, hixieclient.Options{}))
	}
	r := wstest.Dial(t, addr, "/", nil)
	r.ExpectMessage(wstest.OpText, []byte("broadcast ✓"))
	for _, c := range clients {
		if s, err := c.ReadText(); err != nil || s != "broadcast ✓" {
			t.Errorf("got %q, %v", s, err)
		}
		c.Close()
	}
}

func TestHixie76_concurrentWritersNeverInterleave(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 8, 40
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true, WriteBufferSize: 256}, nil, func(c *Conn) {
		var wg sync.WaitGroup
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < perWriter; j++ {
					msg := strings.Repeat(fmt.Sprintf("%d-%d é ", i, j), 20+j*5)
					var err error
					switch j % 3 {
					case 0:
						err = c.WriteMessage(TextMessage, []byte(msg))
					case 1:
						var w io.WriteCloser
						if w, err = c.NextWriter(TextMessage); err == nil {
							for k := 0; k < len(msg); k += 50 {
								w.Write([]byte(msg[k:min(k+50, len(msg))]))
							}
							err = w.Close()
						}
					case 2:
						var pm *PreparedMessage
						pm, _ = NewPreparedMessage(TextMessage, []byte(msg))
						err = c.WritePreparedMessage(pm)
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		hixieEcho(c)
	})
	c := hixieDial(t, addr, hixieclient.Options{})
	seen := map[string]bool{}
	for n := 0; n < writers*perWriter; n++ {
		s, err := c.ReadText()
		if err != nil {
			t.Fatal(err)
		}
		var i, j int
		if _, err := fmt.Sscanf(s, "%d-%d", &i, &j); err != nil || s != strings.Repeat(fmt.Sprintf("%d-%d é ", i, j), 20+j*5) {
			t.Fatalf("mangled message %q", s)
		}
		seen[s[:strings.IndexByte(s, ' ')]] = true
	}
	if len(seen) != writers*perWriter {
		t.Errorf("%d distinct messages", len(seen))
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

func TestHixie76_nextReaderStreamsAndDiscards(t *testing.T) {
	t.Parallel()
	res := make(chan string, 4)
	addr, _ := hixieServer(t, &Upgrader{EnableHixie76: true, ReadBufferSize: 256}, nil, func(c *Conn) {
		mt, r, err := c.NextReader()
		if err != nil || mt != TextMessage {
			res <- fmt.Sprint("NextReader: ", mt, err)
			return
		}
		p := make([]byte, 3)
		n, _ := io.ReadFull(r, p)
		res <- string(p[:n])
		// The rest of the first message is discarded.
		_, r2, err := c.NextReader()
		if err != nil {
			res <- err.Error()
			return
		}
		if _, err := r.Read(p); err != ErrReaderReplaced {
			res <- fmt.Sprint("stale reader: ", err)
		}
		b, err := io.ReadAll(r2)
		res <- fmt.Sprint(string(b), err)
		hixieEcho(c)
	})
	c := hixieDial(t, addr, hixieclient.Options{})
	c.WriteText("abcdef" + strings.Repeat("é", 300))
	c.WriteText("second")
	for _, want := range []string{"abc", "second<nil>"} {
		if got := <-res; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

// hixieFuzzConn is a net.Conn whose reads end at once and whose writes
// vanish: a Conn built on it reads only its pending bytes.
type hixieFuzzConn struct{}

func (hixieFuzzConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (hixieFuzzConn) Write(b []byte) (int, error)      { return len(b), nil }
func (hixieFuzzConn) Close() error                     { return nil }
func (hixieFuzzConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (hixieFuzzConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (hixieFuzzConn) SetDeadline(time.Time) error      { return nil }
func (hixieFuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (hixieFuzzConn) SetWriteDeadline(time.Time) error { return nil }

// hixieModel reads in as draft-76 §5.3 describes, naively: the messages a
// server delivers, and how the stream ends ("close", "eof", "utf8" or
// "limit").
func hixieModel(in []byte, limit int) (msgs []string, end string) {
	i := 0
	for {
		if i >= len(in) {
			return msgs, "eof"
		}
		t := in[i]
		i++
		if t&0x80 != 0 {
			n := 0
			for {
				if i >= len(in) {
					return msgs, "eof"
				}
				b := in[i]
				i++
				n = n*128 + int(b&0x7F)
				if n > limit {
					return msgs, "limit"
				}
				if b&0x80 == 0 {
					break
				}
			}
			if t == 0xFF && n == 0 {
				return msgs, "close"
			}
			if len(in)-i < n {
				return msgs, "eof"
			}
			i += n
			continue
		}
		j := bytes.IndexByte(in[i:], 0xFF)
		body := in[i:]
		if j >= 0 {
			body = in[i : i+j]
		}
		if len(body) > limit {
			return msgs, "limit"
		}
		if t == 0x00 {
			if j < 0 {
				if !hixieCanComplete(body) {
					return msgs, "utf8"
				}
				return msgs, "eof"
			}
			if !utf8.Valid(body) {
				return msgs, "utf8"
			}
			msgs = append(msgs, string(body))
		}
		if j < 0 {
			return msgs, "eof"
		}
		i += j + 1
	}
}

// hixieCanComplete reports whether some bytes appended to b make it valid
// UTF-8, by brute force over the boundary continuation bytes.
func hixieCanComplete(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	cands := []byte{0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF}
	var try func(b []byte, depth int) bool
	try = func(b []byte, depth int) bool {
		if utf8.Valid(b) {
			return true
		}
		if depth == 0 {
			return false
		}
		for _, c := range cands {
			if try(append(b[:len(b):len(b)], c), depth-1) {
				return true
			}
		}
		return false
	}
	return try(b, 3)
}

// FuzzHixieFrame feeds bytes to a hixie-76 Conn and compares what it reads
// with hixieModel.
func FuzzHixieFrame(f *testing.F) {
	f.Add([]byte("\x00hello\xff\x00é\xff\xff\x00"))
	f.Add([]byte("\x80\x03abc\x01x\xff\x00ok\xff"))
	f.Add([]byte("\x00\xc3\x28\xff"))
	f.Add([]byte("\x81\x81\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 64
		c := newConn(hixieFuzzConn{}, connConfig{readLimit: limit, readBufferSize: 256}, in)
		c.fr = new(hixie76)
		var got []string
		var err error
		for {
			var p []byte
			_, p, err = c.ReadMessage()
			if err != nil {
				break
			}
			got = append(got, string(p))
		}
		var end string
		var pe *ProtocolError
		switch {
		case IsCloseError(err, CloseNoStatusReceived):
			end = "close"
		case IsCloseError(err, CloseAbnormalClosure):
			end = "eof"
		case err == ErrReadLimit:
			end = "limit"
		case errors.As(err, &pe) && pe.Code == CloseInvalidFramePayloadData:
			end = "utf8"
		default:
			t.Fatalf("unexpected error %v", err)
		}
		wantMsgs, wantEnd := hixieModel(in, limit)
		if end != wantEnd || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", wantMsgs) {
			t.Fatalf("input %q:\nread %q, end %s\nwant %q, end %s", in, got, end, wantMsgs, wantEnd)
		}
	})
}
