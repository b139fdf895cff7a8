package main

import (
	"net"
	"net/http"

	"github.com/lxzan/gws"
)

// serveGws uses lxzan/gws the documented way: an Upgrader with an event
// handler under net/http, ReadLoop in the handler's goroutine, ParallelEnabled
// (the old ReadAsyncEnabled) false, compression off, UTF-8 checks off (the
// default). Broadcast uses gws.NewBroadcaster, which frames the message once
// and queues the writes on each connection.
func serveGws(ln net.Listener, broadcast bool) error {
	h := &gwsHandler{broadcast: broadcast}
	up := gws.NewUpgrader(h, &gws.ServerOption{
		ParallelEnabled:    false,
		ReadMaxPayloadSize: 64 << 20,
		PermessageDeflate:  gws.PermessageDeflate{Enabled: deflateMode},
	})
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		c.ReadLoop()
	})
}

type gwsHandler struct {
	gws.BuiltinEventHandler
	broadcast bool
	clients   hub[*gws.Conn]
}

func (h *gwsHandler) OnOpen(c *gws.Conn) {
	if h.broadcast {
		h.clients.add(c)
	}
}

func (h *gwsHandler) OnClose(c *gws.Conn, err error) {
	if h.broadcast {
		h.clients.remove(c)
	}
}

func (h *gwsHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if !h.broadcast {
		_ = c.WriteMessage(m.Opcode, m.Bytes())
		return
	}
	// The broadcaster keeps the payload until the queued writes are done,
	// and m's buffer goes back to gws's pool on Close: copy it.
	b := gws.NewBroadcaster(m.Opcode, append([]byte(nil), m.Bytes()...))
	h.clients.others(c, func(o *gws.Conn) { _ = b.Broadcast(o) })
	_ = b.Close()
}
