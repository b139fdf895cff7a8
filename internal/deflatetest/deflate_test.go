package deflatetest

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/leakcheck"
)

// Conformance of permessage-deflate in the style of Autobahn|Testsuite
// groups 12 (compressed messages, default offer) and 13 (the parameter
// combinations), against a real websocket.Upgrader echo server, through
// this package's independent client.
//
// Run: go test -race -count=1 ./internal/deflatetest/

func TestMain(m *testing.M) { leakcheck.Main(m) }

// echoServer starts an HTTP server whose handler upgrades with u and
// echoes every message, whole (ReadMessage/WriteMessage) or streamed
// (NextReader/NextWriter).
func echoServer(t *testing.T, u *websocket.Upgrader, stream bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			if !stream {
				mt, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				if c.WriteMessage(mt, p) != nil {
					return
				}
				continue
			}
			mt, rd, err := c.NextReader()
			if err != nil {
				return
			}
			wr, err := c.NextWriter(mt)
			if err != nil {
				return
			}
			if _, err := io.Copy(wr, rd); err != nil {
				return
			}
			if wr.Close() != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Autobahn's sizes, 16 B to 128 KiB. Each size sends up to 1,000
// messages (as Autobahn does), fewer for the large ones so that a case
// moves about 256 KiB per size (much less with -race or -short).
var sizes = []int{16, 64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 128 << 10}

func countFor(size int) int {
	count, volume := 1000, 256<<10
	switch {
	case testing.Short():
		count, volume = 20, 64<<10
	case raceEnabled: // the race detector slows flate down tenfold
		count, volume = 100, 32<<10
	}
	return min(count, max(2, volume/size))
}

// windowBits lists the window sizes to test: all of 8 to 15, or a
// sample with -race or -short.
func windowBits() []int {
	if testing.Short() || raceEnabled {
		return []int{8, 9, 12, 15}
	}
	return []int{8, 9, 10, 11, 12, 13, 14, 15}
}

// payload makes a message of n bytes: compressible UTF-8 text built from
// a small vocabulary (with some repetition across messages for context
// takeover to find), or random bytes.
func payload(rng *rand.Rand, n int, text bool) []byte {
	b := make([]byte, 0, n+8)
	if !text {
		for len(b) < n {
			b = append(b, byte(rng.Uint32()))
		}
		return b
	}
	words := []string{"permessage", "deflate", "window", "takeover", "é", "∑", "🙂", " ", " ", "\n", "0", "1", "{\"k\":", "}"}
	for len(b) < n {
		b = append(b, words[rng.IntN(len(words))]...)
	}
	for len(b) > n { // trim to a rune boundary
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

type exchange struct {
	text     bool
	frag     int // client frame size, 0: one frame
	compress bool
}

// run sends count messages of each size through c and checks each echo.
// A goroutine sends while the test reads, as a pipelining client would.
func run(t *testing.T, c *Client, ex exchange, sizes []int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(len(sizes)), uint64(ex.frag)))
	op := byte(OpBinary)
	if ex.text {
		op = OpText
	}
	var msgs [][]byte
	for _, size := range sizes {
		for range countFor(size) {
			msgs = append(msgs, payload(rng, size, ex.text))
		}
	}
	sent := make(chan error, 1)
	go func() {
		for _, msg := range msgs {
			if err := c.SendMessage(op, msg, ex.compress, ex.frag); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	compressed := 0
	for i, msg := range msgs {
		m, err := c.ReadMessage()
		if err != nil {
			c.Close()
			t.Fatalf("message %d (%d bytes): %v (send: %v)", i, len(msg), err, <-sent)
		}
		if m.Op != op || !bytes.Equal(m.Payload, msg) {
			c.Close()
			<-sent
			t.Fatalf("message %d (%d bytes): echo differs (op %d, %d bytes)", i, len(msg), m.Op, len(m.Payload))
		}
		if m.Compressed {
			compressed++
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if sizes[len(sizes)-1] >= websocket.DefaultCompressionThreshold && compressed == 0 {
		t.Fatal("the server compressed none of its echoes")
	}
}

func dial(t *testing.T, addr string, offers ...Offer) *Client {
	t.Helper()
	var line []string
	for _, o := range offers {
		line = append(line, o.String())
	}
	c, err := Dial(addr, []string{strings.Join(line, ", ")}, offers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if !c.Negotiated {
		t.Fatalf("permessage-deflate not negotiated for %q", line)
	}
	return c
}

// Group 12: compressed echo with the offers browsers make, text and
// binary, whole and auto-fragmented, against both echo styles.
func TestGroup12_defaultOffers(t *testing.T) {
	t.Parallel()
	offers := map[string]Offer{
		"chrome":   {ClientMaxWindowBits: -1},
		"firefox":  {},
		"autobahn": {ClientNoContextTakeover: true, ClientMaxWindowBits: -1},
	}
	for name, offer := range offers {
		for _, stream := range []bool{false, true} {
			exchanges := []exchange{{text: true, compress: true}}
			if name == "chrome" {
				exchanges = append(exchanges,
					exchange{text: false, compress: true},
					exchange{text: true, compress: true, frag: 1000},
					exchange{text: true, compress: false})
			}
			for _, ex := range exchanges {
				t.Run(fmt.Sprintf("%s/stream=%v/text=%v/frag=%d/compress=%v", name, stream, ex.text, ex.frag, ex.compress), func(t *testing.T) {
					t.Parallel()
					c := dial(t, echoServer(t, &websocket.Upgrader{EnableCompression: true}, stream), offer)
					if !c.Params.ServerNoContextTakeover || !c.Params.ClientNoContextTakeover {
						t.Fatalf("default Upgrader answered %q, want no context takeover both ways", c.Answer)
					}
					run(t, c, ex, sizes)
				})
			}
		}
	}
}

// Group 13: the parameter combinations Autobahn offers (13.1-13.7),
// against a server that allows context takeover and one that does not.
func TestGroup13_offers(t *testing.T) {
	t.Parallel()
	base := Offer{ClientNoContextTakeover: true, ClientMaxWindowBits: -1}
	with := func(snct bool, sbits int) Offer {
		o := base
		o.ServerNoContextTakeover, o.ServerMaxWindowBits = snct, sbits
		return o
	}
	cases := []struct {
		name   string
		offers []Offer
	}{
		{"13.1 default", []Offer{base}},
		{"13.2 server_no_context_takeover", []Offer{with(true, 0)}},
		{"13.3 server_max_window_bits=8", []Offer{with(false, 8)}},
		{"13.4 server_max_window_bits=15", []Offer{with(false, 15)}},
		{"13.5 no takeover, window 8", []Offer{with(true, 8)}},
		{"13.6 no takeover, window 15", []Offer{with(true, 15)}},
		{"13.7 three offers", []Offer{with(true, 8), with(true, 0), with(false, 0)}},
	}
	for _, tc := range cases {
		for _, takeover := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/takeover=%v", tc.name, takeover), func(t *testing.T) {
				t.Parallel()
				u := &websocket.Upgrader{EnableCompression: true, CompressionContextTakeover: takeover}
				c := dial(t, echoServer(t, u, false), tc.offers...)
				if o := tc.offers[0]; o.ServerMaxWindowBits != 0 && c.Params.ServerMaxWindowBits != o.ServerMaxWindowBits {
					t.Fatalf("answer %q does not take the first offer", c.Answer)
				}
				run(t, c, exchange{text: true, compress: true}, sizes)
			})
		}
	}
}

// TestTakeoverCombinations runs 1,000 messages per size with each of the
// four combinations of server and client context takeover the client can
// ask of a server that allows it, and checks the answer grants exactly
// what was asked.
func TestTakeoverCombinations(t *testing.T) {
	t.Parallel()
	for _, snct := range []bool{false, true} {
		for _, cnct := range []bool{false, true} {
			t.Run(fmt.Sprintf("server_no_context_takeover=%v/client_no_context_takeover=%v", snct, cnct), func(t *testing.T) {
				t.Parallel()
				u := &websocket.Upgrader{EnableCompression: true, CompressionContextTakeover: true}
				addr := echoServer(t, u, true)
				c := dial(t, addr, Offer{ServerNoContextTakeover: snct, ClientNoContextTakeover: cnct, ClientMaxWindowBits: -1})
				if c.Params.ServerNoContextTakeover != snct || c.Params.ClientNoContextTakeover != cnct {
					t.Fatalf("answer %q for server %v client %v", c.Answer, snct, cnct)
				}
				c.Level = 6 // so that the client's messages refer to earlier ones
				run(t, c, exchange{text: true, compress: true}, sizes[:5])
				run(t, c, exchange{text: true, compress: true, frag: 100}, sizes[:5])
			})
		}
	}
}

// TestServerWindowBits: for server_max_window_bits from 8 to 15 every
// echo is decoded by a decoder that refuses any back-reference beyond
// the window.
func TestServerWindowBits(t *testing.T) {
	t.Parallel()
	for _, bits := range windowBits() {
		for _, takeover := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/takeover=%v", bits, takeover), func(t *testing.T) {
				t.Parallel()
				u := &websocket.Upgrader{EnableCompression: true, CompressionContextTakeover: takeover}
				c := dial(t, echoServer(t, u, false), Offer{ServerMaxWindowBits: bits, ClientMaxWindowBits: -1})
				if c.Params.ServerMaxWindowBits != bits {
					t.Fatalf("answer %q", c.Answer)
				}
				run(t, c, exchange{text: true, compress: true}, []int{256, 4 << 10, 64 << 10})
			})
		}
	}
}

// TestClientWindowBits: the client compresses with windows of 8 to 15
// bits using back-references that reach to the window's edge, into its
// earlier messages when it takes over its context; the server inflates
// them all.
func TestClientWindowBits(t *testing.T) {
	t.Parallel()
	for _, bits := range windowBits() {
		for _, takeover := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/takeover=%v", bits, takeover), func(t *testing.T) {
				t.Parallel()
				u := &websocket.Upgrader{EnableCompression: true, CompressionContextTakeover: takeover}
				c := dial(t, echoServer(t, u, false), Offer{ClientMaxWindowBits: bits})
				if c.Params.ClientMaxWindowBits != bits {
					t.Fatalf("answer %q leaves the client window at %d", c.Answer, c.Params.ClientMaxWindowBits)
				}
				if c.Params.ClientNoContextTakeover == takeover {
					t.Fatalf("answer %q", c.Answer)
				}
				// Messages that repeat with a period just inside the
				// window, so the encoder's longest matches sit at its edge.
				window := 1 << bits
				rng := rand.New(rand.NewPCG(uint64(bits), 1))
				block := payload(rng, window-16, true)
				for i := range 40 {
					n := []int{16, window / 3, window, 3 * window}[i%4]
					var msg []byte
					for len(msg) < n {
						msg = append(msg, block...)
					}
					msg = msg[:n]
					if err := c.SendMessage(OpBinary, msg, true, 0); err != nil {
						t.Fatal(err)
					}
					m, err := c.ReadMessage()
					if err != nil {
						t.Fatalf("message %d: %v", i, err)
					}
					if !bytes.Equal(m.Payload, msg) {
						t.Fatalf("message %d (%d bytes) echoed wrong", i, n)
					}
				}
			})
		}
	}
}

// TestDeclinedOffers: offers the server cannot honour leave the
// connection uncompressed but working, and RSV1 from the client is then
// a protocol error.
func TestDeclinedOffers(t *testing.T) {
	t.Parallel()
	addr := echoServer(t, &websocket.Upgrader{EnableCompression: true}, false)
	for _, line := range []string{
		"permessage-deflate; server_max_window_bits=7",
		"permessage-deflate; client_max_window_bits=16",
		"permessage-deflate; unknown_parameter",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		"permessage-deflate; server_max_window_bits",
		`permessage-deflate; x="unterminated`,
		"x-webkit-deflate-frame",
	} {
		t.Run(line, func(t *testing.T) {
			c, err := Dial(addr, []string{line}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Negotiated || c.Answer != "" {
				t.Fatalf("answered %q", c.Answer)
			}
			if err := c.SendMessage(OpText, []byte("plain"), false, 0); err != nil {
				t.Fatal(err)
			}
			if m, err := c.ReadMessage(); err != nil || string(m.Payload) != "plain" {
				t.Fatalf("echo %q, %v", m.Payload, err)
			}
			c.Negotiated, c.Params = true, Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15} // pretend
			c.SendMessage(OpText, []byte("compressed"), true, 0)
			if code, err := c.ExpectClose(); err != nil || code != 1002 {
				t.Fatalf("close %d, %v; want 1002", code, err)
			}
		})
	}
}

// TestBomb: a message that inflates past the read limit gets 1009.
func TestBomb(t *testing.T) {
	t.Parallel()
	u := &websocket.Upgrader{EnableCompression: true, ReadLimit: 64 << 10}
	c := dial(t, echoServer(t, u, false), Offer{})
	if err := c.SendMessage(OpBinary, make([]byte, 4<<20), true, 0); err != nil {
		t.Fatal(err)
	}
	if code, err := c.ExpectClose(); err != nil || code != 1009 {
		t.Fatalf("close %d, %v; want 1009", code, err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	for _, window := range []int{256, 1 << 12, 1 << 15} {
		var hist []byte
		for range 12 {
			msg := payload(rng, rng.IntN(2*window), true)
			z := Encode(hist, msg, window)
			out, err := Decode(hist, append(z, 0, 0, 0xff, 0xff), window)
			if err != nil || !bytes.Equal(out, msg) {
				t.Fatalf("window %d: %v", window, err)
			}
			hist = keepLast(append(hist, msg...), window)
		}
		// Random bytes repeated at a distance just inside the window:
		// the only matches are that far back, which a decoder with half
		// the window refuses.
		block := payload(rng, window-16, false)
		z := Encode(nil, append(bytes.Clone(block), block...), window)
		if len(z) > window+window/2 {
			t.Fatalf("window %d: no back-reference made (%d bytes)", window, len(z))
		}
		if _, err := Decode(nil, append(z, 0, 0, 0xff, 0xff), window/2); err == nil {
			t.Fatalf("window %d: decoder accepted a distance beyond its window", window)
		}
	}
}
