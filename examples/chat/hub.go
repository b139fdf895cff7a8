package main

import (
	"context"
	"encoding/json"
	"log"

	"github.com/hybi/websocket"
)

// event is what the server sends to the browsers, as JSON text messages.
type event struct {
	Type  string   `json:"type"`            // "welcome", "join", "leave" or "message"
	Name  string   `json:"name"`            // who joined, left or wrote; in "welcome", you
	Text  string   `json:"text,omitempty"`  // the message, for "message"
	Users []string `json:"users,omitempty"` // everyone else present, for "welcome"
}

// chatMessage is a message from a client, on its way to everyone.
type chatMessage struct {
	from *client
	text string
}

// hub owns the set of clients; it is the only goroutine that touches it,
// so no lock is needed. Clients talk to it through its channels.
type hub struct {
	register   chan *client
	unregister chan *client
	broadcast  chan chatMessage
	done       chan struct{} // closed when run returns

	clients map[*client]struct{}
}

func newHub() *hub {
	return &hub{
		register:   make(chan *client),
		unregister: make(chan *client),
		broadcast:  make(chan chatMessage),
		done:       make(chan struct{}),
		clients:    make(map[*client]struct{}),
	}
}

// run serves the hub's channels until ctx is done. The connections
// themselves are closed by the server's ConnSet on shutdown.
func (h *hub) run(ctx context.Context) {
	defer close(h.done)
	for {
		select {
		case c := <-h.register:
			users := make([]string, 0, len(h.clients))
			for other := range h.clients {
				users = append(users, other.name)
			}
			h.clients[c] = struct{}{}
			h.sendTo(c, event{Type: "welcome", Name: c.name, Users: users})
			h.sendAll(event{Type: "join", Name: c.name}, c)
		case c := <-h.unregister:
			h.remove(c)
		case m := <-h.broadcast:
			if _, ok := h.clients[m.from]; ok {
				h.sendAll(event{Type: "message", Name: m.from.name, Text: m.text}, nil)
			}
		case <-ctx.Done():
			clear(h.clients)
			return
		}
	}
}

// remove forgets c and tells the others it left.
func (h *hub) remove(c *client) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	h.sendAll(event{Type: "leave", Name: c.name}, nil)
}

// sendAll sends ev to every client but except. The frame is built once,
// as a PreparedMessage, and shared by every connection.
func (h *hub) sendAll(ev event, except *client) {
	pm := prepare(ev)
	if pm == nil {
		return
	}
	var slow []*client
	for c := range h.clients {
		if c == except {
			continue
		}
		// QueuePreparedMessage never blocks: the library writes what
		// each connection has queued, several messages in one write when
		// they pile up.
		if err := c.conn.QueuePreparedMessage(pm); err != nil {
			// Its queue is full (the browser does not read fast
			// enough) or its connection failed. Drop it rather than
			// hold everyone up.
			slow = append(slow, c)
		}
	}
	for _, c := range slow {
		log.Printf("chat: %s (%s) is too slow, dropped", c.name, c.conn.RemoteAddr())
		go c.drop()
		h.remove(c)
	}
}

// sendTo sends ev to c alone.
func (h *hub) sendTo(c *client, ev event) {
	if pm := prepare(ev); pm != nil {
		c.conn.QueuePreparedMessage(pm)
	}
}

func prepare(ev event) *websocket.PreparedMessage {
	data, err := json.Marshal(ev)
	if err != nil {
		log.Printf("chat: %v", err)
		return nil
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		log.Printf("chat: %v", err)
		return nil
	}
	return pm
}
