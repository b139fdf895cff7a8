package websocket

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ---- negotiation ----

func TestExtension_negotiation(t *testing.T) {
	t.Parallel()
	const (
		pmd  = "permessage-deflate"
		snct = "; server_no_context_takeover"
		cnct = "; client_no_context_takeover"
	)
	cases := []struct {
		name     string
		lines    []string
		takeover bool
		want     string // "" = declined
		p        deflateParams
	}{
		// RFC 7692 §7 / §7.1 examples.
		{"plain offer, no takeover", []string{"permessage-deflate"}, false, pmd + snct + cnct,
			deflateParams{true, true, 15, 15}},
		{"plain offer, takeover", []string{"permessage-deflate"}, true, pmd,
			deflateParams{false, false, 15, 15}},
		{"client_max_window_bits without value (Chrome)", []string{"permessage-deflate; client_max_window_bits"}, true, pmd,
			deflateParams{false, false, 15, 15}},
		{"client_max_window_bits=10", []string{"permessage-deflate; client_max_window_bits=10"}, true, pmd + "; client_max_window_bits=10",
			deflateParams{false, false, 15, 10}},
		{"§7.1.3 first offer limits the server window", []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits"}, true,
			pmd + snct + "; server_max_window_bits=10", deflateParams{true, false, 10, 15}},
		{"server_max_window_bits=15 keeps takeover", []string{"permessage-deflate; server_max_window_bits=15"}, true,
			pmd + "; server_max_window_bits=15", deflateParams{false, false, 15, 15}},
		{"both no_context_takeover", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, true,
			pmd + snct + cnct, deflateParams{true, true, 15, 15}},
		{"client_no_context_takeover hint echoed", []string{"permessage-deflate; client_no_context_takeover; client_max_window_bits"}, true,
			pmd + cnct, deflateParams{false, true, 15, 15}},
		{"window bits 8 both", []string{"permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"}, false,
			pmd + snct + cnct + "; server_max_window_bits=8; client_max_window_bits=8", deflateParams{true, true, 8, 8}},
		{"quoted value", []string{`permessage-deflate; server_max_window_bits="10"`}, true,
			pmd + snct + "; server_max_window_bits=10", deflateParams{true, false, 10, 15}},
		{"quoted value with escape", []string{`permessage-deflate; client_max_window_bits="1\2"`}, true,
			pmd + "; client_max_window_bits=12", deflateParams{false, false, 15, 12}},
		{"case-insensitive names", []string{"PerMessage-Deflate; Server_No_Context_Takeover"}, true,
			pmd + snct, deflateParams{true, false, 15, 15}},
		{"whitespace", []string{" \tpermessage-deflate \t;\t server_max_window_bits = 9 "}, true,
			pmd + snct + "; server_max_window_bits=9", deflateParams{true, false, 9, 15}},
		{"empty list elements", []string{" , ,permessage-deflate,,"}, false, pmd + snct + cnct, deflateParams{true, true, 15, 15}},
		{"other extension first", []string{"x-webkit-deflate-frame, permessage-deflate"}, false, pmd + snct + cnct, deflateParams{true, true, 15, 15}},
		{"several header lines", []string{"foo; bar=\"a,b\"", "permessage-deflate; client_max_window_bits=9"}, true,
			pmd + "; client_max_window_bits=9", deflateParams{false, false, 15, 9}},

		// Offers declined one by one; the next acceptable one wins.
		{"unknown parameter", []string{"permessage-deflate; foo, permessage-deflate; server_no_context_takeover"}, true,
			pmd + snct, deflateParams{true, false, 15, 15}},
		{"duplicate parameter", []string{"permessage-deflate; client_max_window_bits; client_max_window_bits=10, permessage-deflate"}, true,
			pmd, deflateParams{false, false, 15, 15}},
		{"server_max_window_bits without value", []string{"permessage-deflate; server_max_window_bits, permessage-deflate"}, true,
			pmd, deflateParams{false, false, 15, 15}},
		{"window bits out of range", []string{"permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits=16, permessage-deflate"}, true,
			pmd, deflateParams{false, false, 15, 15}},
		{"window bits leading zero", []string{"permessage-deflate; server_max_window_bits=010, permessage-deflate"}, true,
			pmd, deflateParams{false, false, 15, 15}},
		{"no_context_takeover with a value", []string{"permessage-deflate; server_no_context_takeover=1, permessage-deflate; client_no_context_takeover=\"x\""}, true, "", deflateParams{}},
		{"trailing semicolon", []string{"permessage-deflate;, permessage-deflate"}, true, pmd, deflateParams{false, false, 15, 15}},
		{"garbage after name", []string{"permessage-deflate x; y, permessage-deflate"}, true, pmd, deflateParams{false, false, 15, 15}},
		{"quoted value not a token", []string{`permessage-deflate; server_max_window_bits="1 0", permessage-deflate`}, true, pmd, deflateParams{false, false, 15, 15}},
		{"empty value", []string{"permessage-deflate; client_max_window_bits=, permessage-deflate"}, true, pmd, deflateParams{false, false, 15, 15}},
		{"comma inside quotes skipped", []string{`permessage-deflate; a="x,permessage-deflate", permessage-deflate; client_no_context_takeover`}, true,
			pmd + cnct, deflateParams{false, true, 15, 15}},

		// Declined outright.
		{"no header", nil, true, "", deflateParams{}},
		{"only other extensions", []string{"foo, bar; baz=1"}, true, "", deflateParams{}},
		{"unterminated quote declines all", []string{"permessage-deflate, foo; a=\"x"}, true, "", deflateParams{}},
		{"unterminated quote on another line", []string{"permessage-deflate", "foo; a=\"x\\\""}, true, "", deflateParams{}},
		{"name missing", []string{"; server_no_context_takeover"}, true, "", deflateParams{}},
		{"non-ASCII", []string{"permessage-deflate\xff"}, true, "", deflateParams{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, answer, ok := negotiateDeflate(tc.lines, tc.takeover)
			if answer != tc.want || ok != (tc.want != "") {
				t.Fatalf("answer %q (ok %v), want %q", answer, ok, tc.want)
			}
			if ok && p != tc.p {
				t.Fatalf("params %+v, want %+v", p, tc.p)
			}
		})
	}
}

func TestExtension_upgradeAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		u      Upgrader
		offer  string
		answer string
	}{
		{"disabled", Upgrader{}, "permessage-deflate", ""},
		{"enabled", Upgrader{EnableCompression: true}, "permessage-deflate; client_max_window_bits",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"takeover", Upgrader{EnableCompression: true, CompressionContextTakeover: true}, "permessage-deflate; client_max_window_bits", "permessage-deflate"},
		{"declined", Upgrader{EnableCompression: true}, "permessage-deflate; bogus", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.u
			addr := serve(t, &u, func(c *Conn) {
				if (c.pmd != nil) != (tc.answer != "") {
					t.Errorf("pmd = %v, answer %q", c.pmd, tc.answer)
				}
				c.Close()
			})
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: %s\r\n\r\n", addr, tc.offer)
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(nc)
			var got string
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if line == "\r\n" {
					break
				}
				if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Sec-WebSocket-Extensions") {
					got = strings.TrimSpace(v)
				}
			}
			if got != tc.answer {
				t.Fatalf("Sec-WebSocket-Extensions %q, want %q", got, tc.answer)
			}
		})
	}
}

// FuzzExtensionHeader checks that the parser never panics and that every
// answer is itself a well-formed, acceptable offer with the same
// parameters.
func FuzzExtensionHeader(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate",
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate",
		`permessage-deflate; server_max_window_bits="9"; client_no_context_takeover`,
		`foo; a="x,y\"z", permessage-deflate; server_no_context_takeover`,
		"permessage-deflate; a=\"",
		", ,;=",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, takeover bool) {
		lines := strings.Split(s, "\n")
		p, answer, ok := negotiateDeflate(lines, takeover)
		if !ok {
			if answer != "" {
				t.Fatalf("declined with answer %q", answer)
			}
			return
		}
		if p.serverBits < 8 || p.serverBits > 15 || p.clientBits < 8 || p.clientBits > 15 {
			t.Fatalf("window bits out of range: %+v", p)
		}
		if !takeover && (!p.serverNoTakeover || !p.clientNoTakeover) {
			t.Fatalf("takeover without permission: %+v", p)
		}
		p2, answer2, ok2 := negotiateDeflate([]string{answer}, true)
		if !ok2 || answer2 != answer || p2 != p {
			t.Fatalf("answer %q re-negotiates to %q %+v (ok %v), want %+v", answer, answer2, p2, ok2, p)
		}
	})
}

// ---- test plumbing: a server Conn over loopback TCP and a raw client ----

func pmdPair(t testing.TB, p deflateParams, threshold int, limit int64) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sv := <-accepted
	if sv == nil {
		t.Fatal("accept failed")
	}
	c := newConn(sv, connConfig{readLimit: limit, deflate: deflateConfig{enabled: true, params: p, threshold: threshold}}, nil)
	// Nothing here should take long: a bug fails the test, not the run.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	cl.SetDeadline(time.Now().Add(time.Minute))
	t.Cleanup(func() {
		c.Close()
		cl.Close()
	})
	return c, cl
}

var (
	pmdNoTakeover = deflateParams{serverNoTakeover: true, clientNoTakeover: true, serverBits: 15, clientBits: 15}
	pmdTakeover   = deflateParams{serverBits: 15, clientBits: 15}
)

// pmdFrame returns a masked client frame.
func pmdFrame(fin bool, rsv, op byte, payload []byte) []byte {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b := appendHeader(nil, fin, rsv, op, len(payload), true, key)
	n := len(b)
	b = append(b, payload...)
	mask(key, 0, b[n:])
	return b
}

type pmdMsg struct {
	op      byte
	rsv     byte // of the first frame
	payload []byte
	frames  int
}

// pmdRead reads one whole message (or control frame) sent by the server.
func pmdRead(t testing.TB, br *bufio.Reader) pmdMsg {
	t.Helper()
	var m pmdMsg
	for {
		var h [10]byte
		if _, err := io.ReadFull(br, h[:2]); err != nil {
			t.Fatalf("read frame: %v", err)
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			io.ReadFull(br, h[2:4])
			n = int(binary.BigEndian.Uint16(h[2:4]))
		case 127:
			io.ReadFull(br, h[2:10])
			n = int(binary.BigEndian.Uint64(h[2:10]))
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatalf("read payload: %v", err)
		}
		op := h[0] & 0x0f
		if m.frames == 0 {
			m.op, m.rsv = op, h[0]&0x70
		} else if h[0]&0x70 != 0 {
			t.Fatalf("RSV bits %#x on a continuation frame", h[0]&0x70)
		}
		m.frames++
		m.payload = append(m.payload, p...)
		if h[0]&0x80 != 0 {
			return m
		}
	}
}

// pmdCloseCode reads up to the server's close frame and returns its code.
func pmdCloseCode(t testing.TB, nc net.Conn, br *bufio.Reader) int {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		m := pmdRead(t, br)
		if m.op == opClose {
			if len(m.payload) < 2 {
				return CloseNoStatusReceived
			}
			return int(binary.BigEndian.Uint16(m.payload))
		}
	}
}

// pmdDeflater compresses the client's messages; with takeover one writer
// carries its history from message to message.
type pmdDeflater struct {
	takeover bool
	level    int // 0: BestSpeed
	buf      bytes.Buffer
	fw       *flate.Writer
}

func (d *pmdDeflater) compress(p []byte) []byte {
	if d.fw == nil || !d.takeover {
		level := d.level
		if level == 0 {
			level = flate.BestSpeed
		}
		d.fw, _ = flate.NewWriter(&d.buf, level)
	}
	d.buf.Reset()
	d.fw.Write(p)
	d.fw.Flush()
	b := bytes.Clone(d.buf.Bytes())
	if !bytes.HasSuffix(b, []byte{0, 0, 0xff, 0xff}) {
		panic("flush without sync marker")
	}
	return b[:len(b)-4]
}

// pmdInflater inflates the server's messages with compress/flate, keeping
// the last 32 KiB of output as the dictionary when the server takes its
// context over.
type pmdInflater struct {
	takeover bool
	hist     []byte
}

func (d *pmdInflater) inflate(p []byte) ([]byte, error) {
	var dict []byte
	if d.takeover {
		dict = d.hist
	}
	fr := flate.NewReaderDict(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff})), dict)
	out, err := io.ReadAll(fr)
	if err == io.ErrUnexpectedEOF {
		err = nil // the stream ends after the sync block, as it should
	}
	d.hist = append(d.hist, out...)
	if len(d.hist) > 32<<10 {
		d.hist = append([]byte(nil), d.hist[len(d.hist)-32<<10:]...)
	}
	return out, err
}

func pmdText(r *rand.Rand, n int) []byte {
	words := []string{"alpha", "beta", "gamma", "delta", "\"id\":", "{\"user\":", "42", "é", "☃", "\n", " ", "compression"}
	var b []byte
	for len(b) < n {
		b = append(b, words[r.IntN(len(words))]...)
	}
	for len(b) > n { // cut on a rune boundary
		b = b[:len(b)-1]
		for len(b) > 0 && b[len(b)-1]&0xC0 == 0x80 {
			b = b[:len(b)-1]
		}
		if len(b) > 0 && b[len(b)-1] >= 0xC0 {
			b = b[:len(b)-1]
		}
	}
	return b
}

// ---- round trips ----

func TestCompress_roundTripAgainstFlate(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 1, 255, 256, 1000, 4096, 5000, 70000, 300000}
	for _, stream := range []bool{false, true} {
		for _, p := range []deflateParams{pmdNoTakeover, pmdTakeover} {
			t.Run(fmt.Sprintf("stream=%v/takeover=%v", stream, !p.serverNoTakeover), func(t *testing.T) {
				t.Parallel()
				c, nc := pmdPair(t, p, DefaultCompressionThreshold, 0)
				go echoLoop(c, stream)
				br := bufio.NewReader(nc)
				rng := rand.New(rand.NewPCG(1, 2))
				def := pmdDeflater{takeover: !p.clientNoTakeover}
				inf := pmdInflater{takeover: !p.serverNoTakeover}
				nc.SetDeadline(time.Now().Add(20 * time.Second))
				for _, n := range sizes {
					for _, compressed := range []bool{false, true} {
						msg := pmdText(rng, n)
						if compressed {
							nc.Write(pmdFrame(true, bitRsv1, opText, def.compress(msg)))
						} else {
							nc.Write(pmdFrame(true, 0, opText, msg))
						}
						m := pmdRead(t, br)
						got := m.payload
						wantRsv := byte(0)
						if len(msg) >= DefaultCompressionThreshold {
							wantRsv = bitRsv1
						}
						if m.rsv != wantRsv || m.op != opText {
							t.Fatalf("size %d: op %d rsv %#x, want text with rsv %#x", n, m.op, m.rsv, wantRsv)
						}
						if m.rsv != 0 {
							var err error
							if got, err = inf.inflate(m.payload); err != nil {
								t.Fatalf("size %d: inflate: %v", n, err)
							}
						}
						if !bytes.Equal(got, msg) {
							t.Fatalf("size %d (compressed %v): echo differs (%d bytes, want %d)", n, compressed, len(got), len(msg))
						}
					}
				}
			})
		}
	}
}

// TestCompress_fragmentedWithControl sends a compressed message in
// fragments of every size with pings in between.
func TestCompress_fragmentedWithControl(t *testing.T) {
	t.Parallel()
	c, nc := pmdPair(t, pmdNoTakeover, DefaultCompressionThreshold, 0)
	go echoLoop(c, false)
	br := bufio.NewReader(nc)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	msg := pmdText(rand.New(rand.NewPCG(3, 4)), 3000)
	z := (&pmdDeflater{}).compress(msg)
	for _, frag := range []int{1, 2, 7, 100, len(z)} {
		var out []byte
		for i := 0; i < len(z); i += frag {
			end := min(i+frag, len(z))
			op, rsv := byte(opContinuation), byte(0)
			if i == 0 {
				op, rsv = opText, bitRsv1
			}
			out = append(out, pmdFrame(end == len(z), rsv, op, z[i:end])...)
			if i%3 == 0 {
				out = append(out, pmdFrame(true, 0, opPing, []byte("hi"))...)
			}
		}
		nc.Write(out)
		for {
			m := pmdRead(t, br)
			if m.op == opPong {
				continue
			}
			got, err := (&pmdInflater{}).inflate(m.payload)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("fragments of %d: echo differs (%v)", frag, err)
			}
			break
		}
	}
}

// TestCompress_rfcExamples inflates the payloads of RFC 7692 §7.2.3.
func TestCompress_rfcExamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		takeover bool
		payloads []string // hex, one message each
		want     []string
	}{
		{"7.2.3.1 Hello", false, []string{"f248cdc9c90700"}, []string{"Hello"}},
		{"7.2.3.2 context takeover", true, []string{"f248cdc9c90700", "f20011000000"[:10]}, []string{"Hello", "Hello"}},
		{"7.2.3.3 BFINAL", false, []string{"f348cdc9c9070000"}, []string{"Hello"}},
		{"7.2.3.4 stored block", false, []string{"000500faff48656c6c6f00"}, []string{"Hello"}},
		{"7.2.3.5 two blocks", false, []string{"f24805000000ffffcac9c90700"}, []string{"Hello"}},
		{"7.2.3.6 empty message", false, []string{"00"}, []string{""}},
		{"empty payload", false, []string{""}, []string{""}},
		{"final block only", false, []string{"f348cdc9c90700"}, []string{"Hello"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := pmdNoTakeover
			if tc.takeover {
				p = pmdTakeover
			}
			c, nc := pmdPair(t, p, 1<<20, 0)
			for i, h := range tc.payloads {
				z, err := hex.DecodeString(h)
				if err != nil {
					t.Fatal(err)
				}
				nc.Write(pmdFrame(true, bitRsv1, opText, z))
				_, got, err := c.ReadMessage()
				if err != nil || string(got) != tc.want[i] {
					t.Fatalf("message %d: %q, %v; want %q", i, got, err, tc.want[i])
				}
			}
		})
	}
}

// TestCompress_rsvRules: RSV1 belongs on the first frame of a data message
// only (RFC 7692 §6.1), other RSV bits stay reserved.
func TestCompress_rsvRules(t *testing.T) {
	t.Parallel()
	z := (&pmdDeflater{}).compress([]byte("Hello, Hello, Hello"))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"rsv1 on continuation", append(pmdFrame(false, bitRsv1, opText, z[:3]), pmdFrame(true, bitRsv1, opContinuation, z[3:])...)},
		{"rsv1 on ping", pmdFrame(true, bitRsv1, opPing, nil)},
		{"rsv1 on close", pmdFrame(true, bitRsv1, opClose, []byte{3, 232})},
		{"rsv2 on text", pmdFrame(true, bitRsv2, opText, []byte("x"))},
		{"rsv3 on compressed text", pmdFrame(true, bitRsv1|bitRsv3, opText, z)},
		{"rsv1 on continuation of plain", append(pmdFrame(false, 0, opText, []byte("ab")), pmdFrame(true, bitRsv1, opContinuation, []byte("c"))...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, nc := pmdPair(t, pmdNoTakeover, 0, 0)
			nc.Write(tc.in)
			_, _, err := c.ReadMessage()
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code != CloseProtocolError {
				t.Fatalf("err = %v, want ProtocolError 1002", err)
			}
			if code := pmdCloseCode(t, nc, bufio.NewReader(nc)); code != CloseProtocolError {
				t.Fatalf("close code %d", code)
			}
		})
	}
}

func TestCompress_rsv1WithoutNegotiation_closes1002(t *testing.T) {
	t.Parallel()
	c, nc := pmdPair(t, pmdNoTakeover, 0, 0)
	c.pmd = nil // as if not negotiated
	nc.Write(pmdFrame(true, bitRsv1, opText, (&pmdDeflater{}).compress([]byte("Hello"))))
	if _, _, err := c.ReadMessage(); err == nil {
		t.Fatal("compressed frame accepted without negotiation")
	}
	if code := pmdCloseCode(t, nc, bufio.NewReader(nc)); code != CloseProtocolError {
		t.Fatalf("close code %d", code)
	}
}

func TestCompress_badData_closes1007(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"reserved block type", []byte{0x07, 0x00}},
		{"stored length mismatch", []byte{0x00, 0x05, 0x00, 0x00, 0x00, 'h'}},
		{"truncated dynamic block", []byte{0xec, 0xbd, 0x07}},
		{"distance beyond the history", pmdDictRef()},
		{"garbage after final block", []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, nc := pmdPair(t, pmdNoTakeover, 0, 0)
			nc.Write(pmdFrame(true, bitRsv1, opBinary, tc.payload))
			_, p, err := c.ReadMessage()
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code != CloseInvalidFramePayloadData || !strings.Contains(pe.Reason, "compressed") {
				t.Fatalf("ReadMessage = %q, %v; want ProtocolError 1007", p, err)
			}
			if code := pmdCloseCode(t, nc, bufio.NewReader(nc)); code != CloseInvalidFramePayloadData {
				t.Fatalf("close code %d", code)
			}
		})
	}
}

// pmdDictRef returns deflate data that refers back into a dictionary the
// reader does not have.
func pmdDictRef() []byte {
	dict := []byte("a dictionary the server never saw")
	var buf bytes.Buffer
	fw, _ := flate.NewWriterDict(&buf, flate.BestCompression, dict)
	fw.Write(dict)
	fw.Flush()
	return buf.Bytes()[:buf.Len()-4]
}

func TestCompress_invalidUTF8AfterInflate_closes1007(t *testing.T) {
	t.Parallel()
	c, nc := pmdPair(t, pmdNoTakeover, 0, 0)
	msg := append(bytes.Repeat([]byte("valid "), 1000), 0xff)
	nc.Write(pmdFrame(true, bitRsv1, opText, (&pmdDeflater{}).compress(msg)))
	_, _, err := c.ReadMessage()
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != CloseInvalidFramePayloadData {
		t.Fatalf("err = %v", err)
	}
}

// pmdBomb returns a compressed payload that inflates to n MiB of zeros: a
// sync-flushed 1 MiB block repeated, each copy referring back to the
// zeros before it.
func pmdBomb(n int) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(make([]byte, 1<<20))
	fw.Flush()
	block := buf.Bytes()
	return bytes.Repeat(block, n)[:n*len(block)-4]
}

type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}

// TestCompress_decompressionBomb: a frame of a few hundred KiB that
// inflates to 256 MiB ends in 1009 and ErrReadLimit, having allocated
// about the limit, not the inflated size.
func TestCompress_decompressionBomb(t *testing.T) {
	bomb := pmdBomb(256)
	if len(bomb) > 512<<10 {
		t.Fatalf("bomb of %d bytes", len(bomb))
	}
	const limit = 1 << 20
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			c, nc := pmdPair(t, pmdTakeover, 0, limit)
			go nc.Write(pmdFrame(true, bitRsv1, opBinary, bomb))
			var before, after runtimeMem
			before.read()
			var err error
			if stream {
				var r io.Reader
				if _, r, err = c.NextReader(); err == nil {
					_, err = io.Copy(io.Discard, r)
				}
			} else {
				_, _, err = c.ReadMessage()
			}
			after.read()
			if err != ErrReadLimit {
				t.Fatalf("err = %v, want ErrReadLimit", err)
			}
			if code := pmdCloseCode(t, nc, bufio.NewReader(nc)); code != CloseMessageTooBig {
				t.Fatalf("close code %d", code)
			}
			// The limit, the read buffer that grows to it by doubling,
			// the inflater and the window: well under 8 MiB for 256 MiB.
			if got := after.total - before.total; got > 8<<20 {
				t.Fatalf("allocated %d bytes to refuse a message over %d", got, limit)
			}
		})
	}
}

// TestCompress_wireLimit: a compressed message whose wire size is far
// above the limit is refused from its header, even if it inflated to
// little (here: empty stored blocks).
func TestCompress_wireLimit(t *testing.T) {
	t.Parallel()
	c, nc := pmdPair(t, pmdNoTakeover, 0, 1000)
	empty := bytes.Repeat([]byte{0, 0, 0, 0xff, 0xff}, 1000)
	go nc.Write(pmdFrame(true, bitRsv1, opBinary, empty))
	if _, _, err := c.ReadMessage(); err != ErrReadLimit {
		t.Fatalf("err = %v", err)
	}
}

// TestCompress_limitExact: a message inflating to exactly the limit passes,
// one byte more does not.
func TestCompress_limitExact(t *testing.T) {
	t.Parallel()
	const limit = 10000
	for _, n := range []int{limit, limit + 1} {
		c, nc := pmdPair(t, pmdNoTakeover, 0, limit)
		msg := pmdText(rand.New(rand.NewPCG(5, 6)), n)
		nc.Write(pmdFrame(true, bitRsv1, opText, (&pmdDeflater{}).compress(msg)))
		_, got, err := c.ReadMessage()
		if n <= limit && (err != nil || !bytes.Equal(got, msg)) {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if n > limit && err != ErrReadLimit {
			t.Fatalf("%d bytes: err = %v", n, err)
		}
	}
}

// ---- context takeover ----

// TestCompress_contextTakeover1000 exchanges 1,000 similar messages each
// way with both contexts taken over, some of them uncompressed (which must
// not enter the window), checks every echo, and that the history pays:
// a repeated message shrinks to a few bytes.
func TestCompress_contextTakeover1000(t *testing.T) {
	t.Parallel()
	for _, p := range []deflateParams{
		pmdTakeover,
		{serverNoTakeover: true, serverBits: 15, clientBits: 15},
		{clientNoTakeover: true, serverBits: 15, clientBits: 15},
	} {
		t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
			t.Parallel()
			c, nc := pmdPair(t, p, 0, 0)
			// Level 1 (deflateFast) keeps no history for messages under
			// 128 bytes and little otherwise; level 2 uses the window.
			c.SetCompressionLevel(2)
			go echoLoop(c, false)
			br := bufio.NewReader(nc)
			nc.SetDeadline(time.Now().Add(30 * time.Second))
			def := pmdDeflater{takeover: !p.clientNoTakeover, level: flate.DefaultCompression}
			inf := pmdInflater{takeover: !p.serverNoTakeover}
			rng := rand.New(rand.NewPCG(7, 8))
			var small int
			for i := range 1000 {
				msg := []byte(fmt.Sprintf(`{"seq":%d,"user":"user-%d","text":%q}`, i, i%7, pmdText(rng, rng.IntN(300))))
				if i%10 == 9 {
					msg = []byte(fmt.Sprintf(`{"seq":%d}`, i)) // plain below
				}
				if i%10 == 9 {
					nc.Write(pmdFrame(true, 0, opText, msg))
				} else {
					nc.Write(pmdFrame(true, bitRsv1, opText, def.compress(msg)))
				}
				m := pmdRead(t, br)
				if m.rsv != bitRsv1 {
					t.Fatalf("message %d not compressed", i)
				}
				got, err := inf.inflate(m.payload)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("message %d: %q, %v; want %q", i, got, err, msg)
				}
				if i%10 == 8 {
					// Send the previous message again: with takeover
					// the echo is a back-reference.
					nc.Write(pmdFrame(true, bitRsv1, opText, def.compress(msg)))
					m := pmdRead(t, br)
					got, err := inf.inflate(m.payload)
					if err != nil || !bytes.Equal(got, msg) {
						t.Fatalf("repeat %d: %v", i, err)
					}
					if len(m.payload) < 16 {
						small++
					}
				}
			}
			if takeover := !p.serverNoTakeover; takeover != (small >= 90) {
				t.Fatalf("%d of 100 repeats compressed to under 16 bytes (server takeover %v)", small, takeover)
			}
		})
	}
}

// TestCompress_discardKeepsWindow: a compressed message skipped by a
// second NextReader call still enters the window the client refers to.
func TestCompress_discardKeepsWindow(t *testing.T) {
	t.Parallel()
	c, nc := pmdPair(t, pmdTakeover, 0, 0)
	def := pmdDeflater{takeover: true}
	a := bytes.Repeat([]byte("the quick brown fox "), 100)
	nc.Write(pmdFrame(true, bitRsv1, opText, def.compress(a)))
	nc.Write(pmdFrame(true, bitRsv1, opText, def.compress(a)))
	if _, _, err := c.NextReader(); err != nil {
		t.Fatal(err)
	}
	_, r, err := c.NextReader() // discards the first
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, a) {
		t.Fatalf("second message %d bytes, %v", len(got), err)
	}
}

// TestCompress_windowRing checks the ring against a plain slice over
// writes of every size.
func TestCompress_windowRing(t *testing.T) {
	t.Parallel()
	z := deflateState{params: deflateParams{clientBits: 9}}
	var ref []byte
	rng := rand.New(rand.NewPCG(9, 10))
	for range 2000 {
		p := make([]byte, rng.IntN(600))
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		z.remember(p)
		ref = append(ref, p...)
		if len(ref) > 512 {
			ref = ref[len(ref)-512:]
		}
		var got []byte
		if z.wfull {
			got = append(append(got, z.win[z.wpos:]...), z.win[:z.wpos]...)
		} else {
			got = z.win[:z.wpos]
		}
		if !bytes.Equal(got, ref) {
			t.Fatal("window differs")
		}
	}
}

// ---- write side ----

func TestCompress_thresholdAndToggles(t *testing.T) {
	t.Parallel()
	c, nc := pmdPair(t, pmdNoTakeover, 100, 0)
	br := bufio.NewReader(nc)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	check := func(name string, wantRsv byte, want []byte) {
		t.Helper()
		m := pmdRead(t, br)
		got := m.payload
		if m.rsv != wantRsv {
			t.Fatalf("%s: rsv %#x, want %#x", name, m.rsv, wantRsv)
		}
		if m.rsv != 0 {
			got, _ = (&pmdInflater{}).inflate(m.payload)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: payload differs", name)
		}
	}
	msg99, msg100 := bytes.Repeat([]byte("a"), 99), bytes.Repeat([]byte("a"), 100)
	c.WriteMessage(BinaryMessage, msg99)
	check("99 bytes", 0, msg99)
	c.WriteMessage(BinaryMessage, msg100)
	check("100 bytes", bitRsv1, msg100)

	// NextWriter: small writes stay plain until the threshold.
	w, _ := c.NextWriter(TextMessage)
	for range 99 {
		w.Write([]byte("a"))
	}
	w.Close()
	check("99 one-byte writes", 0, msg99)
	w, _ = c.NextWriter(TextMessage)
	for range 100 {
		w.Write([]byte("a"))
	}
	w.Close()
	check("100 one-byte writes", bitRsv1, msg100)
	w, _ = c.NextWriter(TextMessage)
	io.Copy(w, strings.NewReader(string(msg100)))
	w.Close()
	check("ReadFrom", bitRsv1, msg100)

	c.EnableWriteCompression(false)
	c.WriteMessage(BinaryMessage, msg100)
	check("disabled", 0, msg100)
	c.EnableWriteCompression(true)
	for _, level := range []int{-2, -1, 0, 1, 9} {
		if err := c.SetCompressionLevel(level); err != nil {
			t.Fatal(err)
		}
		c.WriteMessage(BinaryMessage, msg100)
		check(fmt.Sprint("level ", level), bitRsv1, msg100)
	}
	if c.SetCompressionLevel(10) == nil {
		t.Fatal("level 10 accepted")
	}
}

func TestCompress_emptyMessageWhenCompressingAll(t *testing.T) {
	t.Parallel()
	c, nc := pmdPair(t, pmdNoTakeover, 0, 0)
	go c.WriteMessage(TextMessage, nil)
	m := pmdRead(t, bufio.NewReader(nc))
	if m.rsv != bitRsv1 || !bytes.Equal(m.payload, []byte{0}) {
		t.Fatalf("empty message sent as rsv %#x payload %x, want RSV1 and 00 (RFC 7692 §7.2.3.6)", m.rsv, m.payload)
	}
}

// TestCompress_largeMessageFrames: a compressed message bigger than the
// write buffer goes out in several frames, RSV1 on the first only.
func TestCompress_largeMessageFrames(t *testing.T) {
	t.Parallel()
	c, nc := pmdPair(t, pmdNoTakeover, 0, 0)
	msg := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range msg {
		msg[i] = byte(rng.IntN(4)) + 'a'
	}
	go c.WriteMessage(BinaryMessage, msg)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	m := pmdRead(t, bufio.NewReader(nc))
	if m.frames < 2 || m.rsv != bitRsv1 {
		t.Fatalf("%d frames, rsv %#x", m.frames, m.rsv)
	}
	got, err := (&pmdInflater{}).inflate(m.payload)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("inflate: %v", err)
	}
}

// TestCompress_limitedServerWindow: with server_max_window_bits < 15 the
// server sends Huffman-only blocks, which have no back-references.
func TestCompress_limitedServerWindow(t *testing.T) {
	t.Parallel()
	p := pmdNoTakeover
	p.serverBits = 9
	c, nc := pmdPair(t, p, 0, 0)
	if c.pmd.writeLevel(c) != flate.HuffmanOnly {
		t.Fatal("limited window does not use Huffman-only blocks")
	}
	msg := bytes.Repeat([]byte("abcdefgh"), 1000)
	go c.WriteMessage(BinaryMessage, msg)
	m := pmdRead(t, bufio.NewReader(nc))
	got, err := (&pmdInflater{}).inflate(m.payload)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatal("echo differs")
	}
	if len(m.payload) < len(msg)*3/8 {
		t.Fatalf("%d bytes for 8000: back-references were used", len(m.payload))
	}
}

// TestPreparedMessage_compressedOncePerLevel: connections that compress at
// the same level share one frame; a takeover connection stays consistent
// after sending it.
func TestPreparedMessage_compressedOncePerLevel(t *testing.T) {
	t.Parallel()
	msg := bytes.Repeat([]byte("broadcast "), 100)
	pm, err := NewPreparedMessage(TextMessage, msg)
	if err != nil {
		t.Fatal(err)
	}
	type peer struct {
		c   *Conn
		br  *bufio.Reader
		inf *pmdInflater
	}
	var peers []peer
	for i, p := range []deflateParams{pmdNoTakeover, pmdNoTakeover, pmdTakeover} {
		c, nc := pmdPair(t, p, 0, 0)
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		if i == 1 {
			c.SetCompressionLevel(9)
		}
		peers = append(peers, peer{c, bufio.NewReader(nc), &pmdInflater{takeover: !p.serverNoTakeover}})
	}
	for round := range 3 {
		for _, p := range peers {
			go p.c.WritePreparedMessage(pm)
			m := pmdRead(t, p.br)
			got, err := p.inf.inflate(m.payload)
			if m.rsv != bitRsv1 || err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("round %d: prepared message differs", round)
			}
			// An ordinary message after it must use a consistent history.
			go p.c.WriteMessage(TextMessage, msg)
			m = pmdRead(t, p.br)
			if got, err := p.inf.inflate(m.payload); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("round %d: message after the prepared one differs", round)
			}
		}
	}
	n := 0
	for _, f := range pm.deflated {
		if f != nil {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d compressed frames cached, want 2 (levels 1 and 9)", n)
	}
}

// ---- fuzzing the inflate path ----

// FuzzInflate feeds arbitrary compressed payloads, whole or fragmented,
// to a connection and compares what it reads with compress/flate.
func FuzzInflate(f *testing.F) {
	for _, s := range []string{"f248cdc9c90700", "f348cdc9c9070000", "000500faff48656c6c6f00", "f24805000000ffffcac9c90700", "00", "", "0700"} {
		z, _ := hex.DecodeString(s)
		f.Add(z, uint8(0), false)
		f.Add(z, uint8(3), true)
	}
	f.Add((&pmdDeflater{}).compress(bytes.Repeat([]byte("fuzz "), 3000)), uint8(100), false)
	f.Fuzz(func(t *testing.T, payload []byte, frag uint8, text bool) {
		const limit = 16 << 10
		c, nc := newFuzzConn(payload, int(frag), text, limit)
		defer nc.Close()
		_, got, err := c.ReadMessage()

		// The reference: compress/flate on payload + tail, reading no more
		// than the limit and a byte.
		tail := deflateTail[:]
		if len(payload) == 0 {
			tail = tail[4:]
		}
		src := bytes.NewReader(append(bytes.Clone(payload), tail...))
		want, rerr := io.ReadAll(io.LimitReader(flate.NewReader(src), limit+1))
		consumedPayload := int(src.Size())-src.Len() >= len(payload)
		switch {
		case err == nil:
			if len(got) > limit {
				t.Fatalf("read %d bytes past the limit", len(got))
			}
			if !bytes.HasPrefix(got, want) && rerr == nil {
				t.Fatalf("read %q, flate %q", got, want)
			}
			if text && !validUTF8(got) {
				t.Fatal("invalid UTF-8 accepted")
			}
		case rerr == nil && consumedPayload && len(want) <= limit && (!text || validUTF8(want)):
			t.Fatalf("flate reads %d bytes, the connection fails: %v", len(want), err)
		}
	})
}

func validUTF8(b []byte) bool {
	var v utf8Validator
	return v.feed(b) && v.done()
}

// newFuzzConn returns a connection whose peer has sent payload as one
// compressed message, in frames of frag bytes (0: one frame).
func newFuzzConn(payload []byte, frag int, text bool, limit int64) (*Conn, net.Conn) {
	op := byte(opBinary)
	if text {
		op = opText
	}
	var in []byte
	if frag == 0 || len(payload) == 0 {
		in = pmdFrame(true, bitRsv1, op, payload)
	} else {
		for i := 0; i < len(payload); i += frag {
			end := min(i+frag, len(payload))
			o, rsv := byte(opContinuation), byte(0)
			if i == 0 {
				o, rsv = op, bitRsv1
			}
			in = append(in, pmdFrame(end == len(payload), rsv, o, payload[i:end])...)
		}
	}
	nc := &fuzzNetConn{}
	return newConn(nc, connConfig{readLimit: limit, deflate: deflateConfig{enabled: true, params: pmdTakeover}}, in), nc
}

// fuzzNetConn is a net.Conn at EOF that swallows writes.
type fuzzNetConn struct{ net.Conn }

func (fuzzNetConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (fuzzNetConn) Write(b []byte) (int, error)      { return len(b), nil }
func (fuzzNetConn) Close() error                     { return nil }
func (fuzzNetConn) SetDeadline(time.Time) error      { return nil }
func (fuzzNetConn) SetReadDeadline(time.Time) error  { return nil }
func (fuzzNetConn) SetWriteDeadline(time.Time) error { return nil }
func (fuzzNetConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (fuzzNetConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }

// ---- benchmarks ----

// pmdLoopConn is a net.Conn whose peer sends the same bytes over and over
// and discards what it is sent.
type pmdLoopConn struct {
	fuzzNetConn
	in  []byte
	off int
}

func (l *pmdLoopConn) Read(p []byte) (int, error) {
	n := copy(p, l.in[l.off:])
	l.off = (l.off + n) % len(l.in)
	return n, nil
}

func pmdLoopServer(frame []byte, p *deflateParams) *Conn {
	cfg := connConfig{}
	if p != nil {
		cfg.deflate = deflateConfig{enabled: true, params: *p, threshold: DefaultCompressionThreshold}
	}
	return newConn(&pmdLoopConn{in: frame}, cfg, nil)
}

var pmdModes = []struct {
	name string
	p    *deflateParams
}{
	{"plain", nil},
	{"no-takeover", &pmdNoTakeover},
	{"client-takeover", &deflateParams{serverNoTakeover: true, serverBits: 15, clientBits: 15}},
	{"takeover", &pmdTakeover},
}

// BenchmarkCompressEcho reads a compressed text message and writes it
// back compressed, on a connection over an in-memory peer, so the figures
// are the server's alone ("plain": the same text uncompressed).
func BenchmarkCompressEcho(b *testing.B) {
	for _, mode := range pmdModes {
		for _, n := range []int{256, 4 << 10, 64 << 10} {
			b.Run(mode.name+"/"+sizeName(n), func(b *testing.B) {
				msg := pmdText(rand.New(rand.NewPCG(1, 1)), n)
				frame := pmdFrame(true, 0, opText, msg)
				if mode.p != nil {
					frame = pmdFrame(true, bitRsv1, opText, (&pmdDeflater{}).compress(msg))
				}
				c := pmdLoopServer(frame, mode.p)
				echo := func() {
					mt, p, err := c.ReadMessage()
					if err != nil || len(p) != len(msg) {
						b.Fatalf("read %d bytes: %v", len(p), err)
					}
					if err := c.WriteMessage(mt, p); err != nil {
						b.Fatal(err)
					}
				}
				echo() // warm the pools
				b.SetBytes(int64(n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					echo()
				}
			})
		}
	}
}

// BenchmarkCompressPreparedBroadcast sends one 4 KiB text message to 64
// compressing connections per iteration: as a PreparedMessage (compressed
// once) and, as the baseline, with WriteMessage (compressed per
// connection).
func BenchmarkCompressPreparedBroadcast(b *testing.B) {
	const conns = 64
	msg := pmdText(rand.New(rand.NewPCG(2, 2)), 4<<10)
	var cs []*Conn
	for range conns {
		cs = append(cs, pmdLoopServer([]byte{0}, &pmdNoTakeover))
	}
	b.Run("prepared", func(b *testing.B) {
		b.SetBytes(int64(len(msg) * conns))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			pm, _ := NewPreparedMessage(TextMessage, msg)
			for _, c := range cs {
				if err := c.WritePreparedMessage(pm); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("per-conn", func(b *testing.B) {
		b.SetBytes(int64(len(msg) * conns))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			for _, c := range cs {
				if err := c.WriteMessage(TextMessage, msg); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkCompressConnMemory measures what an idle connection keeps after
// it has read and written one compressed 1 KiB message, in each
// negotiation mode, reported as B/conn (live heap after GC, pools
// emptied, divided by the connections). The figures are quoted in the
// documentation of compress.go and Upgrader.CompressionContextTakeover.
func BenchmarkCompressConnMemory(b *testing.B) {
	const conns = 50
	msg := pmdText(rand.New(rand.NewPCG(3, 3)), 1<<10)
	for _, mode := range pmdModes {
		b.Run(mode.name, func(b *testing.B) {
			frame := pmdFrame(true, 0, opText, msg)
			if mode.p != nil {
				frame = pmdFrame(true, bitRsv1, opText, (&pmdDeflater{}).compress(msg))
			}
			var perConn float64
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				before := pmdLiveHeap()
				cs := make([]*Conn, conns)
				for j := range cs {
					cs[j] = pmdLoopServer(frame, mode.p)
					mt, p, err := cs[j].ReadMessage()
					if err != nil {
						b.Fatal(err)
					}
					cs[j].WriteMessage(mt, p)
				}
				after := pmdLiveHeap()
				perConn += float64(after-before) / conns
				runtime.KeepAlive(cs)
			}
			b.ReportMetric(perConn/float64(b.N), "B/conn")
		})
	}
}

func pmdLiveHeap() int64 {
	var s runtime.MemStats
	runtime.GC()
	runtime.GC() // the second cycle empties the sync.Pools' victim caches
	runtime.ReadMemStats(&s)
	return int64(s.HeapAlloc)
}
