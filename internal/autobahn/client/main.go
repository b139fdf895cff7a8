// Command client runs every case of an Autobahn|Testsuite fuzzingserver
// through this package's Dialer, as an echo client, then asks the server
// to write its reports (see the autobahn-client job in
// .github/workflows/ci.yml):
//
//	go run ./internal/autobahn/client -url ws://127.0.0.1:9001 -agent hybi-websocket-client
//
// It exits 1 if the server cannot be reached or the reports are not
// written; whether each case passed is in the reports, checked by
// .github/autobahn/check.py.
package main

import (
	"context"
	"flag"
	"log"
	"time"

	"github.com/hybi/websocket/internal/autobahn"
)

func main() {
	base := flag.String("url", "ws://127.0.0.1:9001", "the fuzzingserver's base URL")
	agent := flag.String("agent", "hybi-websocket-client", "agent name in the reports")
	timeout := flag.Duration("timeout", 30*time.Minute, "bound on the whole run")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	n, err := autobahn.Client(ctx, *base, *agent, log.Printf)
	if err != nil {
		log.Fatalf("after %d cases: %v", n, err)
	}
	log.Printf("%d cases run; reports updated", n)
}
