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
