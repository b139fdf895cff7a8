package websocket

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/deflatetest"
)

// ---- small windows (RFC 7692 §7.1.2): segments that stay within 2^bits ----

// pmdRepText is n bytes of plainly repetitive English text.
func pmdRepText(n int) []byte {
	const s = "The quick brown fox jumps over the lazy dog while the cat sleeps. "
	return []byte(strings.Repeat(s, n/len(s)+1)[:n])
}

// pmdJSONLines is n bytes of JSON log lines with random numbers and names.
func pmdJSONLines(r *rand.Rand, n int) []byte {
	words := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau")
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, `{"id":%d,"user":%q,"event":%q,"value":%.3f}`+"\n",
			r.IntN(1e6), words[r.IntN(len(words))], words[r.IntN(len(words))], r.Float64()*1000)
	}
	return b.Bytes()[:n]
}

// pmdEdgeData is n bytes that tempt a compressor into back-references at
// the edge of a window of w bytes: random blocks repeated at periods of
// w-1, w+1 and w/2+7 bytes, then repetitive text.
func pmdEdgeData(r *rand.Rand, w, n int) []byte {
	var b []byte
	for _, period := range []int{w - 1, w + 1, w/2 + 7} {
		block := make([]byte, period)
		for i := range block {
			block[i] = byte(r.IntN(256))
		}
		for j := 0; j < 6; j++ {
			b = append(b, block...)
		}
	}
	for len(b) < n {
		b = append(b, pmdRepText(4096)...)
	}
	return b[:n]
}

// pmdCheckWindow decodes payload with a decoder that refuses any distance
// beyond window and any reference before the message (no history), and
// compares the result with want.
func pmdCheckWindow(t testing.TB, payload, want []byte, window int) {
	t.Helper()
	got, err := deflatetest.Decode(nil, append(bytes.Clone(payload), 0, 0, 0xff, 0xff), window)
	if err != nil {
		t.Fatalf("window %d: %v", window, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("window %d: %d bytes decoded differ from the %d sent", window, len(got), len(want))
	}
}

// TestCompress_smallWindow_checkerHasTeeth: compress/flate's own output on
// the edge data reaches past small windows, and the checker says so.
func TestCompress_smallWindow_checkerHasTeeth(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	data := pmdEdgeData(r, 1<<10, 20<<10)
	b := appendDeflate(nil, data, flate.BestSpeed, 15)
	if _, err := deflatetest.Decode(nil, append(b, 0, 0, 0xff, 0xff), 1<<10); err == nil {
		t.Fatal("a full-window stream passed the 1 KiB window check")
	}
}

// TestCompress_smallWindow_staysInWindow: with server_max_window_bits from
// 9 to 14, every write path (WriteMessage whole and streamed, NextWriter
// in odd pieces, WritePreparedMessage) at levels 1 and -1 (6) produces
// messages whose back-references stay within the window and within the
// message (no context is carried over), three messages in a row.
func TestCompress_smallWindow_staysInWindow(t *testing.T) {
	t.Parallel()
	type path struct {
		name  string
		size  int
		write func(c *Conn, msg []byte) error
	}
	paths := []path{
		{"whole", 40 << 10, func(c *Conn, msg []byte) error { return c.WriteMessage(BinaryMessage, msg) }},
		{"streamed", 100 << 10, func(c *Conn, msg []byte) error { return c.WriteMessage(BinaryMessage, msg) }},
		{"writer", 70 << 10, func(c *Conn, msg []byte) error {
			w, err := c.NextWriter(BinaryMessage)
			if err != nil {
				return err
			}
			r := rand.New(rand.NewPCG(uint64(len(msg)), 7))
			for p := msg; len(p) > 0; {
				n := min(len(p), 1+r.IntN(3000))
				if _, err := w.Write(p[:n]); err != nil {
					return err
				}
				p = p[n:]
			}
			return w.Close()
		}},
		{"prepared", 30 << 10, func(c *Conn, msg []byte) error {
			pm, err := NewPreparedMessage(BinaryMessage, msg)
			if err != nil {
				return err
			}
			return c.WritePreparedMessage(pm)
		}},
	}
	for bits := 9; bits <= 14; bits++ {
		for _, level := range []int{1, flate.DefaultCompression} {
			for _, pt := range paths {
				t.Run(fmt.Sprintf("bits=%d/level=%d/%s", bits, level, pt.name), func(t *testing.T) {
					t.Parallel()
					p := pmdNoTakeover
					p.serverBits = bits
					c, nc := pmdPair(t, p, 0, 0)
					c.SetCompressionLevel(level)
					br := bufio.NewReader(nc)
					r := rand.New(rand.NewPCG(uint64(bits), uint64(level)))
					for i := 0; i < 3; i++ {
						msg := pmdEdgeData(r, 1<<bits, pt.size-i*1000)
						errc := make(chan error, 1)
						go func() { errc <- pt.write(c, msg) }()
						m := pmdRead(t, br)
						if err := <-errc; err != nil {
							t.Fatal(err)
						}
						if m.rsv != bitRsv1 {
							t.Fatal("message not compressed")
						}
						pmdCheckWindow(t, m.payload, msg, 1<<bits)
					}
				})
			}
		}
	}
}

// TestCompress_smallWindow_ratio: 1 MiB of repetitive text sent through a
// limited window costs a few tens of KB at most, not the ~580 KB of
// Huffman-only blocks; JSON lines gain less. The figures are logged (-v)
// and quoted in compress.go.
func TestCompress_smallWindow_ratio(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	corpora := []struct {
		name string
		data []byte
		max  [16]int // the most bytes allowed, by bits
	}{
		{"repetitive text", pmdRepText(1 << 20), [16]int{9: 80000, 10: 45000, 11: 30000, 12: 20000, 13: 15000, 14: 12000, 15: 10000}},
		{"JSON lines", pmdJSONLines(r, 1<<20), [16]int{9: 500000, 10: 430000, 11: 380000, 12: 350000, 13: 330000, 14: 320000, 15: 320000}},
	}
	for _, cp := range corpora {
		for bits := 9; bits <= 15; bits++ {
			p := pmdNoTakeover
			p.serverBits = bits
			c, nc := pmdPair(t, p, 0, 0)
			go c.WriteMessage(BinaryMessage, cp.data)
			m := pmdRead(t, bufio.NewReader(nc))
			if bits < 15 {
				pmdCheckWindow(t, m.payload, cp.data, 1<<bits)
			}
			t.Logf("%s, 1 MiB, level 1, server_max_window_bits=%d: %d bytes", cp.name, bits, len(m.payload))
			if len(m.payload) > cp.max[bits] {
				t.Errorf("%s at %d bits: %d bytes, want at most %d", cp.name, bits, len(m.payload), cp.max[bits])
			}
		}
	}
}

// TestDialer_smallWindow_staysInWindow: a server that answers
// client_max_window_bits=N to the Dialer's offer receives messages whose
// back-references stay within 2^N bytes.
func TestDialer_smallWindow_staysInWindow(t *testing.T) {
	t.Parallel()
	for _, bits := range []int{9, 12, 14} {
		t.Run(fmt.Sprint(bits), func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			r := rand.New(rand.NewPCG(uint64(bits), 9))
			msgs := [][]byte{pmdEdgeData(r, 1<<bits, 30<<10), pmdEdgeData(r, 1<<bits, 200<<10)}
			done := make(chan error, 1)
			go func() { done <- pmdWindowServer(ln, bits, msgs) }()
			d := Dialer{EnableCompression: true, HandshakeTimeout: 10 * time.Second}
			c, _, err := d.Dial("ws://"+ln.Addr().String()+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, m := range msgs {
				if err := c.WriteMessage(BinaryMessage, m); err != nil {
					t.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// pmdWindowServer accepts one connection, answers permessage-deflate with
// client_max_window_bits=bits, and checks that the client's next messages
// are want, each inflated within the window.
func pmdWindowServer(ln net.Listener, bits int, want [][]byte) error {
	nc, err := ln.Accept()
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "+
		"client_no_context_takeover; client_max_window_bits=%d\r\n\r\n", computeAcceptKey(req.Header.Get("Sec-WebSocket-Key")), bits)
	for i, w := range want {
		var payload []byte
		for fin := false; !fin; {
			var h [14]byte
			if _, err := io.ReadFull(br, h[:2]); err != nil {
				return err
			}
			fin = h[0]&0x80 != 0
			if i := len(payload); i == 0 && h[0]&0x40 == 0 {
				return fmt.Errorf("message %d not compressed", i)
			}
			n, hl := int(h[1]&0x7f), 2
			switch n {
			case 126:
				hl = 4
			case 127:
				hl = 10
			}
			if _, err := io.ReadFull(br, h[2:hl+4]); err != nil {
				return err
			}
			switch n {
			case 126:
				n = int(binary.BigEndian.Uint16(h[2:4]))
			case 127:
				n = int(binary.BigEndian.Uint64(h[2:10]))
			}
			p := make([]byte, n)
			if _, err := io.ReadFull(br, p); err != nil {
				return err
			}
			mask([4]byte(h[hl:hl+4]), 0, p)
			payload = append(payload, p...)
		}
		got, err := deflatetest.Decode(nil, append(payload, 0, 0, 0xff, 0xff), 1<<bits)
		if err != nil {
			return fmt.Errorf("message %d: %v", i, err)
		}
		if !bytes.Equal(got, w) {
			return fmt.Errorf("message %d differs", i)
		}
	}
	return nil
}
