package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"testing"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// snapshot decodes the "websocket" map as /debug/vars would show it.
func snapshot(t *testing.T, m *metrics) map[string]any {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(m.root.String()), &got); err != nil {
		t.Fatalf("the map is not JSON: %v\n%s", err, m.root.String())
	}
	return got
}

func TestMetrics_startEmptyWithExactlyTheSevenKeys(t *testing.T) {
	want := map[string]any{
		"handshakes": map[string]any{}, "active": 0.0,
		"messages_received": map[string]any{}, "messages_sent": map[string]any{},
		"bytes_received": 0.0, "bytes_sent": 0.0, "closes": map[string]any{},
	}
	if got := snapshot(t, newMetrics()); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// TestMetrics_syntheticEvents feeds the hooks the events of a known mix of
// traffic and checks every key of the map.
func TestMetrics_syntheticEvents(t *testing.T) {
	m := newMetrics()
	h := m.hooks()
	accept := websocket.HandshakeEvent{Protocol: websocket.ProtocolRFC6455, Status: 101}
	for i := 0; i < 3; i++ {
		h.HandshakeAccepted(nil, accept)
	}
	h.HandshakeAccepted(nil, websocket.HandshakeEvent{Protocol: websocket.ProtocolHixie76, Status: 101})
	h.HandshakeRefused(&http.Request{}, websocket.RefusedEvent{Status: 426, Reason: errors.New("version")})
	h.HandshakeRefused(nil, websocket.RefusedEvent{Status: 403, Reason: errors.New("origin")})
	h.HandshakeRefused(nil, websocket.RefusedEvent{Status: 403, Reason: errors.New("origin")})
	// 3 text and 1 binary echoed; payload counts, not wire bytes.
	for _, e := range []websocket.MessageEvent{
		{Type: websocket.TextMessage, Payload: 5, Wire: 11},
		{Type: websocket.TextMessage, Payload: 1000, Wire: 60, Compressed: true},
		{Type: websocket.TextMessage, Payload: 0, Wire: 6},
		{Type: websocket.BinaryMessage, Payload: 70000, Wire: 70014},
	} {
		h.MessageRead(nil, e)
		e.Wire -= 4 // a server sends no mask key
		h.MessageWritten(nil, e)
	}
	h.Closed(nil, websocket.CloseEvent{Initiator: websocket.ClosePeer, Code: 1000, Clean: true})
	h.Closed(nil, websocket.CloseEvent{Initiator: websocket.CloseLocal, Code: 1002})
	h.Closed(nil, websocket.CloseEvent{Initiator: websocket.CloseAbnormal, Code: 1006})
	// Events the map does not count must leave it alone: the hooks are nil.
	if h.Ping != nil || h.Pong != nil || h.ProtocolError != nil || h.QueueFull != nil || h.HeartbeatTimeout != nil {
		t.Fatal("hooks set for events the map does not count")
	}

	want := map[string]any{
		"handshakes":        map[string]any{"101": 4.0, "426": 1.0, "403": 2.0},
		"active":            1.0,
		"messages_received": map[string]any{"text": 3.0, "binary": 1.0},
		"messages_sent":     map[string]any{"text": 3.0, "binary": 1.0},
		"bytes_received":    71005.0,
		"bytes_sent":        71005.0,
		"closes":            map[string]any{"peer:1000": 1.0, "local:1002": 1.0, "abnormal:1006": 1.0},
	}
	if got := snapshot(t, m); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

// TestMetrics_concurrentHooksCountExactly calls the hooks from many
// goroutines at once, as connections do (and the race detector watches).
func TestMetrics_concurrentHooksCountExactly(t *testing.T) {
	m := newMetrics()
	h := m.hooks()
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				h.HandshakeAccepted(nil, websocket.HandshakeEvent{Status: 101})
				h.MessageRead(nil, websocket.MessageEvent{Type: websocket.BinaryMessage, Payload: 3})
				h.MessageWritten(nil, websocket.MessageEvent{Type: websocket.TextMessage, Payload: 2})
				h.Closed(nil, websocket.CloseEvent{Initiator: websocket.ClosePeer, Code: 1001})
			}
		}()
	}
	wg.Wait()
	const n = float64(workers * each)
	want := map[string]any{
		"handshakes":        map[string]any{"101": n},
		"active":            0.0,
		"messages_received": map[string]any{"binary": n},
		"messages_sent":     map[string]any{"text": n},
		"bytes_received":    3 * n,
		"bytes_sent":        2 * n,
		"closes":            map[string]any{"peer:1001": n},
	}
	if got := snapshot(t, m); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}
