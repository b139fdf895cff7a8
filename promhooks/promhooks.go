// Package promhooks publishes what a github.com/hybi/websocket server or
// client sees as Prometheus metrics, fed by [websocket.Hooks].
//
//	m := promhooks.New()
//	prometheus.MustRegister(m)
//	upgrader := websocket.Upgrader{Hooks: m.Hooks()}
//	http.Handle("/metrics", promhttp.Handler())
//
// The metrics (labels in braces):
//
//	websocket_handshakes_total{status}                  handshakes answered, by HTTP status ("101", "403", "426"...)
//	websocket_connections_opened_total{protocol,compression}  accepted handshakes: "rfc6455", "hixie-76", "h2"; "true"/"false"
//	websocket_connections_active                        connections open now
//	websocket_messages_received_total{type}             data messages read: "text", "binary"
//	websocket_messages_sent_total{type}                 data messages written
//	websocket_received_payload_bytes_total{type}        payload bytes read, after inflating
//	websocket_sent_payload_bytes_total{type}            payload bytes written, before deflating
//	websocket_received_wire_bytes_total{type}           bytes the messages read took on the wire (frame headers included)
//	websocket_sent_wire_bytes_total{type}               bytes the messages written took on the wire
//	websocket_pings_total{direction}                    pings: "received", "sent"
//	websocket_pongs_total{direction}                    pongs: "received", "sent"
//	websocket_closes_total{initiator,code}              connections ended: "peer", "local" or "abnormal" (code "1006")
//	websocket_protocol_errors_total{code}               connections failed by the library, by the close code it sent
//	websocket_queue_full_total                          messages refused by a full send queue
//	websocket_heartbeat_timeouts_total                  heartbeats that gave up on their peer
//
// payload/wire bytes of the same direction give the compression ratio.
// The code label takes the close codes peers may send (1000-1015 and
// 3000-4999), so its cardinality is bounded. To tell several servers
// apart in one registry, register each Collector through
// [prometheus.WrapRegistererWith] with a label of your own.
package promhooks

import (
	"net/http"
	"strconv"

	"github.com/hybi/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector holds the counters; it is a [prometheus.Collector]. Its
// methods and the functions of its Hooks are safe for concurrent use and
// never block on I/O (they update in-memory counters), as
// [websocket.Hooks] requires.
type Collector struct {
	handshakes   *prometheus.CounterVec
	opened       *prometheus.CounterVec
	active       prometheus.Gauge
	msgs         [2]*prometheus.CounterVec // [received, sent] by type
	payload      [2]*prometheus.CounterVec
	wire         [2]*prometheus.CounterVec
	pings, pongs *prometheus.CounterVec // by direction
	closes       *prometheus.CounterVec
	protoErrors  *prometheus.CounterVec
	queueFull    prometheus.Counter
	heartbeat    prometheus.Counter

	// The children of the hot paths, resolved once: [received, sent]
	// by [text, binary].
	msgC, payloadC, wireC [2][2]prometheus.Counter
	pingC, pongC          [2]prometheus.Counter // [received, sent]

	hooks websocket.Hooks
}

const (
	recv = 0
	sent = 1
)

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// New returns a Collector with every counter at zero. Register it (once)
// with a registry, and set [Collector.Hooks] on the Upgraders and Dialers
// it should count.
func New() *Collector {
	m := &Collector{
		handshakes: counterVec("websocket_handshakes_total", "WebSocket opening handshakes answered, by HTTP status (101 accepted).", "status"),
		opened:     counterVec("websocket_connections_opened_total", "WebSocket connections opened, by protocol and whether permessage-deflate was negotiated.", "protocol", "compression"),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "websocket_connections_active", Help: "WebSocket connections open now.",
		}),
		msgs: [2]*prometheus.CounterVec{
			counterVec("websocket_messages_received_total", "Data messages read, by type.", "type"),
			counterVec("websocket_messages_sent_total", "Data messages written, by type.", "type"),
		},
		payload: [2]*prometheus.CounterVec{
			counterVec("websocket_received_payload_bytes_total", "Payload bytes of the data messages read, after inflating.", "type"),
			counterVec("websocket_sent_payload_bytes_total", "Payload bytes of the data messages written, before deflating.", "type"),
		},
		wire: [2]*prometheus.CounterVec{
			counterVec("websocket_received_wire_bytes_total", "Bytes the data messages read took on the wire, frame headers included.", "type"),
			counterVec("websocket_sent_wire_bytes_total", "Bytes the data messages written took on the wire, frame headers included.", "type"),
		},
		pings:       counterVec("websocket_pings_total", "Ping frames, by direction.", "direction"),
		pongs:       counterVec("websocket_pongs_total", "Pong frames, by direction.", "direction"),
		closes:      counterVec("websocket_closes_total", "WebSocket connections ended, by who sent the first close frame and its code (abnormal, 1006: none was).", "initiator", "code"),
		protoErrors: counterVec("websocket_protocol_errors_total", "Connections failed because of what the peer sent, by the close code sent to it.", "code"),
		queueFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "websocket_queue_full_total", Help: "Messages refused because a connection's send queue was full.",
		}),
		heartbeat: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "websocket_heartbeat_timeouts_total", Help: "Heartbeats that closed their connection for want of a pong.",
		}),
	}
	for d := recv; d <= sent; d++ {
		for t, name := range [2]string{"text", "binary"} {
			m.msgC[d][t] = m.msgs[d].WithLabelValues(name)
			m.payloadC[d][t] = m.payload[d].WithLabelValues(name)
			m.wireC[d][t] = m.wire[d].WithLabelValues(name)
		}
		name := websocket.DirectionReceived.String()
		if d == sent {
			name = websocket.DirectionSent.String()
		}
		m.pingC[d] = m.pings.WithLabelValues(name)
		m.pongC[d] = m.pongs.WithLabelValues(name)
	}
	m.hooks = websocket.Hooks{
		HandshakeAccepted: m.handshakeAccepted,
		HandshakeRefused:  m.handshakeRefused,
		MessageRead:       func(_ *websocket.Conn, e websocket.MessageEvent) { m.message(recv, e) },
		MessageWritten:    func(_ *websocket.Conn, e websocket.MessageEvent) { m.message(sent, e) },
		Ping:              func(_ *websocket.Conn, e websocket.ControlEvent) { m.pingC[dirIndex(e.Direction)].Inc() },
		Pong:              func(_ *websocket.Conn, e websocket.ControlEvent) { m.pongC[dirIndex(e.Direction)].Inc() },
		Closed:            m.closed,
		ProtocolError: func(_ *websocket.Conn, e websocket.ProtocolErrorEvent) {
			m.protoErrors.WithLabelValues(strconv.Itoa(e.Code)).Inc()
		},
		QueueFull:        func(*websocket.Conn, websocket.QueueFullEvent) { m.queueFull.Inc() },
		HeartbeatTimeout: func(*websocket.Conn, websocket.HeartbeatTimeoutEvent) { m.heartbeat.Inc() },
	}
	return m
}

// Hooks returns the hooks that feed m, to set on [websocket.Upgrader.Hooks]
// or [websocket.Dialer.Hooks]; the same value may serve many of them. It
// must not be modified.
func (m *Collector) Hooks() *websocket.Hooks { return &m.hooks }

func (m *Collector) handshakeAccepted(_ *websocket.Conn, e websocket.HandshakeEvent) {
	m.handshakes.WithLabelValues(statusLabel(e.Status)).Inc()
	m.opened.WithLabelValues(string(e.Protocol), strconv.FormatBool(e.Compression)).Inc()
	m.active.Inc()
}

func (m *Collector) handshakeRefused(_ *http.Request, e websocket.RefusedEvent) {
	m.handshakes.WithLabelValues(statusLabel(e.Status)).Inc()
}

func (m *Collector) message(d int, e websocket.MessageEvent) {
	t := 0
	if e.Type == websocket.BinaryMessage {
		t = 1
	}
	m.msgC[d][t].Inc()
	m.payloadC[d][t].Add(float64(e.Payload))
	m.wireC[d][t].Add(float64(e.Wire))
}

func (m *Collector) closed(_ *websocket.Conn, e websocket.CloseEvent) {
	m.active.Dec()
	m.closes.WithLabelValues(e.Initiator.String(), strconv.Itoa(e.Code)).Inc()
}

func dirIndex(d websocket.Direction) int {
	if d == websocket.DirectionSent {
		return sent
	}
	return recv
}

// statusLabel spells a status without allocating for the common 101.
func statusLabel(status int) string {
	if status == http.StatusSwitchingProtocols {
		return "101"
	}
	return strconv.Itoa(status)
}

// Describe sends the descriptors of every metric; part of
// [prometheus.Collector].
func (m *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect sends the current value of every metric; part of
// [prometheus.Collector]. It may run while hooks are being called.
func (m *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *Collector) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.handshakes, m.opened, m.active,
		m.msgs[recv], m.msgs[sent], m.payload[recv], m.payload[sent], m.wire[recv], m.wire[sent],
		m.pings, m.pongs, m.closes, m.protoErrors, m.queueFull, m.heartbeat,
	}
}
