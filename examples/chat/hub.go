package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// joinRequest asks the hub to let c into the room. The hub answers on
// reply (buffered, so it never waits): nil, or errNameTaken.
type joinRequest struct {
	c     *client
	reply chan error
}

// hub owns the room: who is in it, under which names. It is the only
// goroutine that touches that state, so no lock is needed; clients talk
// to it through its channels.
type hub struct {
	register   chan joinRequest
	unregister chan *client
	broadcast  chan chatMessage
	done       chan struct{} // closed when run returns

	clients map[string]*client // by nameKey of their names
	left    []*client          // removed, their leave not yet announced
	guests  int                // guest names handed out
}

func newHub() *hub {
	return &hub{
		register:   make(chan joinRequest),
		unregister: make(chan *client),
		broadcast:  make(chan chatMessage),
		done:       make(chan struct{}),
		clients:    make(map[string]*client),
	}
}

// run serves the hub's channels until ctx is done. The connections
// themselves are closed by the server's ConnSet on shutdown.
func (h *hub) run(ctx context.Context) {
	defer close(h.done)
	for {
		select {
		case j := <-h.register:
			j.reply <- h.join(j.c)
		case c := <-h.unregister:
			h.remove(c)
		case m := <-h.broadcast:
			if h.present(m.from) {
				h.sendAll(event{Type: "message", Name: m.from.name, Text: m.text}, nil)
			}
		case <-ctx.Done():
			clear(h.clients)
			return
		}
		h.announceLeaves()
	}
}

// join adds c to the room under its name, or a fresh guest name when it
// has none, unless a name that looks the same is there already. It sends
// c the welcome and tells the others.
func (h *hub) join(c *client) error {
	if c.name == "" {
		for c.name == "" || h.clients[nameKey(c.name)] != nil {
			h.guests++
			c.name = fmt.Sprintf("guest-%d", h.guests)
		}
	}
	c.key = nameKey(c.name)
	if h.clients[c.key] != nil {
		return errNameTaken
	}
	users := make([]string, 0, len(h.clients))
	for _, other := range h.clients {
		users = append(users, other.name)
	}
	h.clients[c.key] = c
	h.sendTo(c, event{Type: "welcome", Name: c.name, Users: users})
	h.sendAll(event{Type: "join", Name: c.name}, c)
	return nil
}

// present reports whether c is in the room.
func (h *hub) present(c *client) bool { return h.clients[c.key] == c }

// remove takes c out of the room, if it is still there; announceLeaves
// then tells the others. It happens once per client, whichever way the
// client leaves (it closed, it was too slow), and sendAll only sees (and
// logs) clients still in the room, so a dropped client is logged once.
func (h *hub) remove(c *client) {
	if !h.present(c) {
		return
	}
	delete(h.clients, c.key)
	h.left = append(h.left, c)
}

// announceLeaves tells the room about every client removed since the
// last call, including those that turn out too slow for the news itself.
func (h *hub) announceLeaves() {
	for i := 0; i < len(h.left); i++ {
		h.sendAll(event{Type: "leave", Name: h.left[i].name}, nil)
	}
	clear(h.left)
	h.left = h.left[:0]
}

// sendAll sends ev to every client but except. The frame is built once,
// as a PreparedMessage, and shared by every connection. A client whose
// send queue is full is dropped and removed.
func (h *hub) sendAll(ev event, except *client) {
	pm := prepare(ev)
	if pm == nil {
		return
	}
	for _, c := range h.clients {
		if c == except {
			continue
		}
		// QueuePreparedMessage never blocks: the library writes what
		// each connection has queued, several messages in one write when
		// they pile up.
		if err := c.conn.QueuePreparedMessage(pm); err != nil {
			if errors.Is(err, websocket.ErrQueueFull) {
				// The browser does not read fast enough: drop it
				// rather than hold everyone up.
				log.Printf("chat: %s (%s) is too slow, dropped", c.name, c.conn.RemoteAddr())
				c.dropped.Store(true)
				go c.drop()
			}
			// Otherwise its connection failed or is closing; its
			// readPump ends and has nothing more to say.
			h.remove(c)
		}
	}
}

// sendTo sends ev to c alone. A failure shows on the next sendAll.
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
