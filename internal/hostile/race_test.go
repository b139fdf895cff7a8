package hostile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/leakcheck"
	"github.com/hybi/websocket/internal/wstest"
)

// expectedEndErr reports whether err is one a write may return once the
// connection is closing: nil, ErrCloseSent, a closed socket, or the peer's
// end of the TCP connection.
func expectedEndErr(err error) bool {
	return err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// Concurrent writers (WriteMessage, NextWriter, WritePreparedMessage),
// WriteControl, handler replacement, the reader, CloseHandshake and Close
// all racing on one connection, many times over, under the race detector.
// The client checks that messages never interleave and arrive in order per
// writer; every call returns nil or an error that says the connection is
// closing; nothing panics or leaks.
func TestRace_writersControlCloseHandshakeHandlers(t *testing.T) {
	leakcheck.Check(t)
	const iterations, perWriter = 30, 40
	for it := 0; it < iterations; it++ {
		useClose := it%3 == 2 // otherwise CloseHandshake
		errs := make(chan error, 16)
		handle := func(c *websocket.Conn) error {
			pm, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte("prepared"))
			if err != nil {
				return err
			}
			var wg sync.WaitGroup
			run := func(name string, f func() error) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := f(); !expectedEndErr(err) {
						errs <- fmt.Errorf("%s: %w", name, err)
					}
				}()
			}
			run("WriteMessage", func() error {
				for i := 0; i < perWriter; i++ {
					if err := c.WriteMessage(websocket.TextMessage, []byte("w"+strconv.Itoa(i))); err != nil {
						return err
					}
				}
				return nil
			})
			run("NextWriter", func() error {
				for i := 0; i < perWriter; i++ {
					w, err := c.NextWriter(websocket.BinaryMessage)
					if err != nil {
						return err
					}
					for part := 0; part < 3; part++ {
						if _, err := w.Write(bytes.Repeat([]byte{byte('0' + part)}, 3000)); err != nil {
							w.Close()
							return err
						}
					}
					if err := w.Close(); err != nil {
						return err
					}
				}
				return nil
			})
			run("WritePreparedMessage", func() error {
				for i := 0; i < perWriter; i++ {
					if err := c.WritePreparedMessage(pm); err != nil {
						return err
					}
				}
				return nil
			})
			run("WriteControl", func() error {
				for i := 0; i < perWriter; i++ {
					if err := c.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)); err != nil {
						return err
					}
				}
				return nil
			})
			run("handlers", func() error {
				for i := 0; i < perWriter; i++ {
					c.SetPongHandler(func(string) error { return nil })
					c.SetPingHandler(nil)
					c.SetCloseHandler(nil)
					_ = c.PingHandler()
					_ = c.CloseHandler()
					c.SetPongHandler(nil)
				}
				return nil
			})
			run("reader", func() error {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						if websocket.IsCloseError(err, 1000) || expectedEndErr(err) {
							return nil
						}
						// A ReadMessage that starts while CloseHandshake reads
						// the peer's close waits for it: never ErrConcurrentRead.
						return err
					}
				}
			})
			time.Sleep(time.Duration(it%5) * time.Millisecond)
			if useClose {
				run("Close", c.Close)
			} else {
				run("CloseHandshake", func() error {
					err := c.CloseHandshake(websocket.CloseNormalClosure, "done")
					if err != nil && !expectedEndErr(err) && !websocket.IsCloseError(err, 1000) {
						return err
					}
					return nil
				})
			}
			wg.Wait()
			return nil
		}
		s := startServer(t, &websocket.Upgrader{CloseTimeout: 2 * time.Second}, nil, handle)
		c := wstest.Dial(t, s.addr, "/", nil)
		checkInterleaving(t, c)
		if err := s.result(t); err != nil {
			t.Fatalf("iteration %d: %v", it, err)
		}
		close(errs)
		for err := range errs {
			t.Errorf("iteration %d: %v", it, err)
		}
	}
}

// checkInterleaving reads frames until the connection ends, answering
// pings and the close, and fails the test when a data frame starts inside
// another message or a writer's messages arrive out of order or damaged.
func checkInterleaving(t *testing.T, c *wstest.Client) {
	t.Helper()
	open := false
	var msg []byte
	var op byte
	nextW := 0
	for {
		f, err := c.ReadFrame()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("client read: %v", err)
			}
			return
		}
		switch f.Opcode {
		case wstest.OpPing:
			c.WriteFrame(wstest.Msg(wstest.OpPong, f.Payload))
			continue
		case wstest.OpPong:
			continue
		case wstest.OpClose:
			c.WriteFrame(closeFrame(1000, ""))
			continue
		case wstest.OpContinuation:
			if !open {
				t.Fatalf("continuation frame without a message: %v", f)
			}
			msg = append(msg, f.Payload...)
		default:
			if open {
				t.Fatalf("a %v frame starts inside an unfinished message: messages interleaved", f)
			}
			op, msg, open = f.Opcode, append([]byte(nil), f.Payload...), true
		}
		if !f.Fin {
			continue
		}
		open = false
		switch {
		case op == wstest.OpText && string(msg) == "prepared":
		case op == wstest.OpText && strings.HasPrefix(string(msg), "w"):
			if string(msg) != "w"+strconv.Itoa(nextW) {
				t.Fatalf("got %q, want w%d: WriteMessage messages out of order", msg, nextW)
			}
			nextW++
		case op == wstest.OpBinary:
			want := append(append(bytes.Repeat([]byte{'0'}, 3000), bytes.Repeat([]byte{'1'}, 3000)...), bytes.Repeat([]byte{'2'}, 3000)...)
			if !bytes.Equal(msg, want) {
				t.Fatalf("a NextWriter message is damaged: %d bytes", len(msg))
			}
		default:
			t.Fatalf("unexpected message: opcode %#x %q", op, msg)
		}
	}
}
