package main

import (
	"bytes"
	"net"
	"net/http"

	"github.com/gorilla/websocket"
)

// serveGorilla uses gorilla/websocket's fastest echo: NextReader drained into
// a reused buffer (ReadMessage allocates a new slice per message), then
// WriteMessage, which sends a server message as one frame with one writev
// (NextWriter would fragment at the 4 KiB write buffer). Broadcast uses
// gorilla's PreparedMessage.
func serveGorilla(ln net.Listener, broadcast bool) error {
	up := websocket.Upgrader{
		CheckOrigin:       func(*http.Request) bool { return true },
		EnableCompression: deflateMode,
	}
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
		var buf bytes.Buffer
		for {
			mt, rd, err := c.NextReader()
			if err != nil {
				return
			}
			if err := readInto(&buf, rd); err != nil {
				return
			}
			if !broadcast {
				if err := c.WriteMessage(mt, buf.Bytes()); err != nil {
					return
				}
				continue
			}
			// Only this goroutine ever writes data to the receivers, so
			// gorilla's one-writer rule holds.
			pm, err := websocket.NewPreparedMessage(mt, buf.Bytes())
			if err != nil {
				return
			}
			clients.others(c, func(o *websocket.Conn) { _ = o.WritePreparedMessage(pm) })
		}
	})
}

// serveGorillaReadMessage is gorilla used exactly like serveHybi:
// ReadMessage/WriteMessage (a new slice per message). It is not in the
// default set; it compares like with like.
func serveGorillaReadMessage(ln net.Listener, broadcast bool) error {
	if broadcast {
		return serveGorilla(ln, true)
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	})
}
