package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/hixieclient"
	"github.com/hybi/websocket/internal/wstest"
)

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func prepared(t testing.TB, messageType int, s string) *PreparedMessage {
	t.Helper()
	pm, err := NewPreparedMessage(messageType, []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

// Messages queued while the connection is busy wait in the queue, then
// all go out in order; the queue's goroutine ends once it is empty.
func TestQueue_messagesQueuedWhileBusyGoOutInOrder(t *testing.T) {
	t.Parallel()
	const n = 200
	done := make(chan error, 1)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		err := func() error {
			w, err := c.NextWriter(TextMessage) // holds the message slot
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				if err := c.QueuePreparedMessage(prepared(t, TextMessage, fmt.Sprint(i))); err != nil {
					return err
				}
				if i == 0 { // let the writer goroutine take it and wait for the slot
					for c.QueueLen() != 0 {
						time.Sleep(time.Millisecond)
					}
				}
			}
			if got := c.QueueLen(); got != n-1 {
				return fmt.Errorf("QueueLen = %d while the slot is held, want %d", got, n-1)
			}
			if _, err := w.Write([]byte("first")); err != nil {
				return err
			}
			return w.Close()
		}()
		if done <- err; err == nil {
			c.ReadMessage()
		}
	})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.ExpectMessage(wstest.OpText, []byte("first"))
	for i := 0; i < n; i++ {
		cl.ExpectMessage(wstest.OpText, []byte(fmt.Sprint(i)))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A full queue refuses the message with ErrQueueFull and keeps the
// connection usable; the refused message is not sent.
func TestQueue_fullQueueRefuses(t *testing.T) {
	t.Parallel()
	done := make(chan error, 1)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		done <- func() error {
			c.SetQueueLimit(3)
			w, err := c.NextWriter(BinaryMessage)
			if err != nil {
				return err
			}
			if err := c.QueuePreparedMessage(prepared(t, TextMessage, "a")); err != nil {
				return err
			}
			// Wait until the writer goroutine has taken "a" out of the queue.
			for c.QueueLen() != 0 {
				time.Sleep(time.Millisecond)
			}
			for _, s := range []string{"b", "c", "d"} {
				if err := c.QueuePreparedMessage(prepared(t, TextMessage, s)); err != nil {
					return err
				}
			}
			if err := c.QueuePreparedMessage(prepared(t, TextMessage, "e")); !errors.Is(err, ErrQueueFull) {
				return fmt.Errorf("fourth queued message: err = %v, want ErrQueueFull", err)
			}
			if err := w.Close(); err != nil {
				return err
			}
			for c.QueueLen() != 0 {
				time.Sleep(time.Millisecond)
			}
			return c.QueuePreparedMessage(prepared(t, TextMessage, "f"))
		}()
		c.ReadMessage()
	})
	cl := wstest.Dial(t, addr, "/", nil)
	cl.ExpectMessage(wstest.OpBinary, nil)
	for _, s := range []string{"a", "b", "c", "d", "f"} {
		cl.ExpectMessage(wstest.OpText, []byte(s))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Once a queued write fails, the queue reports that error for good, as a
// *net.OpError, and drops what was waiting.
func TestQueue_writeErrorIsSticky(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"pipe", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			var server, client net.Conn
			if transport == "pipe" {
				server, client = net.Pipe()
			} else {
				server, client = tcpPair(t)
				client.(*net.TCPConn).SetLinger(0) // reset, not FIN
			}
			c := newConn(server, connConfig{}, nil)
			defer c.Close()
			client.Close()
			pm := prepared(t, TextMessage, "x")
			var err error
			waitFor(t, "the failed write to show", func() bool {
				err = c.QueuePreparedMessage(pm)
				return err != nil
			})
			var opErr *net.OpError
			if transport == "tcp" && (!errors.As(err, &opErr) || opErr.Op != "write") {
				t.Fatalf("err = %#v, want a *net.OpError from a write", err)
			}
			if err2 := c.QueuePreparedMessage(pm); err2 != err {
				t.Fatalf("later call: %v, want the same %v", err2, err)
			}
			if n := c.QueueLen(); n != 0 {
				t.Fatalf("QueueLen = %d after the failure, want 0 (dropped)", n)
			}
			if err := c.WriteMessage(TextMessage, []byte("y")); err == nil {
				t.Fatal("WriteMessage after the queue's write failed: no error")
			}
		})
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if server, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// A peer that never reads: the queue's writer (on TCP, the shared worker
// hands the unwritten rest of its writev to a goroutine that may block)
// ends when the connection is closed, and at the write deadline; leakcheck
// in TestMain catches a goroutine left behind. What was queued before the
// stall is delivered in order once the peer reads.
func TestQueue_peerThatNeverReads(t *testing.T) {
	t.Parallel()
	big := prepared(t, BinaryMessage, string(make([]byte, 4<<20)))
	for _, transport := range []string{"pipe", "tcp"} {
		for _, how := range []string{"close", "deadline"} {
			t.Run(transport+"/"+how, func(t *testing.T) {
				var server, client net.Conn
				if transport == "pipe" {
					server, client = net.Pipe() // unbuffered: nothing is read
					defer client.Close()
				} else {
					server, _ = tcpPair(t) // the client never reads
				}
				c := newConn(server, connConfig{}, nil)
				if how == "deadline" {
					c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				}
				for i := 0; i < 3; i++ {
					if err := c.QueuePreparedMessage(big); err != nil {
						t.Fatal(err)
					}
				}
				if how == "close" {
					time.Sleep(50 * time.Millisecond)
					c.Close()
				}
				var err error
				waitFor(t, "the queued write to fail", func() bool {
					err = c.QueuePreparedMessage(big)
					return err != nil
				})
				if how == "deadline" && !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("err = %v, want a deadline error", err)
				}
				c.Close()
			})
		}
	}
}

// On TCP, the shared workers' writev: many messages queued on a slow
// reader's connection all arrive in order, byte for byte, whatever part
// of them each writev got through.
func TestQueue_tcpSlowReaderGetsEverythingInOrder(t *testing.T) {
	t.Parallel()
	server, client := tcpPair(t)
	c := newConn(server, connConfig{}, nil)
	defer c.Close()
	const n = 300
	want := make([][]byte, n)
	go func() {
		for i := range want {
			p := bytes.Repeat([]byte{byte(i)}, 1+i*997%70000)
			pm, _ := NewPreparedMessage(BinaryMessage, p)
			for {
				err := c.QueuePreparedMessage(pm)
				if err == nil {
					break
				}
				if !errors.Is(err, ErrQueueFull) {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for i := range want {
		want[i] = bytes.Repeat([]byte{byte(i)}, 1+i*997%70000)
	}
	c.SetQueueLimit(16)
	br := bufio.NewReaderSize(client, 512)
	for i := 0; i < n; i++ {
		if i%50 == 0 {
			time.Sleep(20 * time.Millisecond) // let the socket fill up
		}
		f, err := wstest.ReadFrameFrom(br)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if f.Opcode != wstest.OpBinary || !f.Fin || !bytes.Equal(f.Payload, want[i]) {
			t.Fatalf("message %d: opcode %d fin %v, %d bytes; want %d bytes of %d", i, f.Opcode, f.Fin, len(f.Payload), len(want[i]), byte(i))
		}
	}
}

// Many goroutines queue at once: each one's messages arrive in its order,
// none lost (run with -race).
func TestQueue_concurrentQueuersKeepTheirOrder(t *testing.T) {
	t.Parallel()
	const senders, each = 8, 100
	done := make(chan error, 1)
	addr := serve(t, &Upgrader{}, func(c *Conn) {
		var wg sync.WaitGroup
		errs := make(chan error, senders)
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					pm := prepared(t, TextMessage, fmt.Sprintf("%d:%d", s, i))
					for {
						err := c.QueuePreparedMessage(pm)
						if err == nil {
							break
						}
						if !errors.Is(err, ErrQueueFull) {
							errs <- err
							return
						}
						time.Sleep(time.Millisecond)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		done <- <-errs
		c.ReadMessage()
	})
	cl := wstest.Dial(t, addr, "/", nil)
	next := make([]int, senders)
	for k := 0; k < senders*each; k++ {
		_, p := cl.ReadMessage()
		var s, i int
		if _, err := fmt.Sscanf(string(p), "%d:%d", &s, &i); err != nil || s < 0 || s >= senders {
			t.Fatalf("message %q", p)
		}
		if i != next[s] {
			t.Fatalf("sender %d: got message %d, want %d", s, i, next[s])
		}
		next[s]++
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The queue works on hixie-76 connections too (one write per message).
func TestQueue_hixie76(t *testing.T) {
	t.Parallel()
	addr := serve(t, &Upgrader{EnableHixie76: true}, func(c *Conn) {
		for _, s := range []string{"one", "two"} {
			if err := c.QueuePreparedMessage(prepared(t, TextMessage, s)); err != nil {
				t.Error(err)
			}
		}
		c.ReadMessage()
	})
	cl := hixieDial(t, addr, hixieclient.Options{})
	for _, want := range []string{"one", "two"} {
		got, err := cl.ReadText()
		if err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
}

// After a burst, an idle connection keeps none of the queue's grown
// slices; a nil message is refused, not queued.
func TestQueue_idleAfterBurstKeepsNothing(t *testing.T) {
	t.Parallel()
	server, client := tcpPair(t)
	go io.Copy(io.Discard, client)
	c := newConn(server, connConfig{}, nil)
	defer c.Close()
	if err := c.QueuePreparedMessage(nil); err == nil {
		t.Fatal("nil message queued")
	}
	w, err := c.NextWriter(BinaryMessage) // the burst piles up behind it
	if err != nil {
		t.Fatal(err)
	}
	pm := prepared(t, TextMessage, "x")
	for i := 0; i < 1000; i++ {
		if err := c.QueuePreparedMessage(pm); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	q := c.queue.Load()
	waitFor(t, "the queue to drain", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return !q.running && len(q.msgs) == 0
	})
	q.mu.Lock()
	defer q.mu.Unlock()
	if cap(q.msgs) > keptQueueCap || cap(q.spare) > keptQueueCap || cap(q.frames) > keptQueueCap {
		t.Fatalf("idle queue keeps slices of capacity %d, %d, %d", cap(q.msgs), cap(q.spare), cap(q.frames))
	}
}

// Queued messages on a permessage-deflate connection go out compressed
// (once per PreparedMessage and level) and arrive intact, in order, with
// and without context takeover.
func TestQueue_permessageDeflate(t *testing.T) {
	t.Parallel()
	for _, takeover := range []bool{false, true} {
		t.Run(fmt.Sprint("takeover=", takeover), func(t *testing.T) {
			const n = 200
			msgs := make([][]byte, n)
			for i := range msgs {
				msgs[i] = bytes.Repeat([]byte(fmt.Sprintf("message %d, compressible; ", i)), 20+i%7)
			}
			u := &Upgrader{EnableCompression: true, CompressionContextTakeover: takeover}
			addr := serve(t, u, func(c *Conn) {
				for _, m := range msgs {
					pm, _ := NewPreparedMessage(TextMessage, m)
					for c.QueuePreparedMessage(pm) == ErrQueueFull {
						time.Sleep(time.Millisecond)
					}
				}
				c.ReadMessage()
			})
			d := Dialer{EnableCompression: true}
			c, resp, err := d.Dial("ws://"+addr+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if !strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
				t.Fatalf("permessage-deflate not negotiated: %q", resp.Header.Get("Sec-WebSocket-Extensions"))
			}
			for i, want := range msgs {
				mt, got, err := c.ReadMessage()
				if err != nil || mt != TextMessage || !bytes.Equal(got, want) {
					t.Fatalf("message %d: type %d, %d bytes, %v", i, mt, len(got), err)
				}
			}
		})
	}
}
