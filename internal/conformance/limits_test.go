package conformance

import (
	"testing"
	"time"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/wstest"
)

// Group 9: big messages and the read limit. Messages up to 16 MiB are echoed
// intact whether they come in one frame, in 64 KiB fragments or in many
// small ones; a message over the connection's read limit fails it with 1009
// as soon as the limit is known to be exceeded.

// bigTimeout bounds each read and write of a big-message case: under -race
// on a loaded machine, a 16 MiB echo is slow.
const bigTimeout = 60 * time.Second

// echoBig sends frames from a separate goroutine (the stream echo writes
// while it reads, so the client must read while it writes) and checks the
// echo.
func echoBig(t *testing.T, c *wstest.Client, op byte, p []byte, frames []wstest.Frame) {
	t.Helper()
	c.Timeout = bigTimeout
	b := encode(frames...)
	errc := make(chan error, 1)
	go func() { errc <- c.WriteRaw(b) }()
	c.ExpectMessage(op, p)
	if err := <-errc; err != nil {
		t.Fatalf("write %d bytes: %v", len(b), err)
	}
	closeNormally(t, c)
}

func TestLimits_bigMessages_echoed(t *testing.T) {
	t.Parallel()
	for _, n := range []int{64 << 10, 1 << 20, 16 << 20} {
		// A 16 MiB echo takes 1.5-3 s of CPU under -race, more on a busy
		// machine.
		if n > 1<<20 && testing.Short() {
			t.Logf("-short: skipping the %s messages", sizeName(n))
			continue
		}
		for _, op := range []byte{wstest.OpText, wstest.OpBinary} {
			p := binaryPayload(n)
			if op == wstest.OpText {
				p = textPayload(n)
			}
			eachEcho(t, opName(op)+"/"+sizeName(n)+"/one frame", func(t *testing.T, c *wstest.Client) {
				echoBig(t, c, op, p, []wstest.Frame{wstest.Msg(op, p)})
			})
			eachEcho(t, opName(op)+"/"+sizeName(n)+"/64KiB fragments", func(t *testing.T, c *wstest.Client) {
				echoBig(t, c, op, p, fragments(op, p, 64<<10))
			})
		}
	}
}

// Autobahn 9.3/9.4: one message in many small fragments.
func TestLimits_manySmallFragments_echoed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		n, size int
	}{
		{64 << 10, 64},
		{1 << 20, 256},
		{4 << 20, 4 << 10},
	}
	for _, tc := range cases {
		for _, op := range []byte{wstest.OpText, wstest.OpBinary} {
			p := binaryPayload(tc.n)
			if op == wstest.OpText {
				p = textPayload(tc.n)
			}
			eachEcho(t, opName(op)+"/"+sizeName(tc.n)+"/"+sizeName(tc.size)+" fragments", func(t *testing.T, c *wstest.Client) {
				echoBig(t, c, op, p, fragments(op, p, tc.size))
			})
		}
	}
}

// limitModes are the two ways of setting a 1024-byte read limit.
var limitModes = []struct {
	name string
	up   func() *websocket.Upgrader
	h    func(*websocket.Conn)
}{
	{"SetReadLimit", func() *websocket.Upgrader { return &websocket.Upgrader{} }, func(c *websocket.Conn) {
		c.SetReadLimit(1024)
		echoMessages(c)
	}},
	{"Upgrader.ReadLimit", func() *websocket.Upgrader { return &websocket.Upgrader{ReadLimit: 1024} }, echoMessages},
	{"SetReadLimit stream", func() *websocket.Upgrader { return &websocket.Upgrader{} }, func(c *websocket.Conn) {
		c.SetReadLimit(1024)
		echoStream(c)
	}},
}

// eachLimit runs f as a parallel subtest for each way of setting a 1024-byte
// read limit.
func eachLimit(t *testing.T, name string, f func(t *testing.T, c *wstest.Client)) {
	for _, m := range limitModes {
		t.Run(name+"/"+m.name, func(t *testing.T) {
			t.Parallel()
			f(t, dial(t, m.up(), m.h))
		})
	}
}

func TestLimits_readLimit_atLimitEchoed(t *testing.T) {
	t.Parallel()
	eachLimit(t, "1024 in one frame", func(t *testing.T, c *wstest.Client) {
		p := textPayload(1024)
		c.Send(text(string(p)))
		c.ExpectMessage(wstest.OpText, p)
		closeNormally(t, c)
	})
	eachLimit(t, "1024 in fragments", func(t *testing.T, c *wstest.Client) {
		p := binaryPayload(1024)
		c.Send(fragments(wstest.OpBinary, p, 300)...)
		c.ExpectMessage(wstest.OpBinary, p)
		closeNormally(t, c)
	})
}

func TestLimits_readLimit_overLimit_closes1009(t *testing.T) {
	t.Parallel()
	eachLimit(t, "1025 in one frame", func(t *testing.T, c *wstest.Client) {
		c.Send(binary(binaryPayload(1025)))
		c.ExpectCloseNext(1009)
	})
	eachLimit(t, "512+513 in fragments", func(t *testing.T, c *wstest.Client) {
		p := textPayload(1025)
		c.Send(frag(wstest.OpText, false, string(p[:512])), cont(true, string(p[512:])))
		c.ExpectClose(1009)
	})
	eachLimit(t, "after a message at the limit", func(t *testing.T, c *wstest.Client) {
		p := binaryPayload(1024)
		c.SendRaw(encode(binary(p), binary(binaryPayload(2000))))
		c.ExpectMessage(wstest.OpBinary, p)
		c.ExpectCloseNext(1009)
	})
	// The header alone shows the limit is exceeded: the server must not wait
	// for (or read) the payload, which is withheld here.
	eachLimit(t, "1MiB header, payload withheld", func(t *testing.T, c *wstest.Client) {
		b := encode(binary(binaryPayload(1 << 20)))
		c.SendRaw(b[:14+10])
		c.ExpectCloseNext(1009)
	})
	eachLimit(t, "2nd fragment header crosses limit, payload withheld", func(t *testing.T, c *wstest.Client) {
		first := encode(frag(wstest.OpBinary, false, string(binaryPayload(1000))))
		second := encode(cont(true, string(binaryPayload(100))))
		c.SendRaw(append(first, second[:6]...))
		c.ExpectClose(1009)
	})
}
