package websocket

// Observability hooks, in the spirit of net/http/httptrace: an optional
// [Hooks] value set on [Upgrader.Hooks] or [Dialer.Hooks] and copied onto
// every Conn they make. The unexported emit helpers at the end of the file
// are what the library's paths call; each one states when it is called.

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Hooks is a set of optional functions the library calls when something
// worth counting happens on a connection: a handshake accepted or refused,
// a data message read or written, a ping or pong, the end of a connection,
// a protocol failure, a full send queue, a heartbeat timeout. Any field
// may be nil, and so may the *Hooks itself: an unset hook costs one
// comparison and no allocation.
//
// Set a Hooks on [Upgrader.Hooks] (server side) or [Dialer.Hooks] (client
// side); each [Conn] they make keeps the pointer. The value is shared, not
// copied: it must not be modified once in use, and its functions are
// called concurrently from the goroutines of many connections, so they
// must be safe for concurrent use.
//
// Every function runs synchronously on the goroutine where the event
// happens (the handler calling [Upgrader.Upgrade], the goroutine reading
// or writing, the heartbeat's goroutine), often with a connection lock
// held. It must return quickly and must not block: no I/O, no waiting on
// channels or locks that a connection's goroutine may hold. It must not
// call methods of the [Conn] that read, write or close; reading its
// address, [Conn.Subprotocol] and the like is fine. Counters (sync/atomic,
// expvar, Prometheus) are the intended use; anything slower belongs on a
// goroutine of its own, fed without blocking.
//
// The event types are small structs passed by value, so that fields can
// be added later without breaking callers. Their fields are meant to map
// one-to-one onto OpenTelemetry attributes once its semantic conventions
// for WebSocket exist (semantic-conventions issue 2841); README.md lists
// the likely names.
type Hooks struct {
	// HandshakeAccepted is called once per connection when its opening
	// handshake has succeeded: on the server after the 101 response was
	// written, on the client after the server's response was checked,
	// before the Conn is returned to the application.
	HandshakeAccepted func(c *Conn, e HandshakeEvent)

	// HandshakeRefused is called when Upgrade refuses a request and
	// answers it with an HTTP error, or when a Dialer gets a response
	// other than a valid handshake. r is the request: the client's on the
	// server side, the one sent on the client side. r is nil when the
	// request could not be parsed at all (see [Upgrader.UpgradeConn]).
	HandshakeRefused func(r *http.Request, e RefusedEvent)

	// MessageRead is called once per data message read from the peer,
	// when its last frame has been read.
	MessageRead func(c *Conn, e MessageEvent)

	// MessageWritten is called once per data message written, when its
	// last frame has been handed to the socket, or held back by the write
	// coalescing (see [Conn.WriteMessage]; a held frame that then fails
	// to go out ends the connection, reported by Closed).
	MessageWritten func(c *Conn, e MessageEvent)

	// Ping is called for each ping received from the peer and each ping
	// sent (by [Conn.WriteControl] or a [Heartbeat]).
	Ping func(c *Conn, e ControlEvent)

	// Pong is called for each pong received and each pong sent, the
	// automatic answers to pings included.
	Pong func(c *Conn, e ControlEvent)

	// Closed is called exactly once per connection whose HandshakeAccepted
	// was called, when its network connection is closed. It tells who
	// started the closing handshake, with which code, and whether the
	// handshake completed.
	Closed func(c *Conn, e CloseEvent)

	// ProtocolError is called when the library fails the connection
	// because of what the peer sent (RFC 6455 §7.1.7): a malformed or
	// forbidden frame, invalid UTF-8, a message over the read limit, bad
	// compressed data. The Closed call follows when the connection ends.
	ProtocolError func(c *Conn, e ProtocolErrorEvent)

	// QueueFull is called when [Conn.QueuePreparedMessage] refuses a
	// message with [ErrQueueFull].
	QueueFull func(c *Conn, e QueueFullEvent)

	// HeartbeatTimeout is called when a [Heartbeat] gives up on the peer
	// (no pong in time, or a ping that could not be written in time),
	// before it closes the connection with 1001.
	HeartbeatTimeout func(c *Conn, e HeartbeatTimeoutEvent)
}

// Protocol names the protocol a connection speaks. Its values are stable
// strings fit for metric labels.
type Protocol string

// The protocols a handshake can settle on.
const (
	ProtocolRFC6455 Protocol = "rfc6455"  // RFC 6455 over HTTP/1.1 (status 101)
	ProtocolHixie76 Protocol = "hixie-76" // draft-hixie-thewebsocketprotocol-76 (status 101)
	ProtocolH2      Protocol = "h2"       // RFC 8441, extended CONNECT over HTTP/2 (status 200)
)

// HandshakeEvent describes an accepted opening handshake.
type HandshakeEvent struct {
	Protocol    Protocol // the protocol spoken from now on
	Status      int      // the HTTP status of the response: 101, or 200 over HTTP/2
	Subprotocol string   // the negotiated subprotocol, "" for none
	Compression bool     // permessage-deflate (RFC 7692) was negotiated
}

// RefusedEvent describes a refused opening handshake.
type RefusedEvent struct {
	// Status is the HTTP status of the refusal: the one Upgrade answered
	// with (400, 403, 405, 426, 500...), or the one the server sent to a
	// Dialer.
	Status int
	// Reason says why; on the server side it is the [HandshakeError]
	// Upgrade returns.
	Reason error
}

// MessageEvent describes one data message read or written.
type MessageEvent struct {
	Type int // TextMessage or BinaryMessage
	// Payload is the size of the message as the application sees it:
	// after inflating when read, before deflating when written.
	Payload int64
	// Wire counts the bytes the message took on the connection: every
	// frame's header, mask key and (compressed) payload, or for
	// hixie-76 the 0x00 and 0xFF around the text. Control frames
	// interleaved with the message do not count.
	Wire int64
	// Compressed is true when the message was sent compressed
	// (permessage-deflate, RSV1 set on its first frame).
	Compressed bool
}

// Direction says whether a control frame was received or sent.
type Direction uint8

// The two directions of a control frame.
const (
	DirectionReceived Direction = iota + 1 // from the peer
	DirectionSent                          // to the peer
)

// String returns "received" or "sent".
func (d Direction) String() string {
	switch d {
	case DirectionReceived:
		return "received"
	case DirectionSent:
		return "sent"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// ControlEvent describes a ping or a pong.
type ControlEvent struct {
	Direction Direction
	Len       int // application data bytes, 0 to 125
}

// CloseInitiator says how a connection's closing started.
type CloseInitiator uint8

// The ways a connection ends; see [CloseEvent].
const (
	// CloseAbnormal: the network connection ended before any close
	// frame was sent or received (the peer vanished, a read or write
	// failed, or [Conn.Close] was called without a closing handshake).
	// The code is 1006, as RFC 6455 §7.1.5 says.
	CloseAbnormal CloseInitiator = iota
	// ClosePeer: the peer's close frame came first.
	ClosePeer
	// CloseLocal: this side sent the first close frame, whether the
	// application asked for it ([Conn.CloseHandshake], WriteControl)
	// or the library did on a protocol error or heartbeat timeout.
	CloseLocal
)

// String returns "abnormal", "peer" or "local", the label values used by
// the published metrics.
func (i CloseInitiator) String() string {
	switch i {
	case CloseAbnormal:
		return "abnormal"
	case ClosePeer:
		return "peer"
	case CloseLocal:
		return "local"
	}
	return "CloseInitiator(" + strconv.Itoa(int(i)) + ")"
}

// CloseEvent describes the end of a connection.
type CloseEvent struct {
	Initiator CloseInitiator
	// Code is the status code of the first close frame: the peer's when
	// Initiator is ClosePeer (1005 when its frame had no code, as every
	// hixie-76 close), ours when it is CloseLocal, and 1006 for
	// CloseAbnormal.
	Code   int
	Reason string // the reason text of that first close frame
	// Clean is true when close frames went both ways before the network
	// connection was closed: the closing handshake completed
	// (RFC 6455 §7.1.4, "wasClean" in the browser API).
	Clean bool
}

// ProtocolErrorEvent describes the failure of a connection by the library.
type ProtocolErrorEvent struct {
	// Code is the close code sent to the peer: 1002 (protocol error),
	// 1003, 1007 (invalid UTF-8), 1009 (message too big)...
	Code int
	Err  error // what the peer did wrong; the error the read returns
}

// QueueFullEvent describes a message refused by a full send queue.
type QueueFullEvent struct {
	Limit int // the queue limit that was reached (see [Conn.SetQueueLimit])
}

// HeartbeatTimeoutEvent describes a [Heartbeat] that gave up.
type HeartbeatTimeoutEvent struct {
	Timeout time.Duration // the timeout that passed
}

// The emit helpers below are the library's only way to call a hook. Each
// is safe on a nil *Hooks and small enough to be inlined, so that a Conn
// without hooks pays one nil check and builds no event. Callers hold the
// *Hooks copied from the Upgrader or Dialer onto the Conn.

// handshakeAccepted: call once per connection, after the handshake
// succeeded and the Conn (with its hooks) exists, before it is returned
// to the application. Server: after the 101 response (or the hixie-76
// response and its 16-byte answer, or HTTP/2's 200) was written without
// error. Client: after the response was validated. compression is true
// when permessage-deflate was negotiated.
func (h *Hooks) handshakeAccepted(c *Conn, proto Protocol, status int, subprotocol string, compression bool) {
	if h != nil && h.HandshakeAccepted != nil {
		h.HandshakeAccepted(c, HandshakeEvent{Protocol: proto, Status: status, Subprotocol: subprotocol, Compression: compression})
	}
}

// handshakeRefused: call once per refused handshake, with the status of
// the error response. Server: where Upgrade/UpgradeConn answer with an
// HTTP error (refuse, refuseConn, the hixie-76 refusals); r is nil when
// UpgradeConn could not parse a request. Not for a failure after the
// response was started (a write error of the 101): that connection was
// never accepted, and nothing is emitted. Client: when the response is
// not a valid 101, with its status code.
func (h *Hooks) handshakeRefused(r *http.Request, status int, reason error) {
	if h != nil && h.HandshakeRefused != nil {
		h.HandshakeRefused(r, RefusedEvent{Status: status, Reason: reason})
	}
}

// messageRead: call once per DATA message (text or binary; never for
// control frames), when its final frame (FIN) has been read to its end
// without error, whether the application read the payload or the library
// skipped it (NextReader called again, CloseHandshake discarding).
// payload counts the bytes after inflating (for a compressed message that
// was skipped without inflating: the compressed bytes); wire counts the
// header, mask key and payload bytes of every frame of the message as
// received. A message cut short by an error is not counted.
func (h *Hooks) messageRead(c *Conn, typ int, payload, wire int64, compressed bool) {
	if h != nil && h.MessageRead != nil {
		h.MessageRead(c, MessageEvent{Type: typ, Payload: payload, Wire: wire, Compressed: compressed})
	}
}

// messageWritten: call once per DATA message, when its final frame has
// been written or handed to the held-back buffer (pend) without error:
// at the end of WriteMessage, of a NextWriter's Close, and of each
// PreparedMessage write, queued or direct (once per Conn it goes to).
// payload counts the bytes the application gave, before deflating; wire
// the frame bytes produced (headers, mask keys, compressed payload).
func (h *Hooks) messageWritten(c *Conn, typ int, payload, wire int64, compressed bool) {
	if h != nil && h.MessageWritten != nil {
		h.MessageWritten(c, MessageEvent{Type: typ, Payload: payload, Wire: wire, Compressed: compressed})
	}
}

// ping: call with DirectionReceived when a ping frame has been read
// whole, before its handler runs; with DirectionSent when a ping frame
// was written without error (WriteControl, Heartbeat). n is the length of
// its application data.
func (h *Hooks) ping(c *Conn, dir Direction, n int) {
	if h != nil && h.Ping != nil {
		h.Ping(c, ControlEvent{Direction: dir, Len: n})
	}
}

// pong: as ping, for pongs; the pongs the default ping handler writes are
// sent pongs too.
func (h *Hooks) pong(c *Conn, dir Direction, n int) {
	if h != nil && h.Pong != nil {
		h.Pong(c, ControlEvent{Direction: dir, Len: n})
	}
}

// closed: call exactly once per accepted Conn, when its network
// connection is closed: inside Close's closeOnce, after net.Conn.Close,
// with rec.event() (see closeRecord). Every path that ends a connection
// (peer close, local close, failure, heartbeat, shutdown, plain Close)
// goes through Close, so no other call site is needed.
func (h *Hooks) closed(c *Conn, e CloseEvent) {
	if h != nil && h.Closed != nil {
		h.Closed(c, e)
	}
}

// protocolError: call once per connection, where the library fails it
// because of the peer (c.fail and the hixie-76 equivalent), after trying
// to send the close frame, with the code it sent (1002, 1003, 1007,
// 1009...) and the error the read returns. Not for I/O errors, timeouts
// or the peer's own close. The close frame sent here is also noted in
// closeRecord, so Closed reports it as "local:<code>" unless the peer's
// close came first.
func (h *Hooks) protocolError(c *Conn, code int, err error) {
	if h != nil && h.ProtocolError != nil {
		h.ProtocolError(c, ProtocolErrorEvent{Code: code, Err: err})
	}
}

// queueFull: call where QueuePreparedMessage returns ErrQueueFull, after
// releasing the queue's mutex, with the limit that was reached.
func (h *Hooks) queueFull(c *Conn, limit int) {
	if h != nil && h.QueueFull != nil {
		h.QueueFull(c, QueueFullEvent{Limit: limit})
	}
}

// heartbeatTimeout: call once in Heartbeat.fail, before it closes the
// connection with 1001, with the heartbeat's timeout.
func (h *Hooks) heartbeatTimeout(c *Conn, timeout time.Duration) {
	if h != nil && h.HeartbeatTimeout != nil {
		h.HeartbeatTimeout(c, HeartbeatTimeoutEvent{Timeout: timeout})
	}
}

// closeRecord remembers the close frames of a connection for its
// CloseEvent: which side sent the first one, its code and reason, and
// whether frames went both ways. It is safe for concurrent use (the read
// side notes the peer's close while a writer notes ours) and allocates
// once, for the first frame; the lead may note only when hooks are set.
//
// Call note(ClosePeer, code, reason) where a close frame from the peer
// has been parsed (code 1005 for an empty payload and for hixie-76's
// 0xFF 0x00), before its handler runs; call note(CloseLocal, code,
// reason) where our close frame was written without error
// (writeControlLocked, the hixie-76 close, the failure paths). Then
// event() in Close gives the CloseEvent.
type closeRecord struct {
	dirs  atomic.Uint32              // closeRecSent | closeRecReceived
	first atomic.Pointer[closeFrame] // the first frame noted; nil before
}

type closeFrame struct {
	by     CloseInitiator
	code   int
	reason string
}

const (
	closeRecSent     = 1 << 0
	closeRecReceived = 1 << 1
)

// note records a close frame sent (CloseLocal) or received (ClosePeer).
func (r *closeRecord) note(by CloseInitiator, code int, reason string) {
	bit := uint32(closeRecSent)
	if by == ClosePeer {
		bit = closeRecReceived
	}
	for {
		old := r.dirs.Load()
		if old&bit != 0 || r.dirs.CompareAndSwap(old, old|bit) {
			break
		}
	}
	if r.first.Load() == nil {
		r.first.CompareAndSwap(nil, &closeFrame{by: by, code: code, reason: reason})
	}
}

// event returns the CloseEvent for a connection whose network connection
// has been closed.
func (r *closeRecord) event() CloseEvent {
	f := r.first.Load()
	if f == nil {
		return CloseEvent{Initiator: CloseAbnormal, Code: CloseAbnormalClosure}
	}
	return CloseEvent{
		Initiator: f.by,
		Code:      f.code,
		Reason:    f.reason,
		Clean:     r.dirs.Load() == closeRecSent|closeRecReceived,
	}
}

// connHooks is what a Conn with hooks keeps for them: the hooks, the close
// record, and the byte counts of the messages in progress. A Conn without
// hooks holds a nil pointer and pays one comparison per event.
type connHooks struct {
	h         *Hooks
	rec       closeRecord
	readWire  int64 // header bytes of the data frames of the message being read
	inflated  int64 // payload bytes of the compressed message being read, inflated
	written   int64 // payload bytes written through the open NextWriter
	writeType int   // its message type
	quiet     bool  // the open writer serves WriteMessage, which reports
}

// hooks returns the Conn's hooks, or nil: the emit helpers are nil-safe.
func (o *connHooks) hooks() *Hooks {
	if o == nil {
		return nil
	}
	return o.h
}

// closeCode is the code of a close frame's payload (1005 when empty).
func closeCode(payload []byte) int {
	if len(payload) < 2 {
		return CloseNoStatusReceived
	}
	return int(payload[0])<<8 | int(payload[1])
}
