// Command soak is the library's long-running load check. It starts an
// in-process server (an Upgrader with EnableCompression and EnableHixie76)
// on 127.0.0.1, opens N concurrent connections to it, a third each RFC
// 6455 plain, RFC 6455 with permessage-deflate and hixie-76, and has every
// one of them exchange sequence-numbered, checksummed messages of 16 B to
// 64 KiB (text and binary, some fragmented, some compressed, pings between
// them) for a bounded time. Every message is checked by the server and its
// echo compared byte for byte by the client, so nothing may be lost,
// reordered or corrupted. Then all connections close, half through the
// client's closing handshake and half through the server's
// Conn.CloseHandshake, and the server process's goroutines and heap (after
// runtime.GC) must return near where they were before the first
// connection.
//
// It prints connections, messages, bytes, errors, heap and goroutines
// before, during and after, and exits with status 1 on any error.
//
//	go run ./internal/soak -conns 10000 -duration 60s
//	go run ./internal/soak -short     # CI: 1,000 connections for 20 s
//
// The clients run in the same process when the open-file limit allows two
// descriptors per connection; otherwise in worker processes (this program
// again, with -worker), each under its own limit. Their source addresses
// are spread over 127.0.0.2 and up, so that 10,000 connections do not run
// out of ephemeral ports.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// config is the whole soak's configuration.
type config struct {
	Conns          int
	Duration       time.Duration
	Workers        int // client processes; -1: as the open-file limit requires
	Client         clientConfig
	HeapSlack      int64 // bytes the heap may stay above the baseline
	GoroutineSlack int
	Log            io.Writer
}

func defaultConfig() config {
	return config{
		Conns:    1000,
		Duration: 20 * time.Second,
		Workers:  -1,
		Client: clientConfig{
			Spread:  16,
			MinSize: 16,
			MaxSize: 64 << 10,
			Pause:   50 * time.Millisecond,
			Timeout: 60 * time.Second,
			Dialers: 64,
		},
		HeapSlack:      16 << 20,
		GoroutineSlack: 2,
		Log:            os.Stderr,
	}
}

func main() {
	cfg := defaultConfig()
	short := flag.Bool("short", false, "the CI soak: 1,000 connections for 20s (overrides -conns and -duration)")
	flag.IntVar(&cfg.Conns, "conns", cfg.Conns, "concurrent connections")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the connections exchange messages")
	flag.IntVar(&cfg.Workers, "workers", cfg.Workers, "client processes (0: clients in this process; -1: as the open-file limit requires)")
	flag.IntVar(&cfg.Client.Spread, "spread", cfg.Client.Spread, "client source addresses 127.0.0.2 and up")
	flag.IntVar(&cfg.Client.MinSize, "min", cfg.Client.MinSize, "smallest message, bytes (at least 16)")
	flag.IntVar(&cfg.Client.MaxSize, "max", cfg.Client.MaxSize, "largest message, bytes")
	flag.DurationVar(&cfg.Client.Pause, "pause", cfg.Client.Pause, "mean pause between a connection's bursts of messages")
	flag.DurationVar(&cfg.Client.Timeout, "timeout", cfg.Client.Timeout, "bound on every handshake, read and write")
	heapSlack := flag.Int64("heap-slack", cfg.HeapSlack>>20, "MiB the heap may stay above its baseline after the run")
	worker := flag.Bool("worker", false, "internal: run as a client process")
	addr := flag.String("addr", "", "internal: server address, with -worker")
	first := flag.Int("first", 0, "internal: first connection id, with -worker")
	flag.Parse()
	if *short {
		cfg.Conns, cfg.Duration = 1000, 20*time.Second
	}
	cfg.HeapSlack = *heapSlack << 20
	cfg.Client.MinSize = max(cfg.Client.MinSize, headerLen)
	raiseOpenFileLimit()
	if *worker {
		cfg.Client.Addr, cfg.Client.First, cfg.Client.N = *addr, *first, cfg.Conns
		os.Exit(workerMain(cfg.Client))
	}
	rep, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	rep.print(os.Stdout)
	if !rep.ok() {
		os.Exit(1)
	}
}

// fdReserve is the descriptors a process keeps for itself beyond its
// connections.
const fdReserve = 256

// report is the soak's outcome.
type report struct {
	cfg     config
	workers int
	clients clientStats

	server struct {
		Upgraded, Hixie76, Deflate, Messages, Bytes, ClientCloses, ServerCloses, Errors int64
		ErrorSamples                                                                    []string
		MoreErrors                                                                      int
	}
	heapBefore, heapAfter, heapPeak uint64 // HeapAlloc after GC; peak HeapInuse
	heapSlack                       uint64 // how far above heapBefore heapAfter may be
	gBefore, gAfter, gPeak          int
	leakMsgs                        []string
	settle                          time.Duration
}

// run is the soak: server, baseline, clients, checks.
func run(cfg config) (*report, error) {
	nofile := raiseOpenFileLimit()
	if uint64(cfg.Conns)+fdReserve > nofile {
		return nil, fmt.Errorf("%d connections need %d open files in the server process; the limit is %d (ulimit -n)", cfg.Conns, cfg.Conns+fdReserve, nofile)
	}
	workers := cfg.Workers
	if workers < 0 {
		workers = 0
		if uint64(2*cfg.Conns)+fdReserve > nofile {
			per := int(nofile - fdReserve)
			workers = (cfg.Conns + per - 1) / per
		}
	}
	srv, err := startServer(10 * time.Second)
	if err != nil {
		return nil, err
	}
	defer srv.hs.Close()
	cfg.Client.Addr = srv.addr

	rep := &report{cfg: cfg, workers: workers}
	rep.heapBefore, rep.gBefore = settledHeap()
	logf(cfg, "soak: server on %s; baseline heap %s, %d goroutines; %d connections, %d client process(es), nofile %d",
		srv.addr, mib(rep.heapBefore), rep.gBefore, cfg.Conns, workers, nofile)

	stopSampler := sample(rep)
	if workers == 0 {
		cs := &clientSet{cfg: cfg.Client, stats: &clientStats{}}
		cs.cfg.First, cs.cfg.N = 0, cfg.Conns
		cs.connect()
		logf(cfg, "soak: %d/%d connected in %.1fs", cs.stats.connected.Load(), cfg.Conns, cs.stats.ConnectSeconds)
		cs.run(time.Now().Add(cfg.Duration))
		cs.stats.snapshot()
		rep.clients.merge(cs.stats)
	} else if err := runWorkers(cfg, workers, &rep.clients); err != nil {
		stopSampler()
		return nil, err
	}
	stopSampler()

	// Every handler must return: the clients saw their connections end.
	deadline := time.Now().Add(30 * time.Second)
	for srv.stats.ActiveHandlers.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := srv.stats.ActiveHandlers.Load(); n > 0 {
		rep.leakMsgs = append(rep.leakMsgs, fmt.Sprintf("%d server handlers still running 30s after the clients finished", n))
	}
	// Then the goroutines and the heap must come back near the baseline
	// (a few seconds for connections being torn down, sync.Pool victims).
	// The runtime keeps the descriptor of every goroutine it ever ran for
	// reuse (about 400 bytes each, never freed), so the slack grows with
	// the peak number of goroutines.
	rep.heapSlack = uint64(cfg.HeapSlack) + 1024*uint64(rep.gPeak)
	start := time.Now()
	for {
		rep.heapAfter, rep.gAfter = settledHeap()
		if (rep.gAfter <= rep.gBefore+cfg.GoroutineSlack && rep.heapAfter <= rep.heapBefore+rep.heapSlack) || time.Since(start) > 15*time.Second {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	rep.settle = time.Since(start)
	if rep.gAfter > rep.gBefore+cfg.GoroutineSlack {
		rep.leakMsgs = append(rep.leakMsgs, fmt.Sprintf("goroutines: %d after, %d before", rep.gAfter, rep.gBefore))
		if cfg.Log != nil {
			buf := make([]byte, 1<<20)
			fmt.Fprintf(cfg.Log, "%s\n", buf[:runtime.Stack(buf, true)])
		}
	}
	if rep.heapAfter > rep.heapBefore+rep.heapSlack {
		rep.leakMsgs = append(rep.leakMsgs, fmt.Sprintf("heap: %s after, %s before (slack %s)", mib(rep.heapAfter), mib(rep.heapBefore), mib(rep.heapSlack)))
	}

	s := &srv.stats
	rep.server.Upgraded, rep.server.Hixie76, rep.server.Deflate = s.Upgraded.Load(), s.Hixie76.Load(), s.Deflate.Load()
	rep.server.Messages, rep.server.Bytes = s.Messages.Load(), s.Bytes.Load()
	rep.server.ClientCloses, rep.server.ServerCloses, rep.server.Errors = s.ClientCloses.Load(), s.ServerCloses.Load(), s.Errors.Load()
	rep.server.ErrorSamples, rep.server.MoreErrors = srv.errs.list()
	return rep, nil
}

// settledHeap collects garbage (twice: sync.Pool keeps a victim cache for
// one cycle) and returns the live heap and the goroutine count.
func settledHeap() (heap uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, runtime.NumGoroutine()
}

// sample records the peak heap in use and goroutine count every 250 ms
// until the returned function is called.
func sample(rep *report) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			rep.heapPeak = max(rep.heapPeak, ms.HeapInuse)
			rep.gPeak = max(rep.gPeak, runtime.NumGoroutine())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// runWorkers runs the clients in worker processes: each connects its share
// and says READY; once all have, each is told when to stop exchanging, and
// answers with its figures as JSON.
func runWorkers(cfg config, n int, total *clientStats) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	type proc struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Scanner
	}
	procs := make([]*proc, n)
	per := (cfg.Conns + n - 1) / n
	for i := range procs {
		first := i * per
		count := min(per, cfg.Conns-first)
		c := cfg.Client
		cmd := exec.Command(self, "-worker", "-addr", c.Addr, "-first", strconv.Itoa(first), "-conns", strconv.Itoa(count),
			"-spread", strconv.Itoa(c.Spread), "-min", strconv.Itoa(c.MinSize), "-max", strconv.Itoa(c.MaxSize),
			"-pause", c.Pause.String(), "-timeout", c.Timeout.String())
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		procs[i] = &proc{cmd, stdin, sc}
	}
	defer func() {
		for _, p := range procs {
			p.stdin.Close()
			p.cmd.Wait()
		}
	}()
	start := time.Now()
	for i, p := range procs {
		if !p.out.Scan() || !strings.HasPrefix(p.out.Text(), "READY") {
			return fmt.Errorf("client process %d did not get ready: %q %v", i, p.out.Text(), p.out.Err())
		}
	}
	logf(cfg, "soak: %d client processes connected in %.1fs", n, time.Since(start).Seconds())
	deadline := time.Now().Add(cfg.Duration)
	for _, p := range procs {
		fmt.Fprintf(p.stdin, "GO %d\n", deadline.UnixNano())
	}
	for i, p := range procs {
		if !p.out.Scan() {
			return fmt.Errorf("client process %d ended without a result: %v", i, p.out.Err())
		}
		line, ok := strings.CutPrefix(p.out.Text(), "RESULT ")
		if !ok {
			return fmt.Errorf("client process %d: unexpected line %q", i, p.out.Text())
		}
		var st clientStats
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			return fmt.Errorf("client process %d: %v", i, err)
		}
		total.merge(&st)
	}
	return nil
}

// workerMain is a client process: connect, READY, wait for GO, exchange,
// close, RESULT.
func workerMain(cfg clientConfig) int {
	cs := &clientSet{cfg: cfg, stats: &clientStats{}}
	cs.connect()
	fmt.Printf("READY %d\n", cs.stats.connected.Load())
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return 1
	}
	ns, err := strconv.ParseInt(strings.TrimPrefix(in.Text(), "GO "), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak worker:", err)
		return 1
	}
	cs.run(time.Unix(0, ns))
	cs.stats.snapshot()
	b, _ := json.Marshal(cs.stats)
	fmt.Printf("RESULT %s\n", b)
	return 0
}

func logf(cfg config, format string, args ...any) {
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, format+"\n", args...)
	}
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// size formats a byte count in MiB or GiB.
func size(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// problems lists everything that makes the soak fail.
func (r *report) problems() []string {
	c, s := &r.clients, &r.server
	var p []string
	if c.Errors > 0 || s.Errors > 0 {
		p = append(p, fmt.Sprintf("%d client and %d server errors", c.Errors, s.Errors))
	}
	if c.Connected != int64(r.cfg.Conns) || s.Upgraded != int64(r.cfg.Conns) {
		p = append(p, fmt.Sprintf("%d connections wanted, %d connected, %d upgraded", r.cfg.Conns, c.Connected, s.Upgraded))
	}
	if c.MessagesVerified != c.MessagesSent || s.Messages != c.MessagesSent {
		p = append(p, fmt.Sprintf("%d messages sent, %d checked by the server, %d echoes verified", c.MessagesSent, s.Messages, c.MessagesVerified))
	}
	if c.PongsVerified != c.Pings {
		p = append(p, fmt.Sprintf("%d pings, %d pongs", c.Pings, c.PongsVerified))
	}
	if c.ClientCloses+c.ServerCloses != int64(r.cfg.Conns) || s.ClientCloses != c.ClientCloses || s.ServerCloses != c.ServerCloses {
		p = append(p, fmt.Sprintf("closes: client-initiated %d (server saw %d), server-initiated %d (server saw %d), want %d in all",
			c.ClientCloses, s.ClientCloses, c.ServerCloses, s.ServerCloses, r.cfg.Conns))
	}
	if c.MessagesSent == 0 {
		p = append(p, "no message was exchanged")
	}
	return append(p, r.leakMsgs...)
}

func (r *report) ok() bool { return len(r.problems()) == 0 }

func (r *report) print(w io.Writer) {
	c, s := &r.clients, &r.server
	procs := "in process"
	if r.workers > 0 {
		procs = fmt.Sprintf("in %d worker processes", r.workers)
	}
	fmt.Fprintf(w, "connections:  %d wanted, %d connected (%d RFC 6455, %d permessage-deflate, %d hixie-76; clients %s) in %.1fs\n",
		r.cfg.Conns, c.Connected, c.Plain, c.Deflate, c.Hixie76, procs, c.ConnectSeconds)
	fmt.Fprintf(w, "exchange:     %.1fs, then close in %.1fs\n", c.ExchangeSeconds, c.CloseSeconds)
	fmt.Fprintf(w, "messages:     %d sent, %d checked by the server, %d echoes verified (%.0f/s each way)\n",
		c.MessagesSent, s.Messages, c.MessagesVerified, float64(c.MessagesVerified)/max(c.ExchangeSeconds, 1e-9))
	fmt.Fprintf(w, "by kind:      %d RFC 6455, %d permessage-deflate, %d hixie-76 messages\n", c.SentByKind[0], c.SentByKind[1], c.SentByKind[2])
	fmt.Fprintf(w, "bytes:        %s sent, %s echoed and verified\n", size(c.BytesSent), size(c.BytesVerified))
	fmt.Fprintf(w, "compressed:   %d messages sent compressed, %d received compressed\n", c.CompressedSent, c.CompressedReceived)
	fmt.Fprintf(w, "pings:        %d sent, %d pongs verified\n", c.Pings, c.PongsVerified)
	fmt.Fprintf(w, "closes:       client-initiated %d (server saw %d), server CloseHandshake %d (client saw %d)\n",
		c.ClientCloses, s.ClientCloses, s.ServerCloses, c.ServerCloses)
	fmt.Fprintf(w, "heap:         %s before, peak in use %s, %s after (after GC, %.1fs after the last close; slack %s)\n",
		mib(r.heapBefore), mib(r.heapPeak), mib(r.heapAfter), r.settle.Seconds(), mib(r.heapSlack))
	fmt.Fprintf(w, "goroutines:   %d before, peak %d, %d after\n", r.gBefore, r.gPeak, r.gAfter)
	fmt.Fprintf(w, "errors:       %d (client %d, server %d)\n", c.Errors+s.Errors, c.Errors, s.Errors)
	for _, e := range append(append([]string(nil), s.ErrorSamples...), c.ErrorSamples...) {
		fmt.Fprintf(w, "  %s\n", e)
	}
	if more := s.MoreErrors + c.MoreErrors; more > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", more)
	}
	if p := r.problems(); len(p) > 0 {
		fmt.Fprintf(w, "FAIL\n")
		for _, x := range p {
			fmt.Fprintf(w, "  %s\n", x)
		}
		return
	}
	fmt.Fprintf(w, "PASS\n")
}
