package websocket

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

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

// TestCompress_limitedServerWindow: with server_max_window_bits=8 the
// server sends Huffman-only blocks, which have no back-references (from 9
// bits up it compresses in segments: compress_window_test.go).
func TestCompress_limitedServerWindow(t *testing.T) {
	t.Parallel()
	p := pmdNoTakeover
	p.serverBits = 8
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
