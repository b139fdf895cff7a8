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
// connection was failed (RFC 6455 §7.1.7): a close message with Code (1002
// for a framing error, 1007 for invalid UTF-8 or corrupt compressed data,
// ...) was sent to the peer and the socket closed. Every later read returns
// the same error. (A message past the read limit is failed with 1009 too,
// but reported as [ErrReadLimit].)
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

// HandshakeError describes why an opening handshake was refused.
// [Upgrader.Upgrade] and [Upgrader.UpgradeConn] return it after answering
// the client with Status. (A [Dialer] whose server refused reports
// [ErrBadHandshake] instead, with the response, as gorilla's does.)
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
