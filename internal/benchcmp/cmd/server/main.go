// Command server runs one WebSocket library's echo or broadcast server for
// the cross-library benchmark in cmd/bench.
//
// Usage:
//
//	server -lib hybi|gorilla|gobwas|gws|coder|ref [-addr 127.0.0.1:0] [-mode echo|broadcast|deflate] [-cpuprofile file]
//
// The server prints its listening address on the first line of stdout and
// serves until it is killed. On SIGTERM or SIGINT it stops the CPU profile (if
// any) and exits. Every server takes any path and checks no Origin. Every
// server has compression off, except in -mode deflate: the echo server with
// permessage-deflate (RFC 7692) enabled without context takeover, for the
// libraries in deflateLibs.
//
// Each library is used in its own fastest documented style; see the comment
// on each serveX function.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// A server starts serving on ln and never returns unless the listener fails.
type server func(ln net.Listener, broadcast bool) error

// servers maps -lib names to servers. hybi.go adds ours unless built with
// -tags nohybi (for benchmarking the peers while the root package does not
// build).
var servers = map[string]server{
	"gorilla":    serveGorilla,
	"gorilla-rm": serveGorillaReadMessage,
	"gobwas":     serveGobwas,
	"gws":        serveGws,
	"coder":      serveCoder,
	"ref":        serveRef,
	"ref-rm":     serveRefReadMessage,
}

// deflateMode is -mode deflate: the echo server with permessage-deflate
// enabled, no context takeover either way, each library's default level
// and threshold.
var deflateMode bool

// deflateLibs are the servers that have a deflate mode.
var deflateLibs = map[string]bool{"hybi": true, "hybi-rm": true, "gorilla": true, "gws": true, "coder": true}

func main() {
	lib := flag.String("lib", "hybi", "library: "+strings.Join(libNames(), "|"))
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	mode := flag.String("mode", "echo", "echo|broadcast|deflate")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to `file` (stopped on SIGTERM/SIGINT)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("server: ")

	serve, ok := servers[*lib]
	if !ok {
		log.Fatalf("unknown -lib %q (want %s)", *lib, strings.Join(libNames(), "|"))
	}
	if *mode != "echo" && *mode != "broadcast" && *mode != "deflate" {
		log.Fatalf("unknown -mode %q (want echo|broadcast|deflate)", *mode)
	}
	deflateMode = *mode == "deflate"
	if deflateMode && !deflateLibs[*lib] {
		log.Fatalf("-lib %s has no deflate mode", *lib)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		if *cpuprofile != "" {
			pprof.StopCPUProfile()
		}
		os.Exit(0)
	}()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	log.Fatal(serve(ln, *mode == "broadcast"))
}

func libNames() []string {
	names := make([]string, 0, len(servers))
	for name := range servers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// serveHTTP serves h on ln with a plain net/http server, as the net/http
// based libraries (hybi, gorilla, gws's Upgrader, coder) are used.
func serveHTTP(ln net.Listener, h http.HandlerFunc) error {
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	return srv.Serve(ln)
}

// hub is the set of connected clients of a broadcast server. All libraries
// share it so that they differ only in how they write.
type hub[T comparable] struct {
	mu    sync.RWMutex
	conns []T
}

func (h *hub[T]) add(c T) {
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
}

func (h *hub[T]) remove(c T) {
	h.mu.Lock()
	for i, x := range h.conns {
		if x == c {
			last := len(h.conns) - 1
			h.conns[i] = h.conns[last]
			var zero T
			h.conns[last] = zero
			h.conns = h.conns[:last]
			break
		}
	}
	h.mu.Unlock()
}

// others calls f for every connection but from, holding the read lock.
func (h *hub[T]) others(from T, f func(T)) {
	h.mu.RLock()
	for _, c := range h.conns {
		if c != from {
			f(c)
		}
	}
	h.mu.RUnlock()
}

// readInto reads r to EOF into buf, reusing its storage.
func readInto(buf *bytes.Buffer, r io.Reader) error {
	buf.Reset()
	_, err := buf.ReadFrom(r)
	return err
}
