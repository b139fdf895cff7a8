// Command echo is a WebSocket echo server: every message a client sends
// comes back to it unchanged, with the same message type.
//
//	go run ./examples/echo                 # ws://localhost:8080/echo
//	go run ./examples/echo -addr :9001     # all interfaces, port 9001
//	go run ./examples/echo -hixie76        # also legacy draft-hixie-76 clients
//	go run ./examples/echo -compress=false # no permessage-deflate
//	go run ./examples/echo -metrics        # counters at /debug/vars (metrics.go)
//	GODEBUG=http2xconnect=1 go run ./examples/echo -h2 # HTTPS, HTTP/2, RFC 8441 (h2.go)
//
// It also serves a small test page at / that talks to /echo from a browser.
// It is the server the Autobahn|Testsuite fuzzingclient runs against in CI;
// see README.md.
//
// On SIGINT or SIGTERM it stops accepting connections, closes every open
// WebSocket with 1001 (going away) through a websocket.ConnSet, and exits
// once every closing handshake has ended or the shutdown timeout has passed.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
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

// upgrader is shared by all requests; an Upgrader is safe for concurrent
// use. The zero value checks that a browser's Origin matches the Host.
var upgrader = websocket.Upgrader{}

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on (host:port)")
	hixie76 := flag.Bool("hixie76", false, "also accept legacy draft-hixie-76 clients on the same path (unmasked frames: see README)")
	compress := flag.Bool("compress", true, "negotiate permessage-deflate (RFC 7692) with clients that offer it")
	metrics := flag.Bool("metrics", false, "publish connection and message counters through expvar at /debug/vars (see metrics.go)")
	flag.Parse()
	upgrader.EnableHixie76 = *hixie76
	upgrader.EnableCompression = *compress
	if *metrics {
		enableMetrics()
	}
	log.SetFlags(0)
	if *hixie76 {
		log.Print("echo: legacy draft-hixie-76 clients are accepted too")
	}

	if err := run(*addr); err != nil {
		log.Fatal(err)
	}
}

func run(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// conns tracks the upgraded connections: http.Server.Shutdown does not
	// track hijacked connections, so the WebSockets are closed from here.
	var conns websocket.ConnSet
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) { echo(&conns, w, r) })
	mux.HandleFunc("/", home)
	if debugVars != nil { // -metrics
		mux.Handle("/debug/vars", debugVars)
	}

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// Shutdown calls GoingAway in its own goroutine: every open WebSocket
	// gets 1001 Going Away while Shutdown drains the plain HTTP requests.
	srv.RegisterOnShutdown(conns.GoingAway)

	ln, err := listen(addr) // net.Listen, or TLS for -h2 (h2.go)
	if err != nil {
		return err
	}
	log.Printf("echo: serving ws://%s/echo and a test page at http://%s/", ln.Addr(), ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills the process the usual way
	log.Print("echo: shutting down")

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Wait for the close handshakes; sockets still open at the deadline
	// are closed at once.
	return conns.Shutdown(sctx)
}

// echo upgrades the request and echoes messages until the peer closes, the
// connection fails, or the server shuts down.
func echo(conns *websocket.ConnSet, w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has already answered the client with an HTTP error.
		log.Printf("echo: upgrade %s: %v", r.RemoteAddr, err)
		return
	}
	defer c.Close()
	// During shutdown Add starts the 1001 close at once.
	defer conns.Add(c)()

	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			// A close from the peer, a protocol error (the library has
			// already sent the matching close code), or shutdown.
			if websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure,
				websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				log.Printf("echo: %s: %v", c.RemoteAddr(), err)
			}
			return
		}
		if err := c.WriteMessage(mt, msg); err != nil {
			return
		}
	}
}

// home serves the test page.
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
	_, _ = w.Write([]byte(homeHTML))
}

const homeHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>websocket echo</title>
<style>
body { font: 14px monospace; margin: 2em; }
#log { white-space: pre-wrap; border: 1px solid #ccc; padding: .5em; min-height: 10em; }
</style>
</head>
<body>
<h1>websocket echo</h1>
<p><button id="open">open</button> <button id="close">close</button></p>
<form id="form"><input id="msg" size="60" value="hello"> <button>send</button></form>
<div id="log"></div>
<script>
"use strict";
const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/echo";
const out = document.getElementById("log");
let ws = null;
function print(s) { out.textContent += s + "\n"; }
document.getElementById("open").onclick = () => {
	if (ws) { return; }
	ws = new WebSocket(url);
	ws.onopen = () => print("OPEN " + url);
	ws.onmessage = (e) => print("RECV " + e.data);
	ws.onerror = () => print("ERROR");
	ws.onclose = (e) => { print("CLOSE " + e.code + " " + e.reason); ws = null; };
};
document.getElementById("close").onclick = () => { if (ws) { ws.close(1000, "bye"); } };
document.getElementById("form").onsubmit = (e) => {
	e.preventDefault();
	if (!ws) { print("not open"); return; }
	const m = document.getElementById("msg").value;
	print("SEND " + m);
	ws.send(m);
};
</script>
</body>
</html>
`
