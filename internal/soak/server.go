package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	websocket "github.com/hybi/websocket"
)

// server is the in-process soak server: an http.Server on 127.0.0.1 whose
// handler upgrades (RFC 6455 with permessage-deflate, or hixie-76), then
// checks and echoes every message until the client closes or asks the
// server to close.
type server struct {
	addr string
	hs   *http.Server
	ln   net.Listener
	up   websocket.Upgrader

	handlers sync.WaitGroup
	stats    serverStats
	errs     errorLog
}

// serverStats counts what the server saw; every field is updated
// atomically.
type serverStats struct {
	Upgraded       atomic.Int64
	Hixie76        atomic.Int64
	Deflate        atomic.Int64
	Messages       atomic.Int64
	Bytes          atomic.Int64
	ClientCloses   atomic.Int64 // the client started the closing handshake
	ServerCloses   atomic.Int64 // CloseHandshake returned nil
	Errors         atomic.Int64
	ActiveHandlers atomic.Int64
}

func startServer(closeTimeout time.Duration) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{
		addr: ln.Addr().String(),
		ln:   ln,
		up: websocket.Upgrader{
			EnableCompression: true,
			EnableHixie76:     true,
			HandshakeTimeout:  30 * time.Second,
			CloseTimeout:      closeTimeout,
			// Origin is "http://" + Host for the hixie-76 clients and
			// absent for the RFC 6455 ones: the default check passes both.
		},
	}
	s.hs = &http.Server{
		Handler:           http.HandlerFunc(s.handle),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          nil,
	}
	go s.hs.Serve(ln)
	return s, nil
}

func (s *server) fail(id string, format string, args ...any) {
	s.stats.Errors.Add(1)
	s.errs.add("server conn " + id + ": " + fmt.Sprintf(format, args...))
}

// handle upgrades and echoes. Connections with an odd id stream each
// message through NextReader and NextWriter; the others use ReadMessage
// and WriteMessage.
func (s *server) handle(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	s.stats.ActiveHandlers.Add(1)
	defer s.stats.ActiveHandlers.Add(-1)
	id := r.URL.Query().Get("id")
	c, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		s.fail(id, "upgrade: %v", err)
		return
	}
	defer c.Close()
	s.stats.Upgraded.Add(1)
	if c.Hixie76() {
		s.stats.Hixie76.Add(1)
	}
	if r.Header.Get("Sec-WebSocket-Extensions") != "" {
		s.stats.Deflate.Add(1)
	}
	n, _ := strconv.Atoi(id)
	streaming := n%2 == 1
	var seq uint32
	for {
		var err error
		var closeReq bool
		if streaming {
			closeReq, err = s.echoStream(c, seq)
		} else {
			closeReq, err = s.echoMessage(c, seq)
		}
		if closeReq {
			if err := c.CloseHandshake(websocket.CloseNormalClosure, "soak done"); err != nil {
				s.fail(id, "CloseHandshake: %v", err)
				return
			}
			s.stats.ServerCloses.Add(1)
			return
		}
		if err != nil {
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || (c.Hixie76() && ce.Code == websocket.CloseNoStatusReceived)):
				s.stats.ClientCloses.Add(1)
			default:
				s.fail(id, "after %d messages: %v", seq, err)
			}
			return
		}
		seq++
	}
}

// echoMessage reads one whole message, checks it and echoes it.
func (s *server) echoMessage(c *websocket.Conn, seq uint32) (closeReq bool, err error) {
	mt, p, err := c.ReadMessage()
	if err != nil {
		return false, err
	}
	if mt == websocket.TextMessage && string(p) == closeRequest {
		return true, nil
	}
	if err := checkMessage(p, seq); err != nil {
		return false, err
	}
	s.stats.Messages.Add(1)
	s.stats.Bytes.Add(int64(len(p)))
	return false, c.WriteMessage(mt, p)
}

// echoStream echoes one message while it arrives, checking it on the way.
func (s *server) echoStream(c *websocket.Conn, seq uint32) (closeReq bool, err error) {
	mt, r, err := c.NextReader()
	if err != nil {
		return false, err
	}
	var head [headerLen]byte
	n, err := io.ReadFull(r, head[:])
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		if mt == websocket.TextMessage && string(head[:n]) == closeRequest {
			return true, nil
		}
		return false, fmt.Errorf("message of %d bytes, shorter than its header", n)
	}
	if err != nil {
		return false, err
	}
	w, err := c.NextWriter(mt)
	if err != nil {
		return false, err
	}
	var check streamCheck
	check.Write(head[:])
	if _, err := w.Write(head[:]); err != nil {
		w.Close()
		return false, err
	}
	k, err := io.Copy(io.MultiWriter(w, &check), r)
	if err != nil {
		w.Close()
		return false, err
	}
	if err := w.Close(); err != nil {
		return false, err
	}
	if err := check.check(seq); err != nil {
		return false, err
	}
	s.stats.Messages.Add(1)
	s.stats.Bytes.Add(int64(headerLen) + k)
	return false, nil
}

// errorLog keeps the first errors for the report.
type errorLog struct {
	mu    sync.Mutex
	first []string
	more  int
}

const keepErrors = 20

func (l *errorLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.first) < keepErrors {
		l.first = append(l.first, s)
	} else {
		l.more++
	}
}

func (l *errorLog) list() (first []string, more int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.first...), l.more
}
