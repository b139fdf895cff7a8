package promhooks

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hybi/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// feed calls the hooks with the events of a known mix of traffic: three
// connections (one compressed, one hixie-76) and two refusals; 3 text and 1
// binary echoes; pings both ways; a protocol error; a full queue; a
// heartbeat timeout.
func feed(h *websocket.Hooks) {
	h.HandshakeAccepted(nil, websocket.HandshakeEvent{Protocol: websocket.ProtocolRFC6455, Status: 101})
	h.HandshakeAccepted(nil, websocket.HandshakeEvent{Protocol: websocket.ProtocolRFC6455, Status: 101, Compression: true})
	h.HandshakeAccepted(nil, websocket.HandshakeEvent{Protocol: websocket.ProtocolHixie76, Status: 101, Subprotocol: "chat"})
	h.HandshakeRefused(&http.Request{}, websocket.RefusedEvent{Status: 426, Reason: errors.New("version")})
	h.HandshakeRefused(nil, websocket.RefusedEvent{Status: 403, Reason: errors.New("origin")})
	for _, e := range []websocket.MessageEvent{
		{Type: websocket.TextMessage, Payload: 5, Wire: 11},
		{Type: websocket.TextMessage, Payload: 2000, Wire: 70, Compressed: true},
		{Type: websocket.TextMessage, Payload: 0, Wire: 6},
		{Type: websocket.BinaryMessage, Payload: 1000, Wire: 1008},
	} {
		h.MessageRead(nil, e)
		e.Wire -= 4
		h.MessageWritten(nil, e)
	}
	h.Ping(nil, websocket.ControlEvent{Direction: websocket.DirectionSent, Len: 0})
	h.Pong(nil, websocket.ControlEvent{Direction: websocket.DirectionReceived, Len: 0})
	h.Ping(nil, websocket.ControlEvent{Direction: websocket.DirectionReceived, Len: 4})
	h.Pong(nil, websocket.ControlEvent{Direction: websocket.DirectionSent, Len: 4})
	h.ProtocolError(nil, websocket.ProtocolErrorEvent{Code: 1002, Err: errors.New("reserved opcode")})
	h.QueueFull(nil, websocket.QueueFullEvent{Limit: 64})
	h.HeartbeatTimeout(nil, websocket.HeartbeatTimeoutEvent{Timeout: time.Second})
	h.Closed(nil, websocket.CloseEvent{Initiator: websocket.ClosePeer, Code: 1000, Clean: true})
	h.Closed(nil, websocket.CloseEvent{Initiator: websocket.CloseLocal, Code: 1002})
}

const wantExposition = `
# HELP websocket_closes_total WebSocket connections ended, by who sent the first close frame and its code (abnormal, 1006: none was).
# TYPE websocket_closes_total counter
websocket_closes_total{code="1000",initiator="peer"} 1
websocket_closes_total{code="1002",initiator="local"} 1
# HELP websocket_connections_active WebSocket connections open now.
# TYPE websocket_connections_active gauge
websocket_connections_active 1
# HELP websocket_connections_opened_total WebSocket connections opened, by protocol and whether permessage-deflate was negotiated.
# TYPE websocket_connections_opened_total counter
websocket_connections_opened_total{compression="false",protocol="hixie-76"} 1
websocket_connections_opened_total{compression="false",protocol="rfc6455"} 1
websocket_connections_opened_total{compression="true",protocol="rfc6455"} 1
# HELP websocket_handshakes_total WebSocket opening handshakes answered, by HTTP status (101 accepted).
# TYPE websocket_handshakes_total counter
websocket_handshakes_total{status="101"} 3
websocket_handshakes_total{status="403"} 1
websocket_handshakes_total{status="426"} 1
# HELP websocket_heartbeat_timeouts_total Heartbeats that closed their connection for want of a pong.
# TYPE websocket_heartbeat_timeouts_total counter
websocket_heartbeat_timeouts_total 1
# HELP websocket_messages_received_total Data messages read, by type.
# TYPE websocket_messages_received_total counter
websocket_messages_received_total{type="binary"} 1
websocket_messages_received_total{type="text"} 3
# HELP websocket_messages_sent_total Data messages written, by type.
# TYPE websocket_messages_sent_total counter
websocket_messages_sent_total{type="binary"} 1
websocket_messages_sent_total{type="text"} 3
# HELP websocket_pings_total Ping frames, by direction.
# TYPE websocket_pings_total counter
websocket_pings_total{direction="received"} 1
websocket_pings_total{direction="sent"} 1
# HELP websocket_pongs_total Pong frames, by direction.
# TYPE websocket_pongs_total counter
websocket_pongs_total{direction="received"} 1
websocket_pongs_total{direction="sent"} 1
# HELP websocket_protocol_errors_total Connections failed because of what the peer sent, by the close code sent to it.
# TYPE websocket_protocol_errors_total counter
websocket_protocol_errors_total{code="1002"} 1
# HELP websocket_queue_full_total Messages refused because a connection's send queue was full.
# TYPE websocket_queue_full_total counter
websocket_queue_full_total 1
# HELP websocket_received_payload_bytes_total Payload bytes of the data messages read, after inflating.
# TYPE websocket_received_payload_bytes_total counter
websocket_received_payload_bytes_total{type="binary"} 1000
websocket_received_payload_bytes_total{type="text"} 2005
# HELP websocket_received_wire_bytes_total Bytes the data messages read took on the wire, frame headers included.
# TYPE websocket_received_wire_bytes_total counter
websocket_received_wire_bytes_total{type="binary"} 1008
websocket_received_wire_bytes_total{type="text"} 87
# HELP websocket_sent_payload_bytes_total Payload bytes of the data messages written, before deflating.
# TYPE websocket_sent_payload_bytes_total counter
websocket_sent_payload_bytes_total{type="binary"} 1000
websocket_sent_payload_bytes_total{type="text"} 2005
# HELP websocket_sent_wire_bytes_total Bytes the data messages written took on the wire, frame headers included.
# TYPE websocket_sent_wire_bytes_total counter
websocket_sent_wire_bytes_total{type="binary"} 1004
websocket_sent_wire_bytes_total{type="text"} 75
`

// TestCollector_exposition compares every metric, after a known mix of
// events, with the text a scrape returns.
func TestCollector_exposition(t *testing.T) {
	m := New()
	feed(m.Hooks())
	if err := testutil.CollectAndCompare(m, strings.NewReader(wantExposition)); err != nil {
		t.Fatal(err)
	}
}

// TestCollector_lint runs client_golang's linter (naming conventions:
// _total on counters, base units, help text) over every metric.
func TestCollector_lint(t *testing.T) {
	m := New()
	feed(m.Hooks())
	problems, err := testutil.CollectAndLint(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestCollector_registersOnceAndCoexists: a pedantic registry accepts it
// (its descriptors are consistent) and refuses a second registration of
// the same names; two Collectors coexist when each is registered with a
// label of its own, as the package documentation says.
func TestCollector_registersOnceAndCoexists(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(New()); err != nil {
		t.Fatal(err)
	}
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(New()); !errors.As(err, &are) {
		t.Fatalf("second registration: %v, want AlreadyRegisteredError", err)
	}

	reg = prometheus.NewPedanticRegistry()
	a, b := New(), New()
	for name, m := range map[string]*Collector{"a": a, "b": b} {
		if err := prometheus.WrapRegistererWith(prometheus.Labels{"server": name}, reg).Register(m); err != nil {
			t.Fatal(err)
		}
	}
	a.Hooks().HandshakeAccepted(nil, websocket.HandshakeEvent{Protocol: websocket.ProtocolRFC6455, Status: 101})
	b.Hooks().HandshakeRefused(nil, websocket.RefusedEvent{Status: 403})
	want := `
# HELP websocket_handshakes_total WebSocket opening handshakes answered, by HTTP status (101 accepted).
# TYPE websocket_handshakes_total counter
websocket_handshakes_total{server="a",status="101"} 1
websocket_handshakes_total{server="b",status="403"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "websocket_handshakes_total"); err != nil {
		t.Fatal(err)
	}
}

// TestCollector_concurrentHooks: hooks run on many connections' goroutines
// at once while a scrape runs (and the race detector watches); the counts
// stay exact.
func TestCollector_concurrentHooks(t *testing.T) {
	m := New()
	h := m.Hooks()
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				h.HandshakeAccepted(nil, websocket.HandshakeEvent{Protocol: websocket.ProtocolRFC6455, Status: 101})
				h.MessageRead(nil, websocket.MessageEvent{Type: websocket.TextMessage, Payload: 3, Wire: 9})
				h.Closed(nil, websocket.CloseEvent{Initiator: websocket.CloseAbnormal, Code: 1006})
			}
		}()
	}
	testutil.CollectAndCount(m) // a scrape in the middle
	wg.Wait()
	const n = workers * each
	for _, tt := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"handshakes 101", m.handshakes.WithLabelValues("101"), n},
		{"active", m.active, 0},
		{"text received", m.msgs[recv].WithLabelValues("text"), n},
		{"text payload bytes", m.payload[recv].WithLabelValues("text"), 3 * n},
		{"text wire bytes", m.wire[recv].WithLabelValues("text"), 9 * n},
		{"abnormal:1006", m.closes.WithLabelValues("abnormal", "1006"), n},
	} {
		if got := testutil.ToFloat64(tt.c); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// BenchmarkCollector_message is the cost a counted data message adds to
// a read or a write.
func BenchmarkCollector_message(b *testing.B) {
	h := New().Hooks()
	e := websocket.MessageEvent{Type: websocket.BinaryMessage, Payload: 1024, Wire: 1028}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h.MessageRead(nil, e)
	}
}
