package websocket

import "time"

// framing is the seam between a Conn and the protocol spoken on its byte
// stream once the handshake is done (ARCHITECTURE.md). Two implement it:
// rfc6455 (read.go, write.go, control.go, prepared.go), whose read state
// is Conn.rd.f, and the legacy draft-76 framing, in a file of its own,
// which holds its own. The handshake picks one (newConn makes RFC 6455
// connections; the draft-76 handshake swaps in its framing before the Conn
// is handed out); nothing
// on the data path asks which protocol it is.
//
// Every method is called by the Conn method of the same purpose, with the
// locks that method documents: the read methods under the read lock
// (rd.sem), the write methods take the write side's semaphores
// themselves.
type framing interface {
	// nextReader ends the message being read and reads up to the start
	// of the next data message (NextReader).
	nextReader(c *Conn) (*messageReader, error)
	// readData reads payload bytes of r's message into p; io.EOF at its
	// end (messageReader.Read).
	readData(c *Conn, r *messageReader, p []byte) (int, error)

	// writeMessage writes a whole message (WriteMessage).
	writeMessage(c *Conn, messageType int, data []byte) error
	// writeControl writes a control message (WriteControl).
	writeControl(c *Conn, messageType int, data []byte, deadline time.Time) error
	// writePrepared writes a prepared message (WritePreparedMessage).
	writePrepared(c *Conn, pm *PreparedMessage) error
	// writerType checks the message type NextWriter was asked for.
	writerType(messageType int) error
	// flush sends w's buffered payload, ending the message when fin is
	// set; flushDirect sends p, a payload the size of the buffer or more,
	// without copying it (messageWriter.Write).
	flush(w *messageWriter, fin bool) error
	flushDirect(w *messageWriter, p []byte) error

	// sharedFrames reports whether the frames of a PreparedMessage can be
	// written as they are: batched in one writev and by the send queue's
	// workers (prepared.go, queue.go).
	sharedFrames() bool
	// canPing reports whether ping and pong messages exist.
	canPing() bool
	// wireSize is the size on the wire of a message of n payload bytes
	// sent whole (for the hooks' byte counts).
	wireSize(n int, client bool) int
}

// rfc6455 is the framing of RFC 6455 (with RFC 7692 compression). It has
// no state of its own beyond Conn.rd.f, so every Conn shares one value.
// Its methods have pointer receivers: called through the interface, a
// value receiver would go through a wrapper, one more frame under every
// read and write (see TestServe_idleConnectionsStayOnSmallStacks).
type rfc6455 struct{}

var rfc6455Framing = new(rfc6455)

func (*rfc6455) sharedFrames() bool { return true }
func (*rfc6455) canPing() bool      { return true }

func (*rfc6455) wireSize(n int, client bool) int { return headerSize(n, client) + n }
