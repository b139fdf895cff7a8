package main

import (
	"log"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

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

	// sendQueue is how many messages may wait for a slow browser before
	// it is dropped (Conn.SetQueueLimit).
	sendQueue = 64
)

// upgrader is shared by every request. Its CheckOrigin is nil, which
// refuses a browser whose page came from another origin (403): what a chat
// served with its own page wants.
var upgrader = websocket.Upgrader{EnableCompression: true}

// client is one browser tab. The HTTP handler's goroutine reads
// (readPump); messages to the tab go through the connection's send queue
// (QueuePreparedMessage), written by the library without a goroutine of
// ours.
type client struct {
	hub  *hub
	conn *websocket.Conn
	name string  // set before it joins; the hub names a guest
	key  string  // nameKey(name), set by the hub
	rate *bucket // its message rate limit, used by readPump only

	// dropped is set by the hub when it drops the client as too slow,
	// and logs it: readPump then ends without logging again.
	dropped atomic.Bool
}

// serveWS upgrades the request, checks the name the tab asked for, joins
// the client to the hub, and serves it until the connection ends. A name
// that is refused, or taken, closes the connection with 1008 (policy
// violation) and the reason, which the page shows.
func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the browser with an HTTP error
	}
	defer conn.Close()
	// conns closes the connection with 1001 on shutdown.
	defer s.conns.Add(conn)()

	name, err := checkName(r.URL.Query().Get("name"))
	if err != nil {
		conn.CloseHandshake(websocket.ClosePolicyViolation, err.Error())
		return
	}
	c := &client{
		hub:  s.hub,
		conn: conn,
		name: name,
		rate: newBucket(s.rate.perSecond, s.rate.burst, time.Now()),
	}
	conn.SetReadLimit(maxMessageSize)
	conn.SetQueueLimit(sendQueue)

	reply := make(chan error, 1)
	select {
	case s.hub.register <- joinRequest{c, reply}:
	case <-s.hub.done:
		return
	}
	if err := <-reply; err != nil {
		conn.CloseHandshake(websocket.ClosePolicyViolation, err.Error())
		return
	}
	hb := websocket.StartHeartbeat(conn, pingPeriod, pongWait)
	defer hb.Stop()
	c.readPump(hb)
}

// readPump reads the browser's messages and hands them to the hub. It
// returns when the connection ends: the tab closed it, the heartbeat or a
// protocol error failed it, the tab sent too many messages, or the server
// is shutting down. It is the only goroutine that reads the connection,
// so it also receives the pongs for the heartbeat and the close messages.
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
			if c.dropped.Load() {
				return
			}
			if hbErr := hb.Err(); hbErr != nil {
				log.Printf("chat: %s: %v", c.name, hbErr)
			} else if websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure,
				websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				log.Printf("chat: %s: %v", c.name, err)
			}
			return
		}
		// Every message counts, even one that is thrown away below:
		// each cost a read.
		if !c.rate.allow(time.Now()) {
			log.Printf("chat: %s (%s) sent messages too fast, closed", c.name, c.conn.RemoteAddr())
			c.conn.CloseHandshake(websocket.ClosePolicyViolation, "too many messages")
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
// closes its connection; its readPump then ends. It runs in a goroutine of
// its own, so the hub never waits on a slow tab.
func (c *client) drop() {
	c.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "too slow"),
		time.Now().Add(time.Second))
	c.conn.Close()
}
