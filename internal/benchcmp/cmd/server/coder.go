package main

import (
	"bytes"
	"context"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// serveCoder uses coder/websocket with compression disabled and no read
// limit: Reader drained into a reused buffer, then Write, which sends one
// frame and flushes once (io.Copy into Writer sends a frame per chunk plus
// an empty final frame). Broadcast writes the message to every other
// connection with Write; coder has no prepared messages.
func serveCoder(ln net.Listener, broadcast bool) error {
	opts := &websocket.AcceptOptions{
		CompressionMode:    websocket.CompressionDisabled,
		InsecureSkipVerify: true,
	}
	if deflateMode {
		opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	var clients hub[*websocket.Conn]
	return serveHTTP(ln, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		if broadcast {
			clients.add(c)
			defer clients.remove(c)
		}
		ctx := context.Background()
		var buf bytes.Buffer
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			if err := readInto(&buf, rd); err != nil {
				return
			}
			if !broadcast {
				if err := c.Write(ctx, typ, buf.Bytes()); err != nil {
					return
				}
				continue
			}
			p := buf.Bytes()
			clients.others(c, func(o *websocket.Conn) { _ = o.Write(ctx, typ, p) })
		}
	})
}
