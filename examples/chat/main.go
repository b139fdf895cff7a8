// Command chat is a chat room in the browser: every tab that opens the
// page joins the room under a name, sees who else is there, and gets every
// message anyone sends, along with who joins and who leaves.
//
//	go run ./examples/chat                 # http://localhost:8080/
//	go run ./examples/chat -addr :8000     # all interfaces, port 8000
//
// A hub goroutine owns the room and broadcasts each message to every tab
// as one websocket.PreparedMessage, handed to each connection's send
// queue (Conn.QueuePreparedMessage), which the library writes: each client
// has one goroutine of ours, the HTTP handler's, which reads, and no
// writer goroutine. A tab that does not read fast enough fills its queue
// and is dropped (a short-lived goroutine sends it 1008); a tab that
// sends more than messageBurst messages at once, or more than
// messagesPerSecond on average, is closed with 1008 (policy violation);
// a name that is taken, looks like one in the room, or carries invisible,
// bidirectional or control characters is refused with 1008 and the
// reason. A websocket.Heartbeat pings every tab and drops the ones that
// stop answering; a websocket.ConnSet closes every connection with 1001
// (going away) on SIGINT or SIGTERM. See README.md for the design.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hybi/websocket"
)

// shutdownTimeout bounds how long a shutdown waits for the HTTP server and
// for the WebSocket close handshakes.
const shutdownTimeout = 10 * time.Second

//go:embed home.html
var homeHTML []byte

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on (host:port)")
	flag.Parse()
	log.SetFlags(0)
	if err := run(*addr); err != nil {
		log.Fatal(err)
	}
}

// server is the chat's HTTP side: the page at /, the WebSocket at /ws.
type server struct {
	hub   *hub
	conns websocket.ConnSet // the open WebSockets, for shutdown
	rate  rateLimit         // each client's message rate limit
	mux   http.ServeMux
}

func newServer() *server {
	s := &server{
		hub:  newHub(),
		rate: rateLimit{perSecond: messagesPerSecond, burst: messageBurst},
	}
	s.mux.HandleFunc("/", home)
	s.mux.HandleFunc("/ws", s.serveWS)
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func run(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	s := newServer()
	hubCtx, stopHub := context.WithCancel(context.Background())
	go s.hub.run(hubCtx)
	defer func() {
		stopHub()
		<-s.hub.done
	}()

	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	// http.Server.Shutdown does not track hijacked connections: the
	// ConnSet closes the WebSockets, starting as soon as Shutdown does.
	srv.RegisterOnShutdown(s.conns.GoingAway)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("chat: open http://%s/ in several tabs", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills the process the usual way
	log.Print("chat: shutting down")

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Every tab gets 1001; sockets still open at the deadline are closed.
	return s.conns.Shutdown(sctx)
}

// home serves the browser client.
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
