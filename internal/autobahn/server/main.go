// Command server runs one of the Autobahn|Testsuite echo agents of
// package autobahn on a TCP address, for the suite's fuzzingclient (see
// the autobahn job in .github/workflows/ci.yml):
//
//	go run ./internal/autobahn/server -mode message -addr 127.0.0.1:9001
//
// Modes: message (ReadMessage/WriteMessage), stream (NextReader/
// NextWriter), serve (Upgrader.Serve), queue (QueuePreparedMessage). It
// prints "listening on ADDR" once the socket is open and runs until
// killed.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"

	"github.com/hybi/websocket/internal/autobahn"
)

func main() {
	mode := flag.String("mode", "message", fmt.Sprintf("echo agent, one of %v", autobahn.Modes))
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("autobahn %s agent listening on %s\n", *mode, ln.Addr())
	log.Fatal(autobahn.Serve(ln, *mode))
}
