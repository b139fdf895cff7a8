package main

// The -metrics flag: counters fed by websocket.Hooks, published through
// expvar at /debug/vars on the server's own listener.
//
// The publisher is an unexported type of this example rather than a
// package of the library: expvar is one registry per process, and the
// names of its keys are this example's choice, not a contract the library
// should carry. Programs that want a maintained adapter use the Prometheus
// one (module github.com/hybi/websocket/promhooks); this file is short
// enough to copy.

import (
	"expvar"
	"net/http"
	"strconv"

	"github.com/hybi/websocket"
)

// debugVars serves /debug/vars when -metrics is set; nil otherwise.
var debugVars http.Handler

// enableMetrics publishes the "websocket" map and makes the upgrader feed
// it. It is called once, before the server starts.
func enableMetrics() {
	m := newMetrics()
	expvar.Publish("websocket", m.root)
	upgrader.Hooks = m.hooks()
	debugVars = expvar.Handler()
}

// metrics holds the counters of the "websocket" expvar map:
//
//	handshakes         HTTP status ("101", "403", "426"...) -> handshakes answered with it
//	active             WebSocket connections open now
//	messages_received  "text"/"binary" -> data messages read
//	messages_sent      "text"/"binary" -> data messages written
//	bytes_received     payload bytes of the data messages read, after inflating
//	bytes_sent         payload bytes of the data messages written, before deflating
//	closes             "<initiator>:<code>" -> connections ended: "peer:1000" when the
//	                   client's close frame came first, "local:1002" when the server
//	                   sent the first close, "abnormal:1006" when TCP ended without one
//
// Every counter is safe for concurrent use (expvar's own locking), as the
// hooks require; none of them blocks on I/O.
type metrics struct {
	root                       *expvar.Map
	handshakes                 *expvar.Map
	active                     *expvar.Int
	messagesRecv, messagesSent *expvar.Map
	bytesReceived, bytesSent   *expvar.Int
	closes                     *expvar.Map
}

// newMetrics returns zeroed counters in a map that is not yet published,
// so that tests can make as many as they like.
func newMetrics() *metrics {
	m := &metrics{
		root:          new(expvar.Map).Init(),
		handshakes:    new(expvar.Map).Init(),
		active:        new(expvar.Int),
		messagesRecv:  new(expvar.Map).Init(),
		messagesSent:  new(expvar.Map).Init(),
		bytesReceived: new(expvar.Int),
		bytesSent:     new(expvar.Int),
		closes:        new(expvar.Map).Init(),
	}
	m.root.Set("handshakes", m.handshakes)
	m.root.Set("active", m.active)
	m.root.Set("messages_received", m.messagesRecv)
	m.root.Set("messages_sent", m.messagesSent)
	m.root.Set("bytes_received", m.bytesReceived)
	m.root.Set("bytes_sent", m.bytesSent)
	m.root.Set("closes", m.closes)
	return m
}

// hooks returns the Hooks that feed m.
func (m *metrics) hooks() *websocket.Hooks {
	return &websocket.Hooks{
		HandshakeAccepted: func(_ *websocket.Conn, e websocket.HandshakeEvent) {
			m.handshakes.Add(statusKey(e.Status), 1)
			m.active.Add(1)
		},
		HandshakeRefused: func(_ *http.Request, e websocket.RefusedEvent) {
			m.handshakes.Add(statusKey(e.Status), 1)
		},
		MessageRead: func(_ *websocket.Conn, e websocket.MessageEvent) {
			m.messagesRecv.Add(typeKey(e.Type), 1)
			m.bytesReceived.Add(e.Payload)
		},
		MessageWritten: func(_ *websocket.Conn, e websocket.MessageEvent) {
			m.messagesSent.Add(typeKey(e.Type), 1)
			m.bytesSent.Add(e.Payload)
		},
		Closed: func(_ *websocket.Conn, e websocket.CloseEvent) {
			m.active.Add(-1)
			m.closes.Add(e.Initiator.String()+":"+strconv.Itoa(e.Code), 1)
		},
	}
}

// statusKey spells an HTTP status as a map key, without allocating for
// the common 101.
func statusKey(status int) string {
	if status == http.StatusSwitchingProtocols {
		return "101"
	}
	return strconv.Itoa(status)
}

func typeKey(typ int) string {
	if typ == websocket.BinaryMessage {
		return "binary"
	}
	return "text"
}
