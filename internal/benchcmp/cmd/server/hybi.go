//go:build !nohybi

package main

import (
	"bytes"
	"io"
	"net"
	"net/http"

	websocket "github.com/hybi/websocket"
)

func init() {
	servers["hybi"] = serveHybiServe
	servers["hybi-http"] = serveHybiStream
	servers["hybi-rm"] = serveHybi
	servers["hybi-nr"] = serveHybiNextReader
}

// serveHybiServe is our library in its leanest style, the one its README
// recommends for a listener that serves WebSocket only: Upgrader.Serve
// accepts, does the handshake on the bare connection (no net/http server
// state per connection) and runs the handler in the connection's
// goroutine. The handler is hybiSession.
func serveHybiServe(ln net.Listener, broadcast bool) error {
	up := websocket.Upgrader{EnableCompression: deflateMode}
	var clients hub[*websocket.Conn]
	return up.Serve(ln, func(c *websocket.Conn, r *http.Request) {
		hybiSession(c, broadcast, &clients)
	})
}

// serveHybiStream is our library behind net/http, in the style its README
// recommends for many connections there: the handler upgrades, hands the
// connection to a goroutine of its own and returns, so net/http's
// per-request state is freed. The goroutine runs hybiSession.
func serveHybiStream(ln net.Listener, broadcast bool) error {
	var up websocket.Upgrader
	var clients hub[*websocket.Conn]
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			hybiSession(c, broadcast, &clients)
		}()
	})
}

// hybiSession echoes each message by streaming it from NextReader to
// NextWriter (io.Copy, no allocation, no buffer held between messages).
// Broadcast frames each message once (PreparedMessage) and hands it to
// every other connection's send queue (QueuePreparedMessage): the sender
// never waits for a receiver, and the messages that pile up on a
// connection leave in one writev.
func hybiSession(c *websocket.Conn, broadcast bool, clients *hub[*websocket.Conn]) {
	if broadcast {
		clients.add(c)
		defer clients.remove(c)
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			pm, err := websocket.NewPreparedMessage(mt, p)
			if err != nil {
				return
			}
			clients.others(c, func(o *websocket.Conn) {
				if o.QueuePreparedMessage(pm) != nil {
					o.Close() // too slow or gone
				}
			})
		}
	}
	for {
		mt, rd, err := c.NextReader()
		if err != nil {
			return
		}
		wr, err := c.NextWriter(mt)
		if err != nil {
			return
		}
		if _, err := io.Copy(wr, rd); err != nil {
			return
		}
		if err := wr.Close(); err != nil {
			return
		}
	}
}

// serveHybi (hybi-rm) is our library used the plain way: a zero Upgrader and a
// ReadMessage/WriteMessage loop per connection; broadcast with one
// PreparedMessage written to every other connection.
func serveHybi(ln net.Listener, broadcast bool) error {
	up := websocket.Upgrader{EnableCompression: deflateMode}
	var clients hub[*websocket.Conn]
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if broadcast {
			clients.add(c)
			defer clients.remove(c)
		}
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if !broadcast {
				if err := c.WriteMessage(mt, p); err != nil {
					return
				}
				continue
			}
			pm, err := websocket.NewPreparedMessage(mt, p)
			if err != nil {
				return
			}
			clients.others(c, func(o *websocket.Conn) { _ = o.WritePreparedMessage(pm) })
		}
	})
}

// serveHybiNextReader is our library read through NextReader into a reused
// buffer (no allocation per message), the style the gorilla server uses. It
// is not in the default set; it tells ReadMessage's cost apart.
func serveHybiNextReader(ln net.Listener, broadcast bool) error {
	if broadcast {
		return serveHybi(ln, true)
	}
	var up websocket.Upgrader
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var buf bytes.Buffer
		for {
			mt, rd, err := c.NextReader()
			if err != nil {
				return
			}
			if err := readInto(&buf, rd); err != nil {
				return
			}
			if err := c.WriteMessage(mt, buf.Bytes()); err != nil {
				return
			}
		}
	})
}
