//go:build !nohybi

package main

import (
	"bytes"
	"net"
	"net/http"

	websocket "github.com/hybi/websocket"
)

func init() {
	servers["hybi"] = serveHybi
	servers["hybi-nr"] = serveHybiNextReader
}

// serveHybi is our library used the plain way: a zero Upgrader and a
// ReadMessage/WriteMessage loop per connection; broadcast with one
// PreparedMessage written to every other connection.
func serveHybi(ln net.Listener, broadcast bool) error {
	var up websocket.Upgrader
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
