// Command cluster is one node of a chat that spans several processes:
// lines posted to a room on any node reach the room's clients on every
// node, through one Redis stream per room (package redisroom).
//
//	go build -o cluster . && ./cluster -addr 127.0.0.1:8081 -redis 127.0.0.1:6379 -node a
//
// GET / serves the chat page; GET /ws?room=ROOM[&since=ID] is the
// WebSocket. See README.md for the contract, the three-node recipe behind
// nginx and the benchmark.
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

	"github.com/hybi/websocket/redisroom"
	"github.com/redis/go-redis/v9"
)

// Shutdown: every client is sent 1001 and given closeTimeout to answer;
// the whole shutdown is bounded by shutdownTimeout, under the 5 s a node
// has to exit after SIGTERM.
const (
	closeTimeout    = 2 * time.Second
	shutdownTimeout = 4 * time.Second
)

//go:embed home.html
var homeHTML []byte

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (host:port)")
	redisAddr := flag.String("redis", "127.0.0.1:6379", `Redis address (host:port); "" keeps rooms in this process only`)
	node := flag.String("node", "", "this node's name, put in every line it accepts (default: the host name)")
	maxLen := flag.Int64("maxlen", redisroom.DefaultMaxLen, "approximate bound of each room's stream (XADD MAXLEN ~)")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	if *node == "" {
		*node, _ = os.Hostname()
	}
	if err := run(*addr, *redisAddr, *node, *maxLen); err != nil {
		log.Fatal(err)
	}
}

func run(addr, redisAddr, node string, maxLen int64) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := redisroom.Config{Node: node, MaxLen: maxLen, Logf: log.Printf}
	if redisAddr != "" {
		rdb := redis.NewClient(redisroom.ClientOptions(redisAddr))
		defer rdb.Close()
		cfg.Redis = rdb
	}
	hub := redisroom.New(cfg)
	s := newServer(hub)

	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	// http.Server.Shutdown does not track hijacked connections: the
	// ConnSet sends them 1001 as soon as Shutdown starts.
	srv.RegisterOnShutdown(s.conns.GoingAway)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("cluster: node %s listening on http://%s/ (redis %q)", node, ln.Addr(), redisAddr)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills the process the usual way
	log.Printf("cluster: node %s shutting down", node)
	// Whatever happens below, the process is gone within 5 s.
	time.AfterFunc(shutdownTimeout+500*time.Millisecond, func() { os.Exit(1) })

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	err = s.conns.Shutdown(sctx)
	hub.Close()
	return err
}
