// Package websocket implements the server side of the WebSocket protocol
// (RFC 6455) for net/http servers, using nothing but the standard library.
//
// # Overview
//
// An [Upgrader] turns an HTTP request into a [*Conn]. Call
// [Upgrader.Upgrade] from an ordinary handler:
//
//	var upgrader = websocket.Upgrader{} // the zero value is ready to use
//
//	func echo(w http.ResponseWriter, r *http.Request) {
//		conn, err := upgrader.Upgrade(w, r, nil)
//		if err != nil {
//			return // Upgrade already answered the client with an HTTP error
//		}
//		defer conn.Close()
//		for {
//			mt, p, err := conn.ReadMessage()
//			if err != nil {
//				return
//			}
//			if err := conn.WriteMessage(mt, p); err != nil {
//				return
//			}
//		}
//	}
//
// The API is a superset of github.com/gorilla/websocket's: a program
// written against gorilla's Upgrader, Conn and Dialer compiles and behaves
// the same after changing only the import path. A [Dialer] opens client
// connections (every frame masked with a fresh key from crypto/rand).
//
// Around the Conn, the package has what every service ends up writing:
// [ConnSet] tracks connections and closes them all with 1001 on shutdown
// (wire it to http.Server.RegisterOnShutdown), [StartHeartbeat] pings and
// fails a connection whose peer stops answering, and [AsNetConn] turns a
// Conn into a net.Conn byte stream.
//
// # Data messages
//
// A message is a text message ([TextMessage], UTF-8) or a binary message
// ([BinaryMessage]). [Conn.ReadMessage] and [Conn.WriteMessage] move whole
// messages; [Conn.NextReader] and [Conn.NextWriter] stream a message of any
// size through an [io.Reader] or [io.WriteCloser] without holding it in
// memory. The peer may split a message into frames; the reader hides the
// framing.
//
// Incoming text is validated as UTF-8 while it streams: an invalid sequence
// fails the connection with close code 1007 as soon as the offending bytes
// arrive, not when the message ends (RFC 6455 §8.1).
//
// # Control messages
//
// Close, ping and pong are control messages (RFC 6455 §5.5). They are
// handled by the goroutine that reads: call one of the read methods in a
// loop for as long as the connection lives, even if the application ignores
// what the peer sends, or pings will go unanswered and the closing
// handshake will not complete. The default ping handler answers each ping
// with a pong carrying the same payload; the default pong handler does
// nothing; the default close handler echoes the peer's close code, after
// which the server closes the TCP connection (RFC 6455 §7.1.1). Replace
// them with [Conn.SetPingHandler], [Conn.SetPongHandler] and
// [Conn.SetCloseHandler]. [Conn.WriteControl] sends a control message.
//
// A [PreparedMessage] is framed (and compressed) once and written to many
// connections; [Conn.WritePreparedMessages] sends the messages queued for
// one connection with a single system call.
//
// [Conn.CloseHandshake] runs the whole closing handshake: it sends a close
// message, waits a bounded time for the peer's, then closes the socket.
// [Conn.Close] closes the socket at once, as in gorilla.
//
// # Concurrency
//
// Unlike gorilla, every method of [Conn] may be called from any goroutine.
// Concurrent [Conn.WriteMessage], [Conn.NextWriter] and
// [Conn.WritePreparedMessage] calls are serialized so that messages never
// interleave: a writer obtained from NextWriter holds the connection's
// message slot until it is closed. [Conn.WriteControl] never waits for a
// whole message: a ping or close may go out between two frames of a message
// being streamed. Reading is one goroutine's job (one message at a time); a
// second concurrent read returns an error instead of corrupting the stream.
// Misuse returns an error; the package never panics on behalf of a peer or
// a caller.
//
// # Compression
//
// With [Upgrader.EnableCompression] the server negotiates the
// permessage-deflate extension (RFC 7692) when the client offers it, as
// every browser does. Compressed messages from the client are inflated as
// they are read, their inflated size counting against the read limit, so a
// small frame that inflates past it ends in 1009 without the memory.
// Messages of at least [Upgrader.CompressionThreshold] bytes are
// compressed on the way out; [Conn.EnableWriteCompression] and
// [Conn.SetCompressionLevel] tune that per connection. By default
// compression contexts do not outlive a message and compressors are pooled
// between connections, so an idle connection holds none; see
// [Upgrader.CompressionContextTakeover] for the trade-off.
//
// # Limits
//
// Every connection starts with a read limit of [DefaultReadLimit] bytes per
// message, or [DefaultCompressedReadLimit] when permessage-deflate was
// negotiated (see [Upgrader.ReadLimit] and [Conn.SetReadLimit]). A message
// that would exceed it is refused from its frame header, before any of it is
// buffered: the peer gets close code 1009 and the read returns
// [ErrReadLimit]. Handshakes are bounded by [Upgrader.HandshakeTimeout] and
// the closing handshake by [Upgrader.CloseTimeout].
//
// # Origin considerations
//
// Browsers let any page open a WebSocket to any server, sending the page's
// origin in the Origin header. With a nil [Upgrader.CheckOrigin], Upgrade
// accepts a request only when Origin is absent or names the request's own
// host, and answers 403 Forbidden otherwise. Set CheckOrigin to allow other
// origins deliberately.
//
// # Buffers
//
// A Conn holds no read or write buffer while it is idle. It borrows one
// from a pool when bytes arrive or a message is written and returns it as
// soon as the buffer is drained, so ten thousand idle connections cost
// little memory. [Upgrader.ReadBufferSize] and [Upgrader.WriteBufferSize]
// set the size of the borrowed buffers; [Upgrader.WriteBufferPool] lets
// the application supply the pool for write buffers. Copying a large
// message from [Conn.NextReader] to [Conn.NextWriter] with io.Copy borrows
// a buffer as large as the incoming frame (up to 2 MiB) for that message
// only, so it goes out in a few large frames without allocating. The
// goroutine of an idle connection stays on Go's minimal 2 KiB stack when
// the handler keeps its own frame small (up to about 150 bytes of locals;
// larger state belongs in a struct on the heap): the library's paths from
// a read or write down to the socket are kept shallow for that, since a
// stack that grew never shrinks back while the connection waits. Answering
// a peer's ping is the exception: the pong is written beneath the read, and
// that path grows the goroutine to 4 KiB (about 2 KiB more per connection
// whose peer pings; a server's own pings, see [StartHeartbeat], do not).
// Slices returned by
// ReadMessage belong to the caller; slices passed to write methods are not
// retained after the method returns.
//
// # Broadcasting
//
// To send one message to many connections, frame it once with
// [NewPreparedMessage] and hand it to each connection's send queue with
// [Conn.QueuePreparedMessage], which never blocks: a small set of shared
// writer goroutines sends what each connection has queued, and the
// messages that pile up on a connection while it is being written go out
// together in one writev. A slow reader fills only its own queue
// ([Conn.SetQueueLimit], 1024 messages by default) and gets
// [ErrQueueFull]; a broadcaster usually closes it:
//
//	pm, _ := websocket.NewPreparedMessage(websocket.TextMessage, text)
//	for _, c := range subscribers {
//		if err := c.QueuePreparedMessage(pm); err != nil {
//			c.Close() // too slow, or gone
//		}
//	}
//
// # Serving without net/http
//
// [Upgrader.Serve] accepts connections from a net.Listener (plain or TLS)
// and does the opening handshake itself ([Upgrader.UpgradeConn]: the
// request is read with http.ReadRequest and answered by Upgrade, with the
// same checks and refusals), then runs the handler in the connection's
// own goroutine. Without net/http's per-connection server state, an
// upgrade costs less CPU and an idle connection less memory (about 5 KiB
// for ten thousand, against about 7 KiB behind net/http). It suits a
// listener that serves WebSocket only; next to other HTTP routes, use
// Upgrade in a handler.
//
//	ln, err := net.Listen("tcp", ":8080")
//	...
//	err = upgrader.Serve(ln, func(c *websocket.Conn, r *http.Request) {
//		for { ... } // read and write as in any handler
//	})
//
// # Legacy hixie-76
//
// Before RFC 6455, browsers spoke draft-hixie-thewebsocketprotocol-76
// (Chrome 6–13, Safari 5.0–5.1, iOS 4–5); kiosks and embedded clients
// built on them still do. With [Upgrader.EnableHixie76] the same Upgrade
// call recognises their handshake from its headers, answers its MD5
// challenge and returns the same [*Conn], which then carries text messages
// only: binary, ping and pong writes fail with [ErrUnsupportedMessage],
// and [Conn.Hixie76] tells a handler which protocol it speaks. Hixie-76
// frames are not masked, which can confuse proxies on the way, so the
// protocol is off by default and such requests get 426 Upgrade Required.
package websocket

import (
	"errors"
	"strconv"
)

// Message types, numerically equal to the RFC 6455 §5.2 opcodes. The same
// names and values as gorilla/websocket.
const (
	// TextMessage denotes a text data message: UTF-8 encoded text.
	TextMessage = 1

	// BinaryMessage denotes a binary data message.
	BinaryMessage = 2

	// CloseMessage denotes a close control message. The optional payload
	// is a status code and a reason; see [FormatCloseMessage].
	CloseMessage = 8

	// PingMessage denotes a ping control message. The optional payload is
	// at most 125 bytes of application data.
	PingMessage = 9

	// PongMessage denotes a pong control message. The optional payload is
	// at most 125 bytes of application data.
	PongMessage = 10
)

// Close status codes (RFC 6455 §7.4.1 and the IANA registry).
const (
	CloseNormalClosure           = 1000
	CloseGoingAway               = 1001
	CloseProtocolError           = 1002
	CloseUnsupportedData         = 1003
	CloseNoStatusReceived        = 1005
	CloseAbnormalClosure         = 1006
	CloseInvalidFramePayloadData = 1007
	ClosePolicyViolation         = 1008
	CloseMessageTooBig           = 1009
	CloseMandatoryExtension      = 1010
	CloseInternalServerErr       = 1011
	CloseServiceRestart          = 1012
	CloseTryAgainLater           = 1013
	CloseTLSHandshake            = 1015
)

// DefaultReadLimit is the largest message, in bytes, that a new connection
// accepts unless [Upgrader.ReadLimit] or [Conn.SetReadLimit] says
// otherwise: 32 MiB, enough for the 16 MiB messages of the
// Autobahn|Testsuite while bounding what one peer can make the server hold.
// A connection with permessage-deflate starts with
// [DefaultCompressedReadLimit] instead.
const DefaultReadLimit = 32 << 20

// DefaultCompressedReadLimit is the read limit of a new connection that
// negotiated permessage-deflate, unless [Upgrader.ReadLimit] or
// [Conn.SetReadLimit] says otherwise: 4 MiB. A compressed message can
// inflate to 1,032 times its size on the wire, so under a limit L a peer
// can make ReadMessage hold L for about L/1032 bytes sent; at 4 MiB that
// is 4 MiB for 4 KB (TestCompress_defaultReadLimitFor and the hostile
// suite's compression bomb measure it).
const DefaultCompressedReadLimit = defaultDeflateReadLimit

// maxControlPayload is the largest control frame payload (RFC 6455 §5.5).
const maxControlPayload = 125

var (
	// ErrCloseSent is returned when the application writes a message after
	// a close message was sent.
	ErrCloseSent = errors.New("websocket: close sent")

	// ErrReadLimit is returned by the read methods when the peer sends a
	// message larger than the read limit. The peer has been sent close
	// code 1009 and the connection is closed.
	ErrReadLimit = errors.New("websocket: read limit exceeded")

	// ErrBadHandshake is returned by a client whose server answered the
	// opening handshake with something other than a valid 101 response.
	ErrBadHandshake = errors.New("websocket: bad handshake")

	// ErrConcurrentRead is returned by a read method called while another
	// goroutine is reading a message from the same connection.
	ErrConcurrentRead = errors.New("websocket: concurrent read")

	// ErrWriterClosed is returned by a writer from [Conn.NextWriter] used
	// after it was closed.
	ErrWriterClosed = errors.New("websocket: writer closed")

	// ErrReaderReplaced is returned by a reader from [Conn.NextReader]
	// after a later NextReader call moved the connection to a new message.
	ErrReaderReplaced = errors.New("websocket: reader replaced by a newer NextReader call")

	// ErrUnsupportedMessage is returned by write methods given a message
	// type the connection cannot send.
	ErrUnsupportedMessage = errors.New("websocket: unsupported message type")
)

// CloseError reports a close message received from the peer: the status
// code (RFC 6455 §7.4) and the reason text, if any. A peer that closes
// with an empty payload is reported as [CloseNoStatusReceived].
type CloseError struct {
	// Code is the status code the peer sent.
	Code int

	// Text is the reason the peer gave, exactly as sent, possibly empty.
	// It is valid UTF-8 (RFC 6455 §5.5.1; an invalid reason fails the
	// connection with 1007 instead) but otherwise the peer's choice:
	// newlines, terminal escapes, bidi controls. Quote or sanitize it
	// before it reaches a log or a terminal; Error does.
	Text string
}

// Error returns "websocket: close CODE (NAME)" followed, when the peer gave
// a reason, by ": " and the reason quoted as [strconv.Quote] does, so that
// control characters a peer chose arrive in a log escaped
// (`websocket: close 1000 (normal): "bye\n"`). gorilla prints the reason
// raw; programs that need the text use Text, not Error.
func (e *CloseError) Error() string {
	s := "websocket: close " + strconv.Itoa(e.Code)
	if name := closeCodeName(e.Code); name != "" {
		s += " (" + name + ")"
	}
	if e.Text != "" {
		s += ": " + strconv.Quote(e.Text)
	}
	return s
}

func closeCodeName(code int) string {
	switch code {
	case CloseNormalClosure:
		return "normal"
	case CloseGoingAway:
		return "going away"
	case CloseProtocolError:
		return "protocol error"
	case CloseUnsupportedData:
		return "unsupported data"
	case CloseNoStatusReceived:
		return "no status"
	case CloseAbnormalClosure:
		return "abnormal closure"
	case CloseInvalidFramePayloadData:
		return "invalid payload data"
	case ClosePolicyViolation:
		return "policy violation"
	case CloseMessageTooBig:
		return "message too big"
	case CloseMandatoryExtension:
		return "mandatory extension missing"
	case CloseInternalServerErr:
		return "internal server error"
	case CloseServiceRestart:
		return "service restart"
	case CloseTryAgainLater:
		return "try again later"
	case CloseTLSHandshake:
		return "TLS handshake error"
	}
	return ""
}

// ProtocolError reports that the peer broke the protocol and the
// connection was failed (RFC 6455 §7.1.7): the server sent a close message
// with Code (1002 for a framing error, 1007 for invalid UTF-8, ...) and
// closed the socket. Every later read returns the same error.
type ProtocolError struct {
	// Code is the close status code sent to the peer.
	Code int

	// Reason says what the peer did wrong.
	Reason string
}

func (e *ProtocolError) Error() string {
	return "websocket: " + e.Reason + " (sent close " + strconv.Itoa(e.Code) + ")"
}

// IsCloseError reports whether err is, or wraps, a [*CloseError] with one
// of the given codes.
func IsCloseError(err error, codes ...int) bool {
	var ce *CloseError
	if !errors.As(err, &ce) {
		return false
	}
	for _, code := range codes {
		if ce.Code == code {
			return true
		}
	}
	return false
}

// IsUnexpectedCloseError reports whether err is, or wraps, a [*CloseError]
// whose code is not one of expectedCodes.
func IsUnexpectedCloseError(err error, expectedCodes ...int) bool {
	var ce *CloseError
	if !errors.As(err, &ce) {
		return false
	}
	for _, code := range expectedCodes {
		if ce.Code == code {
			return false
		}
	}
	return true
}

// HandshakeError describes why an opening handshake was refused. Upgrade
// returns it after answering the client with Status.
type HandshakeError struct {
	// Status is the HTTP status sent to the client (400, 403, 405, 426,
	// 500, ...).
	Status int

	message string
}

func (e HandshakeError) Error() string { return e.message }

// BufferPool is a pool of buffers. [*sync.Pool] satisfies it. The values
// the package stores are its own; an application only provides the pool.
// Get and Put may be called from many goroutines at once.
type BufferPool interface {
	// Get returns a value from the pool, or nil.
	Get() interface{}
	// Put adds a value to the pool.
	Put(interface{})
}

// validCloseCode reports whether code may appear in a close frame on the
// wire (RFC 6455 §7.4.1 and §7.4.2): the defined codes other than the
// reserved 1004, 1005, 1006 and 1015, and the registered and private ranges
// 3000–4999.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// FormatCloseMessage formats a close message payload with the status code
// and reason text, for [Conn.WriteControl]. For [CloseNoStatusReceived] it
// returns an empty payload, which is how RFC 6455 §7.1.5 sends "no code".
func FormatCloseMessage(closeCode int, text string) []byte {
	if closeCode == CloseNoStatusReceived {
		return []byte{}
	}
	buf := make([]byte, 2+len(text))
	buf[0] = byte(closeCode >> 8)
	buf[1] = byte(closeCode)
	copy(buf[2:], text)
	return buf
}
