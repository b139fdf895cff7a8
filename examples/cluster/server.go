package main

import (
	"errors"
	"log"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/redisroom"
)

// Heartbeat: a client that stops answering pings for pongWait is closed.
const (
	pongWait   = 60 * time.Second
	pingPeriod = pongWait * 9 / 10
)

// server is one node's HTTP side: the page at /, the WebSocket at /ws.
type server struct {
	hub      *redisroom.Hub
	conns    websocket.ConnSet // open WebSockets, sent 1001 on shutdown
	upgrader websocket.Upgrader
	mux      http.ServeMux
}

func newServer(hub *redisroom.Hub) *server {
	// The zero Upgrader's origin check refuses a page from another origin
	// (an Origin whose host is not the request's Host) with 403.
	s := &server{hub: hub, upgrader: websocket.Upgrader{CloseTimeout: closeTimeout}}
	s.mux.HandleFunc("/", home)
	s.mux.HandleFunc("/ws", s.serveWS)
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// serveWS checks the request, joins the room, upgrades and serves the
// client until it leaves. Everything that can be refused is refused with
// an HTTP status before the upgrade: 400 for a bad room or since, 403 for
// a foreign origin, 503 when Redis does not answer.
func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	room, since, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !sameOrigin(r) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	m, err := s.hub.Join(r.Context(), room, since)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, redisroom.ErrUnavailable) || errors.Is(err, redisroom.ErrClosed) {
			status = http.StatusServiceUnavailable
		}
		http.Error(w, err.Error(), status)
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		m.Leave() // Upgrade answered with an HTTP error
		return
	}
	defer conn.Close()
	defer s.conns.Add(conn)()
	hb := websocket.StartHeartbeat(conn, pingPeriod, pongWait)
	defer hb.Stop()
	err = m.Serve(conn)
	if hbErr := hb.Err(); hbErr != nil {
		log.Printf("cluster: %s: %v", conn.RemoteAddr(), hbErr)
	} else if errors.Is(err, websocket.ErrReadLimit) {
		log.Printf("cluster: %s: line too long, closed with 1009", conn.RemoteAddr())
	}
}

// parseQuery returns the room and since of a /ws query: room exactly once,
// 1-64 of [A-Za-z0-9_-] after decoding; since at most once, a stream id.
func parseQuery(raw string) (room, since string, err error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", "", errors.New("malformed query")
	}
	rooms := q["room"]
	if len(rooms) != 1 || !redisroom.ValidRoom(rooms[0]) {
		return "", "", errors.New("room: exactly one, 1-64 characters of A-Z a-z 0-9 _ -")
	}
	if sinces, ok := q["since"]; ok {
		if len(sinces) != 1 {
			return "", "", errors.New("since: at most one")
		}
		if _, err := redisroom.ParseID(sinces[0]); err != nil {
			return "", "", errors.New("since: not a stream id")
		}
		since = sinces[0]
	}
	return rooms[0], since, nil
}

// sameOrigin is the Upgrader's default check, made before joining the
// room so that a foreign page gets its 403 even while Redis is down: no
// Origin (not a browser), or an Origin whose host is the request's Host.
func sameOrigin(r *http.Request) bool {
	origin := r.Header["Origin"]
	if len(origin) == 0 {
		return true
	}
	u, err := url.Parse(origin[0])
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// home serves the chat page.
func home(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(homeHTML)
}
