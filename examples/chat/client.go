package main

import (
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hybi/websocket"
)

// Timing and size limits of a connection.
const (
	// pongWait is how long a browser may take to answer a ping. Browsers
	// answer pings by themselves; a tab that does not is gone (a closed
	// laptop, a dropped network) and is disconnected.
	pongWait = 60 * time.Second

	// pingPeriod is how often the server pings. It must be less than
	// pongWait, so that a ping is always outstanding.
	pingPeriod = pongWait * 9 / 10

	// maxMessageSize is the largest message a browser may send; a larger
	// one fails the connection with 1009 (message too big).
	maxMessageSize = 512

	// maxNameLength is the longest name, in characters.
	maxNameLength = 24

	// sendQueue is how many messages may wait for a slow browser before
	// it is dropped (Conn.SetQueueLimit).
	sendQueue = 64
)

// upgrader is shared by every request. The zero value refuses a browser
// whose page came from another origin, which is what a chat served with
// its own page wants.
var upgrader = websocket.Upgrader{EnableCompression: true}

// client is one browser tab. The HTTP handler's goroutine reads
// (readPump); messages to the tab go through the connection's send queue
// (QueuePreparedMessage), written by the library without a goroutine of
// ours.
type client struct {
	hub  *hub
	conn *websocket.Conn
	name string
}

var guests atomic.Int64

// serveWS upgrades the request, joins the client to the hub, and serves it
// until the connection ends.
func serveWS(h *hub, conns *websocket.ConnSet, w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the browser with an HTTP error
	}
	defer conn.Close()
	// conns closes the connection with 1001 on shutdown.
	defer conns.Add(conn)()

	c := &client{
		hub:  h,
		conn: conn,
		name: cleanName(r.URL.Query().Get("name")),
	}
	conn.SetReadLimit(maxMessageSize)
	conn.SetQueueLimit(sendQueue)
	hb := websocket.StartHeartbeat(conn, pingPeriod, pongWait)
	defer hb.Stop()

	select {
	case h.register <- c:
	case <-h.done:
		return
	}
	c.readPump(hb)
}

// readPump reads the browser's messages and hands them to the hub. It
// returns when the connection ends: the tab closed it, the heartbeat or a
// protocol error failed it, or the server is shutting down. It is the only
// goroutine that reads the connection, so it also receives the pongs for
// the heartbeat and the close messages.
func (c *client) readPump(hb *websocket.Heartbeat) {
	defer func() {
		select {
		case c.hub.unregister <- c:
		case <-c.hub.done:
		}
	}()
	for {
		mt, p, err := c.conn.ReadMessage()
		if err != nil {
			if hbErr := hb.Err(); hbErr != nil {
				log.Printf("chat: %s: %v", c.name, hbErr)
			} else if websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure,
				websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				log.Printf("chat: %s: %v", c.name, err)
			}
			return
		}
		if mt != websocket.TextMessage {
			c.conn.CloseHandshake(websocket.CloseUnsupportedData, "text messages only")
			return
		}
		text := strings.TrimSpace(string(p))
		if text == "" {
			continue
		}
		select {
		case c.hub.broadcast <- chatMessage{from: c, text: text}:
		case <-c.hub.done:
			return
		}
	}
}

// drop tells a tab that could not keep up why it is leaving (1008), then
// closes its connection; its readPump then ends and unregisters it. It
// runs in a goroutine of its own, so the hub never waits on a slow tab.
func (c *client) drop() {
	c.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "too slow"),
		time.Now().Add(time.Second))
	c.conn.Close()
}

// cleanName returns a printable name of at most maxNameLength characters,
// or a guest name when none is given.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if utf8.RuneCountInString(s) > maxNameLength {
		s = string([]rune(s)[:maxNameLength])
	}
	if s == "" {
		s = fmt.Sprintf("guest-%d", guests.Add(1))
	}
	return s
}
