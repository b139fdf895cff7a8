package main

import (
	"bufio"
	"io"
	"net"
	"sync"

	"github.com/gobwas/ws"
)

// serveGobwas uses gobwas/ws's low-level API, its fastest documented way:
// ws.Upgrade on the raw net.Conn (no net/http), then per connection a
// goroutine that reads headers with ws.ReadHeaderBuffer from a bufio.Reader,
// reads the payload into a reused buffer, unmasks it with ws.Cipher and
// writes header and payload through a bufio.Writer with one Flush.
// Broadcast compiles the frame once (ws.CompileFrame) and writes the bytes
// to every other connection.
func serveGobwas(ln net.Listener, broadcast bool) error {
	var clients hub[*gobwasConn]
	for {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer nc.Close()
			if _, err := ws.Upgrade(nc); err != nil {
				return
			}
			c := &gobwasConn{Conn: nc}
			if broadcast {
				clients.add(c)
				defer clients.remove(c)
			}
			gobwasLoop(c, broadcast, &clients)
		}()
	}
}

type gobwasConn struct {
	net.Conn
	mu sync.Mutex // serializes writes from the broadcaster and the owner
}

func gobwasLoop(c *gobwasConn, broadcast bool, clients *hub[*gobwasConn]) {
	br := bufio.NewReaderSize(c, 4096)
	bw := bufio.NewWriterSize(c, 4096)
	var hbuf [ws.MaxHeaderSize]byte
	var payload []byte
	for {
		h, err := ws.ReadHeaderBuffer(br, hbuf[:])
		if err != nil {
			return
		}
		if cap(payload) < int(h.Length) {
			payload = make([]byte, h.Length)
		}
		payload = payload[:h.Length]
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
			h.Masked = false
		}
		switch {
		case h.OpCode == ws.OpClose:
			return
		case h.OpCode == ws.OpPing:
			h.OpCode = ws.OpPong
		case h.OpCode == ws.OpPong:
			continue
		case broadcast:
			frame, err := ws.CompileFrame(ws.NewFrame(h.OpCode, h.Fin, payload))
			if err != nil {
				return
			}
			clients.others(c, func(o *gobwasConn) {
				o.mu.Lock()
				_, _ = o.Write(frame)
				o.mu.Unlock()
			})
			continue
		}
		c.mu.Lock()
		err = ws.WriteHeaderBuffer(bw, h, hbuf[:])
		if err == nil {
			_, err = bw.Write(payload)
		}
		if err == nil {
			err = bw.Flush()
		}
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}
