package websocket

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Benchmarks. Compare runs with benchstat, as ratios; absolute times on a
// shared machine mean little.
//
//	go test -run='^$' -bench=. -benchmem
var benchSizes = []int{16, 125, 1 << 10, 4 << 10, 64 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

var sinkInt int

func BenchmarkMask(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, n := range benchSizes {
		buf := make([]byte, n)
		b.Run("mask/"+sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkInt = mask(key, i&3, buf)
			}
		})
		b.Run("go/"+sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkInt = maskGo(key, i&3, buf)
			}
		})
		b.Run("copy/"+sizeName(n), func(b *testing.B) {
			dst := make([]byte, n)
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				sinkInt = copy(dst, buf)
			}
		})
		b.Run("bytewise/"+sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkInt = maskBytewise(key, i&3, buf)
			}
		})
	}
}

func BenchmarkFrameHeader(b *testing.B) {
	for _, n := range []int{16, 1 << 10, 1 << 20} {
		hdr := appendHeader(nil, true, 0, opBinary, n, true, [4]byte{1, 2, 3, 4})
		b.Run("parse/"+sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h, k, _ := parseHeader(hdr)
				sinkInt = k + int(h.length)
			}
		})
		b.Run("append/"+sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			var dst [maxHeaderSize]byte
			for i := 0; i < b.N; i++ {
				sinkInt = len(appendHeader(dst[:0], true, 0, opBinary, n, false, [4]byte{}))
			}
		})
	}
}

// benchClient is a minimal client for benchmarks: it sends masked frames
// and reads unmasked ones, with buffers allocated once.
type benchClient struct {
	conn net.Conn
	br   *bufio.Reader
	out  []byte // the prepared masked frame
	in   []byte
	hb   [maxHeaderSize]byte
}

func dialBench(b testing.TB, addr string, payload int) *benchClient {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("handshake: %v %v", resp, err)
	}
	key := [4]byte{0x11, 0x22, 0x33, 0x44}
	data := make([]byte, payload)
	for i := range data {
		data[i] = 'a' + byte(i%26)
	}
	out := appendHeader(nil, true, 0, opBinary, payload, true, key)
	hl := len(out)
	out = append(out, data...)
	mask(key, 0, out[hl:])
	b.Cleanup(func() { conn.Close() })
	return &benchClient{conn: conn, br: br, out: out, in: make([]byte, payload)}
}

// roundTrip sends the frame and reads one echoed message of the same size
// (possibly fragmented by the server).
func (c *benchClient) roundTrip(b testing.TB) {
	if _, err := c.conn.Write(c.out); err != nil {
		b.Fatal(err)
	}
	got := 0
	for got < len(c.in) {
		hb := c.hb[:]
		if _, err := io.ReadFull(c.br, hb[:2]); err != nil {
			b.Fatal(err)
		}
		n := 2
		switch hb[1] & 0x7f {
		case 126:
			n = 4
		case 127:
			n = 10
		}
		if _, err := io.ReadFull(c.br, hb[2:n]); err != nil {
			b.Fatal(err)
		}
		h, _, _ := parseHeader(hb[:n])
		if _, err := io.ReadFull(c.br, c.in[got:got+int(h.length)]); err != nil {
			b.Fatal(err)
		}
		got += int(h.length)
	}
}

func benchServer(b testing.TB, handler func(c *Conn)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		handler(c)
	}))
	b.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// BenchmarkEcho measures one echoed message per iteration over loopback
// TCP, client included.
func BenchmarkEcho(b *testing.B) {
	messageEcho := func(c *Conn) { echoLoop(c, false) }
	streamEcho := func(c *Conn) { echoLoop(c, true) }
	for _, mode := range []struct {
		name    string
		handler func(*Conn)
	}{{"ReadMessage", messageEcho}, {"NextReader", streamEcho}} {
		for _, n := range benchSizes {
			b.Run(mode.name+"/"+sizeName(n), func(b *testing.B) {
				c := dialBench(b, benchServer(b, mode.handler), n)
				c.roundTrip(b) // warm the pools
				b.SetBytes(int64(n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					c.roundTrip(b)
				}
			})
		}
	}
}

// BenchmarkWritePreparedMessage writes one prepared message to each of 64
// connections per iteration; the clients discard what they read.
func BenchmarkWritePreparedMessage(b *testing.B) {
	const conns = 64
	for _, n := range []int{16, 1 << 10, 64 << 10} {
		b.Run(sizeName(n), func(b *testing.B) {
			ready := make(chan *Conn, conns)
			addr := benchServer(b, func(c *Conn) {
				ready <- c
				c.ReadMessage() // until the client goes
			})
			var server []*Conn
			for i := 0; i < conns; i++ {
				cl := dialBench(b, addr, 0)
				go io.Copy(io.Discard, cl.br)
				server = append(server, <-ready)
			}
			pm, err := NewPreparedMessage(BinaryMessage, make([]byte, n))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(n * conns))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, c := range server {
					if err := c.WritePreparedMessage(pm); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkWritePreparedMessages compares sending 8 messages to each of 64
// connections one call each, with one batched call per connection (one
// writev), and through the connections' send queues. Bytes are per
// delivered message.
func BenchmarkWritePreparedMessages(b *testing.B) {
	const conns, queued = 64, 8
	ready := make(chan *Conn, conns)
	addr := benchServer(b, func(c *Conn) {
		ready <- c
		c.ReadMessage()
	})
	var server []*Conn
	for i := 0; i < conns; i++ {
		cl := dialBench(b, addr, 0)
		go io.Copy(io.Discard, cl.br)
		server = append(server, <-ready)
	}
	var batch []*PreparedMessage
	for i := 0; i < queued; i++ {
		pm, _ := NewPreparedMessage(TextMessage, make([]byte, 125))
		batch = append(batch, pm)
	}
	b.Run("one-by-one", func(b *testing.B) {
		b.SetBytes(125)
		b.ReportAllocs()
		for i := 0; i < b.N; i += conns * queued {
			for _, c := range server {
				for _, pm := range batch {
					if err := c.WritePreparedMessage(pm); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	})
	b.Run("batched", func(b *testing.B) {
		b.SetBytes(125)
		b.ReportAllocs()
		for i := 0; i < b.N; i += conns * queued {
			for _, c := range server {
				if err := c.WritePreparedMessages(batch...); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	// queued: a broadcaster's loop, message by message over every
	// connection, handing each to the connection's send queue.
	b.Run("queued", func(b *testing.B) {
		b.SetBytes(125)
		b.ReportAllocs()
		for i := 0; i < b.N; i += conns * queued {
			for _, pm := range batch {
				for _, c := range server {
					for {
						err := c.QueuePreparedMessage(pm)
						if err == nil {
							break
						}
						if !errors.Is(err, ErrQueueFull) {
							b.Fatal(err)
						}
						runtime.Gosched()
					}
				}
			}
		}
		for _, c := range server {
			for c.QueueLen() > 0 {
				runtime.Gosched()
			}
		}
	})
}

// BenchmarkUpgrade measures an opening handshake over loopback, client and
// TCP connect included.
func BenchmarkUpgrade(b *testing.B) {
	addr := benchServer(b, func(c *Conn) {})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c := dialBench(b, addr, 0)
		c.conn.Close()
	}
}
