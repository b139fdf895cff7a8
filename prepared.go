package websocket

import "sync"

// PreparedMessage is a message whose frame is built once and then written
// to many connections with [Conn.WritePreparedMessage], as a broadcast
// does. It is safe for concurrent use; its bytes are never modified.
type PreparedMessage struct {
	messageType int
	data        []byte // the payload, a view of plain's tail

	mu    sync.Mutex
	plain []byte // the RFC 6455 frame: header and payload, unmasked
	other []byte // the frame of the other framing, built on first use by it

	// deflated holds the permessage-deflate frames, by flate level + 2,
	// each built on first use and shared by every connection that
	// compresses at that level (compress.go).
	deflated [12][]byte
}

// NewPreparedMessage returns a message of the given type with a copy of
// data, ready to be written to any number of connections. Control message
// types are accepted (with at most 125 bytes of payload) and written as
// [Conn.WriteControl] would.
func NewPreparedMessage(messageType int, data []byte) (*PreparedMessage, error) {
	switch messageType {
	case TextMessage, BinaryMessage:
	case CloseMessage, PingMessage, PongMessage:
		if len(data) > maxControlPayload {
			return nil, errControlTooLong
		}
	default:
		return nil, errBadWriteType
	}
	hlen := headerSize(len(data), false)
	frame := make([]byte, 0, hlen+len(data))
	frame = appendHeader(frame, true, 0, byte(messageType), len(data), false, [4]byte{})
	frame = append(frame, data...)
	return &PreparedMessage{messageType: messageType, data: frame[hlen:], plain: frame}, nil
}

// WritePreparedMessage writes pm to the connection. Like [Conn.WriteMessage]
// it waits for a message being written by another goroutine; the frame is
// shared, not copied.
func (c *Conn) WritePreparedMessage(pm *PreparedMessage) error {
	err := c.fr.writePrepared(c, pm)
	if c.obs != nil && err == nil {
		c.preparedWrittenHook(pm)
	}
	return err
}

// preparedWrittenHook reports prepared data messages written (hooks.go).
//
//go:noinline
func (c *Conn) preparedWrittenHook(pms ...*PreparedMessage) {
	for _, pm := range pms {
		if pm.messageType == TextMessage || pm.messageType == BinaryMessage {
			n := len(pm.data)
			c.obs.h.messageWritten(c, pm.messageType, int64(n), int64(n+headerSize(n, c.wr.client)), c.compressMessage(n))
		}
	}
}

func (*rfc6455) writePrepared(c *Conn, pm *PreparedMessage) error {
	if c.wr.client { // every client frame is masked with its own key
		return c.WriteMessage(pm.messageType, pm.data)
	}
	switch pm.messageType {
	case CloseMessage, PingMessage, PongMessage:
		return c.WriteControl(pm.messageType, pm.data, c.currentWriteDeadline())
	}
	if err := c.acquireMsg(); err != nil {
		return err
	}
	defer func() { c.wr.msgSem.release() }()
	return c.writeFrame(c.preparedFrame(pm), nil)
}

// WritePreparedMessages writes the messages in order, as as many
// WritePreparedMessage calls would, but with one write to the socket (a
// writev) where it can: a broadcaster that finds several messages queued
// for a connection sends them with one system call instead of one each.
// It holds the message slot for the whole batch. Control messages in the
// batch, client connections and connections whose frames cannot be shared
// (the legacy draft-76) fall back to one write per
// message.
func (c *Conn) WritePreparedMessages(pms ...*PreparedMessage) error {
	return c.writePreparedBatch(pms, nil)
}

// writePreparedBatch is WritePreparedMessages; frames, when not nil, is a
// frame list to reuse.
func (c *Conn) writePreparedBatch(pms []*PreparedMessage, frames *[][]byte) error {
	batch := c.fr.sharedFrames() && !c.wr.client && len(pms) > 1
	for _, pm := range pms {
		if pm.messageType != TextMessage && pm.messageType != BinaryMessage {
			batch = false
		}
	}
	if !batch {
		for _, pm := range pms {
			if err := c.WritePreparedMessage(pm); err != nil {
				return err
			}
		}
		return nil
	}
	if err := c.acquireMsg(); err != nil {
		return err
	}
	defer func() { c.wr.msgSem.release() }()
	if err := c.lockFrame(c.currentWriteDeadline()); err != nil {
		return err
	}
	defer func() { c.wr.frameSem.release() }()
	if c.cl.sent.Load() {
		return ErrCloseSent
	}
	var list [][]byte
	if frames != nil {
		list = (*frames)[:0]
	}
	list = append(list, nil) // room for the held frames, see writeVecLocked
	for _, pm := range pms {
		list = append(list, c.preparedFrame(pm))
	}
	err := c.writeVecLocked(list)
	if frames != nil {
		clear(list)
		*frames = list[:0]
	}
	if c.obs != nil && err == nil {
		c.preparedWrittenHook(pms...)
	}
	return err
}
