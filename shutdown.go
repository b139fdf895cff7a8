package websocket

import (
	"context"
	"sync"
)

// shutdownReason is the close reason [ConnSet] sends with 1001 Going Away.
const shutdownReason = "server shutting down"

// ConnSet tracks open connections so that a server can close them all when
// it shuts down. [net/http.Server.Shutdown] stops listening and waits for
// active HTTP requests, but it neither tracks nor closes hijacked
// connections such as WebSockets; a ConnSet does that part.
//
// The zero value is an empty set ready to use. A ConnSet is safe for
// concurrent use and must not be copied after first use. A server adds each
// upgraded connection and removes it when its handler is done:
//
//	var conns websocket.ConnSet
//
//	func handler(w http.ResponseWriter, r *http.Request) {
//		c, err := upgrader.Upgrade(w, r, nil)
//		if err != nil {
//			return
//		}
//		defer c.Close()
//		defer conns.Add(c)()
//		for {
//			// Keep reading: on shutdown, the read returns the peer's
//			// answer to the 1001, a *CloseError.
//			if _, _, err := c.ReadMessage(); err != nil {
//				return
//			}
//		}
//	}
//
// and wires the set to the server's shutdown:
//
//	srv.RegisterOnShutdown(conns.GoingAway) // starts the 1001 closes early
//	...
//	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//	defer cancel()
//	err := srv.Shutdown(ctx) // plain HTTP requests
//	err = conns.Shutdown(ctx) // the WebSockets: 1001, then force-close at the deadline
type ConnSet struct {
	mu       sync.Mutex
	conns    map[*Conn]struct{}
	shutdown bool          // GoingAway has been called
	closers  int           // closing handshakes started by the set and not yet returned
	idle     chan struct{} // closed when closers drops to zero; nil while zero
}

// Add adds c to the set and returns a function that removes it, meant for
// a defer in the connection's handler. Calling the function more than once
// is harmless, and so is not calling it for a connection the set itself
// closed. Once the set is shutting down (see [ConnSet.GoingAway]), Add
// starts the closing handshake on c at once, as GoingAway did for the
// connections already in the set; the handler's reads then end as they do
// for those.
func (s *ConnSet) Add(c *Conn) (remove func()) {
	s.mu.Lock()
	if s.conns == nil {
		s.conns = make(map[*Conn]struct{})
	}
	s.conns[c] = struct{}{}
	if s.shutdown {
		s.startCloseLocked(c)
	}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}
}

// Len returns the number of connections in the set.
func (s *ConnSet) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// GoingAway starts the closing handshake, with status 1001 (going away)
// and the reason "server shutting down", on every connection in the set,
// each in its own goroutine, and on every connection added from then on.
// It returns at once; [ConnSet.Shutdown] waits for the handshakes to end.
// Its signature fits [net/http.Server.RegisterOnShutdown], so the
// WebSockets start closing while Shutdown waits for the HTTP requests.
// Calling it more than once is harmless.
//
// Each handshake sends the close message and waits, bounded by
// [Upgrader.CloseTimeout], for the connection's reading goroutine to
// receive the peer's answer, which it gets as a [*CloseError] with code
// 1001; then the socket is closed. Unlike [Conn.CloseHandshake], the set
// never reads, so it cannot race a handler that is between two reads; a
// handler that does not read at all has its socket closed when the
// timeout passes. A connection leaves the set when its handshake ends.
func (s *ConnSet) GoingAway() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return
	}
	s.shutdown = true
	for c := range s.conns {
		s.startCloseLocked(c)
	}
}

// startCloseLocked runs c's closing handshake in a goroutine counted in
// s.closers. s.mu is held.
func (s *ConnSet) startCloseLocked(c *Conn) {
	if s.closers == 0 {
		s.idle = make(chan struct{})
	}
	s.closers++
	go func() {
		c.CloseHandshake(CloseGoingAway, shutdownReason)
		s.mu.Lock()
		delete(s.conns, c)
		s.closers--
		if s.closers == 0 {
			close(s.idle)
			s.idle = nil
		}
		s.mu.Unlock()
	}()
}

// Shutdown closes every connection in the set with 1001 (going away): it
// calls [ConnSet.GoingAway] if that has not happened yet, then waits until
// every closing handshake has ended, which is when each peer has answered
// or [Upgrader.CloseTimeout] has passed. If ctx ends first, Shutdown closes
// the remaining sockets at once (as [Conn.Close] does), waits for their
// handshakes to return, which they do promptly, and returns ctx.Err().
// Otherwise it returns nil.
//
// Connections added while Shutdown waits are closed the same way and
// waited for. Shutdown does not wait for the handlers: they see their
// connection's read fail and return on their own.
func (s *ConnSet) Shutdown(ctx context.Context) error {
	s.GoingAway()
	for {
		s.mu.Lock()
		idle := s.idle
		s.mu.Unlock()
		if idle == nil {
			return nil
		}
		select {
		case <-idle:
			// Handshakes started meanwhile (connections added late)
			// are picked up by the next turn.
		case <-ctx.Done():
			s.closeAll()
			return ctx.Err()
		}
	}
}

// closeAll closes every socket in the set and waits for the closing
// handshakes in flight, which end as soon as their socket is closed.
func (s *ConnSet) closeAll() {
	for {
		s.mu.Lock()
		conns := make([]*Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		idle := s.idle
		s.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		if idle == nil {
			return
		}
		<-idle
	}
}
