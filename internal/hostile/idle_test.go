package hostile

import (
	"bufio"
	"cmp"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/hixieclient"
	"github.com/hybi/websocket/internal/leakcheck"
	"github.com/hybi/websocket/internal/wstest"
)

// An attacker's cheapest weapon is many connections that upgrade and then
// say nothing. An idle connection holds no read or write buffer and no
// compression state, whatever protocol it speaks: what it costs beyond the
// floor, a hijacked net/http connection whose buffers were let go and
// whose handler goroutine waits in Read, is its Conn and a few small
// structures.
func TestIdleConnections_memoryPerConnection(t *testing.T) {
	const n = 300
	// The baseline moves with whatever the GC finds of earlier tests:
	// the median of three.
	var runs []perConn
	for range 3 {
		runs = append(runs, idleCost(t, n, "hijack", func() string { return hijackServer(t) }))
	}
	slices.SortFunc(runs, func(a, b perConn) int { return cmp.Compare(a.heap, b.heap) })
	baseline := runs[1]
	t.Logf("per idle connection, bare hijack: heap %d B (of %d, %d, %d), stacks %d B", baseline.heap, runs[0].heap, runs[1].heap, runs[2].heap, baseline.stack)
	for _, kind := range []string{"rfc6455", "permessage-deflate", "hixie76"} {
		t.Run(kind, func(t *testing.T) {
			leakcheck.Check(t)
			up := &websocket.Upgrader{EnableCompression: true, EnableHixie76: true}
			cost := idleCost(t, n, kind, func() string { return startServer(t, up, nil, readAll).addr })
			extra := cost.heap - baseline.heap
			t.Logf("per idle %s connection: heap %d B (%+d B over a bare hijack), stacks %d B", kind, cost.heap, extra, cost.stack)
			// The baseline is what an idle connection should cost: a
			// hijacked connection whose net/http buffers were let go and
			// whose goroutine waits in Read. An idle WebSocket adds its
			// Conn (768 B) and a few small structures, and no buffer
			// (measured +0.7 to +1.2 KiB): 2 KiB leaves room for noise,
			// while a 4 KiB buffer kept alive shows well above it.
			if extra > 2048 {
				t.Errorf("each idle %s connection holds %d bytes of heap more than a bare hijacked connection, want at most 2 KiB (its Conn and small structures, no buffer)", kind, extra)
			}
		})
	}
}

type perConn struct{ heap, stack int64 }

// idleCost starts a server, opens n idle connections of kind to it and
// returns the heap and stack each one costs the process (server and
// client ends).
func idleCost(t *testing.T, n int, kind string, start func() string) perConn {
	t.Helper()
	addr := start()
	// One connection first, so that pools and first-use allocations are
	// not counted.
	dialIdle(t, addr, kind)
	time.Sleep(50 * time.Millisecond)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		dialIdle(t, addr, kind)
	}
	time.Sleep(200 * time.Millisecond) // every handler now waits for bytes
	runtime.GC()
	runtime.ReadMemStats(&after)
	return perConn{
		heap:  (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / int64(n),
		stack: (int64(after.StackInuse) - int64(before.StackInuse)) / int64(n),
	}
}

// hijackServer is the baseline: a handler that takes the connection over
// and waits for a byte.
func hijackServer(t *testing.T) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer nc.Close()
		// What an idle connection should cost: net/http's 4 KiB reader
		// and writer are let go, as Upgrade does (they stay referenced
		// from net/http's connection state, so they are emptied).
		*brw.Reader = bufio.Reader{}
		*brw.Writer = bufio.Writer{}
		nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"))
		var b [1]byte
		nc.Read(b[:])
	}))
	t.Cleanup(hs.Close)
	return hs.Listener.Addr().String()
}

// dialIdle opens a connection of the given kind and leaves it idle; the
// test's cleanup closes it.
func dialIdle(t *testing.T, addr, kind string) {
	t.Helper()
	switch kind {
	case "rfc6455":
		wstest.Dial(t, addr, "/", nil)
	case "permessage-deflate":
		dialDeflate(t, addr)
	case "hixie76":
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		if _, err := hixieclient.Handshake(nc, hixieclient.Options{Host: addr}); err != nil {
			t.Fatal(err)
		}
	case "hijack":
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		if _, err := nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		var b [64]byte
		nc.Read(b[:])
	}
}
