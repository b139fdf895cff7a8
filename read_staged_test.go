package websocket

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// ReadMessage of a large single-frame message returns its bytes intact
// however they arrive: at once (the result is allocated whole and read
// into), in 64 KiB pieces (staged in chunks, then allocated whole part of
// the way), or after a stall 100 bytes in (staged from the start) — over
// a raw socket, where the kernel's receive queue is asked, and over
// net.Pipe, where it is not.
func TestReadMessage_largeFrame_intactHoweverItArrives(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{64<<10 + 1, 300 << 10, 1 << 20, 3 << 20} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(r.Uint32())
		}
		wire := clientFrame(opBinary, string(payload))
		for _, transport := range []string{"tcp", "pipe"} {
			for _, pacing := range []string{"at once", "64 KiB pieces", "stall after 100 bytes"} {
				server, client := net.Pipe()
				if transport == "tcp" {
					server, client = tcpPair(t)
				}
				c := newConn(server, connConfig{readLimit: 8 << 20}, nil)
				go writePaced(client, wire, pacing)
				_, got, err := c.ReadMessage()
				if err != nil || !bytes.Equal(got, payload) {
					t.Fatalf("%d bytes, %s, %s: %v, %d bytes, equal %v", size, transport, pacing, err, len(got), bytes.Equal(got, payload))
				}
				if cap(got) > size+size/8 {
					t.Errorf("%d bytes, %s, %s: result capacity %d", size, transport, pacing, cap(got))
				}
				c.Close()
				client.Close()
			}
		}
	}
}

// writePaced writes wire to nc at the given pacing (see the test above).
func writePaced(nc net.Conn, wire []byte, pacing string) {
	switch pacing {
	case "at once":
		nc.Write(wire)
	case "64 KiB pieces":
		for len(wire) > 0 {
			n := min(len(wire), 64<<10)
			if _, err := nc.Write(wire[:n]); err != nil {
				return
			}
			wire = wire[n:]
			time.Sleep(time.Millisecond)
		}
	default:
		if _, err := nc.Write(wire[:114]); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
		nc.Write(wire[114:])
	}
}

// The raw socket's queued reports the bytes waiting in the kernel's
// receive queue (Linux: FIONREAD); a transport that cannot tell reports 0.
func TestTransport_queued(t *testing.T) {
	t.Parallel()
	server, client := tcpPair(t)
	c := newConn(server, connConfig{}, nil)
	defer c.Close()
	if got := c.tr.queued(); got != 0 {
		t.Fatalf("queued before any byte = %d", got)
	}
	client.Write(make([]byte, 100<<10))
	want := 100 << 10
	if fionreadAsked(c) {
		deadline := time.Now().Add(5 * time.Second)
		for c.tr.queued() != want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	} else {
		want = 0
	}
	if got := c.tr.queued(); got != want {
		t.Fatalf("queued = %d, want %d", got, want)
	}

	p1, p2 := net.Pipe()
	defer p2.Close()
	pc := newConn(p1, connConfig{}, nil)
	defer pc.Close()
	go p2.Write([]byte("waiting"))
	time.Sleep(10 * time.Millisecond)
	if got := pc.tr.queued(); got != 0 {
		t.Fatalf("net.Pipe: queued = %d, want 0", got)
	}
}
