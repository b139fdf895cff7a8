package websocket

import (
	"bufio"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// countingConn counts the Write calls that reach the socket.
type countingConn struct {
	net.Conn
	writes atomic.Int32
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

func clientFrame(op byte, payload string) []byte {
	key := [4]byte{9, 8, 7, 6}
	b := appendHeader(nil, true, 0, op, len(payload), true, key)
	n := len(b)
	b = append(b, payload...)
	mask(key, 0, b[n:])
	return b
}

// pipeConn returns a server Conn over net.Pipe, its write counter, and the
// client's end.
func pipeConn(t *testing.T) (*Conn, *countingConn, net.Conn) {
	server, client := net.Pipe()
	cc := &countingConn{Conn: server}
	c := newConn(cc, connConfig{}, nil)
	t.Cleanup(func() { c.Close(); client.Close() })
	return c, cc, client
}

// readFrames reads n unmasked frames and returns their payloads.
func readFrames(t *testing.T, br *bufio.Reader, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		var hb [2]byte
		if _, err := io.ReadFull(br, hb[:]); err != nil {
			t.Fatal(err)
		}
		p := make([]byte, hb[1]&0x7f)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(p))
	}
	return out
}

// The answers to messages that arrived in one read leave in one write.
func TestCoalesce_pipelinedAnswersShareOneWrite(t *testing.T) {
	t.Parallel()
	c, cc, client := pipeConn(t)
	var batch []byte
	for i := 0; i < 8; i++ {
		batch = append(batch, clientFrame(opText, string(rune('a'+i)))...)
	}
	go client.Write(batch)
	got := make(chan []string, 1)
	go func() { got <- readFrames(t, bufio.NewReader(client), 8) }()
	for i := 0; i < 8; i++ {
		mt, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(mt, p); err != nil {
			t.Fatal(err)
		}
	}
	if want := "abcdefgh"; join(<-got) != want {
		t.Fatalf("echoes out of order or lost")
	}
	// net.Pipe has no writev: held frames and the last answer are two
	// Write calls, against eight without coalescing.
	if n := cc.writes.Load(); n > 2 {
		t.Fatalf("%d writes for 8 pipelined answers", n)
	}
}

func join(s []string) (out string) {
	for _, x := range s {
		out += x
	}
	return out
}

// A lone message is written at once, and an answer held back for a
// handler that then stops reading goes out within coalesceDelay.
func TestCoalesce_neverStrandsAnAnswer(t *testing.T) {
	t.Parallel()
	c, cc, client := pipeConn(t)
	br := bufio.NewReader(client)
	go client.Write(clientFrame(opText, "lone"))
	mt, p, _ := c.ReadMessage()
	done := make(chan struct{})
	go func() { readFrames(t, br, 1); close(done) }()
	c.WriteMessage(mt, p)
	if cc.writes.Load() != 1 {
		t.Fatalf("lone answer not written at once")
	}
	<-done

	go client.Write(append(clientFrame(opText, "one"), clientFrame(opText, "two")...))
	mt, p, _ = c.ReadMessage() // "two" stays buffered: "one" is held
	start := time.Now()
	got := make(chan []string, 1)
	go func() { got <- readFrames(t, br, 1) }()
	c.WriteMessage(mt, p)
	select {
	case s := <-got:
		if s[0] != "one" {
			t.Fatalf("got %q", s)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("held answer took %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("held answer never written")
	}
}

// Close writes a held answer before it closes the socket.
func TestCoalesce_closeWritesHeldAnswer(t *testing.T) {
	t.Parallel()
	c, _, client := pipeConn(t)
	br := bufio.NewReader(client)
	go client.Write(append(clientFrame(opText, "one"), clientFrame(opText, "two")...))
	mt, p, _ := c.ReadMessage() // "two" stays buffered: "one" is held
	got := make(chan []string, 1)
	go func() { got <- readFrames(t, br, 1) }()
	c.WriteMessage(mt, p)
	c.Close()
	select {
	case s := <-got:
		if s[0] != "one" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("held answer lost on Close")
	}
}

// WritePreparedMessages sends a batch in order, in one write where the
// socket has writev, and falls back per message for control messages.
func TestWritePreparedMessages_batchInOrder(t *testing.T) {
	t.Parallel()
	result := make(chan error, 1)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		var batch []*PreparedMessage
		for _, s := range []string{"one", "two", "three"} {
			pm, _ := NewPreparedMessage(TextMessage, []byte(s))
			batch = append(batch, pm)
		}
		ping, _ := NewPreparedMessage(PingMessage, []byte("p"))
		err := c.WritePreparedMessages(batch...)
		if err == nil {
			err = c.WritePreparedMessages(append(batch[:1:1], ping, batch[2])...)
		}
		result <- err
		c.ReadMessage()
	})
	cl := wstest.Dial(t, addr, "/", nil)
	for _, want := range []string{"one", "two", "three", "one"} {
		cl.ExpectMessage(wstest.OpText, []byte(want))
	}
	if op, p := cl.ReadMessage(); op != wstest.OpPing || string(p) != "p" {
		t.Fatalf("got %#x %q, want the ping", op, p)
	}
	cl.ExpectMessage(wstest.OpText, []byte("three"))
	if err := <-result; err != nil {
		t.Fatal(err)
	}
}
