// Command bench compares the server CPU cost and memory of WebSocket server
// libraries: ours (hybi), gorilla, gobwas, gws, coder, and a minimal
// reference echo (ref) as the floor.
//
// It builds cmd/server, starts one server process per run, drives it with
// its own raw-socket WebSocket client, and reads the server's CPU time and
// RSS from /proc. See README.md for what is measured and the caveats.
//
// Usage (from internal/benchcmp):
//
//	go run ./cmd/bench [-quick] [-reps 3] [-libs hybi,gorilla,...] [-scenarios echo,pipeline,broadcast,upgrade,idle]
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type config struct {
	libs       []string
	opcode     byte
	reps       int
	msgCap     int64 // messages per echo run
	byteCap    int64 // payload bytes per echo run
	deliveries int64 // deliveries per broadcast run
	upgrades   int64 // handshakes per upgrade run
	srcIPs     int
	profileDir string
	verbose    bool
}

// The command line.
var (
	quick      = flag.Bool("quick", false, "short run (about a minute): 1 rep, fewer messages, fewer scenarios")
	libs       = flag.String("libs", "hybi,hybi-http,hybi-rm,gorilla,gobwas,gws,coder,ref", "comma-separated libraries (cmd/server -lib values)")
	scenarios  = flag.String("scenarios", "echo,pipeline,deflate,broadcast,upgrade,idle", "comma-separated scenario kinds")
	connsF     = flag.String("conns", "1,64,1000", "echo connection counts")
	sizesF     = flag.String("sizes", "16,1k,64k,1m", "echo payload sizes")
	pipeConns  = flag.Int("pipeconns", 64, "pipelined echo connections")
	pipeSizes  = flag.String("pipesizes", "16,1k", "pipelined echo payload sizes")
	window     = flag.Int("window", 8, "pipelined echo messages in flight per connection")
	dConns     = flag.String("dconns", "1,64", "permessage-deflate echo connection counts")
	dSizes     = flag.String("dsizes", "1k,64k", "permessage-deflate echo text sizes")
	receivers  = flag.String("receivers", "100,1000", "broadcast receiver counts")
	bcastSize  = flag.Int("bsize", 125, "broadcast payload size")
	bWindow    = flag.Int("bwindow", 16, "broadcast messages in flight in the pipelined broadcast rows (1: none)")
	idleConns  = flag.Int("idle", 10000, "connections in the idle memory scenario")
	idleSize   = flag.Int("idlesize", 1024, "payload of the one message per idle connection")
	reps       = flag.Int("reps", 3, "repetitions of every CPU cell (libraries interleaved in rotation)")
	idleReps   = flag.Int("idlereps", 1, "repetitions of the idle memory scenario")
	maxFlight  = flag.String("maxinflight", "256m", "cap echo connections so that conns×size stays under this")
	msgCap     = flag.Int64("msgs", 40000, "messages per echo run (fewer for large payloads, see -bytes)")
	byteCap    = flag.String("bytes", "512m", "payload bytes per echo run")
	deliveries = flag.Int64("deliveries", 100000, "deliveries per broadcast run")
	upgrades   = flag.Int64("upgrades", 3000, "handshakes per upgrade run")
	text       = flag.Bool("text", false, "send text messages (ASCII) instead of binary, to include UTF-8 validation")
	srcIPs     = flag.Int("srcips", 4, "spread client connections over 127.0.0.1..N")
	serverBin  = flag.String("server", "", "prebuilt cmd/server binary (default: build it)")
	tags       = flag.String("tags", "", "build tags for cmd/server (nohybi: without our library)")
	profileDir = flag.String("cpuprofile", "", "write a server CPU profile per run into `dir`")
	verbose    = flag.Bool("v", false, "print every run to stderr")
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	flag.Parse()
	applyQuick()
	cfg := newConfig()
	scens := buildScenarios(cfg)
	checkNoFile(scens)
	bin, cleanup := serverBinary(cfg)
	defer cleanup()
	runAll(bin, cfg, scens)
}

// applyQuick lowers the defaults the -quick run does not want, leaving
// the flags given on the command line alone.
func applyQuick() {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		quickDefault := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		quickDefault("reps", func() { *reps = 1 })
		quickDefault("conns", func() { *connsF = "1,64" })
		quickDefault("receivers", func() { *receivers = "100" })
		quickDefault("idle", func() { *idleConns = 1000 })
		quickDefault("msgs", func() { *msgCap = 8000 })
		quickDefault("bytes", func() { *byteCap = "64m" })
		quickDefault("deliveries", func() { *deliveries = 20000 })
		quickDefault("upgrades", func() { *upgrades = 500 })
	}
}

// newConfig is the run's settings from the flags.
func newConfig() *config {
	cfg := &config{
		libs:       splitList(*libs),
		opcode:     opBinary,
		reps:       max(*reps, 1),
		msgCap:     *msgCap,
		byteCap:    mustSize(*byteCap),
		deliveries: *deliveries,
		upgrades:   *upgrades,
		srcIPs:     *srcIPs,
		profileDir: *profileDir,
		verbose:    *verbose,
	}
	if *text {
		cfg.opcode = opText
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			log.Fatal(err)
		}
	}

	return cfg
}

// buildScenarios lists the scenarios the flags ask for.
func buildScenarios(cfg *config) []scenario {
	var scens []scenario
	kinds := map[string]bool{}
	for _, k := range splitList(*scenarios) {
		kinds[k] = true
	}
	inflight := mustSize(*maxFlight)
	if kinds["echo"] {
		for _, n := range splitInts(*connsF) {
			for _, size := range splitSizes(*sizesF) {
				s := scenario{kind: "echo", conns: n, size: size, window: 1}
				if int64(n)*int64(size) > inflight {
					s.asked, s.conns = n, max(int(inflight/int64(size)), 1)
				}
				scens = append(scens, s)
			}
		}
	}
	if kinds["pipeline"] {
		for _, size := range splitSizes(*pipeSizes) {
			scens = append(scens, scenario{kind: "pipeline", conns: *pipeConns, size: size, window: *window})
		}
	}
	if kinds["deflate"] {
		for _, n := range splitInts(*dConns) {
			for _, size := range splitSizes(*dSizes) {
				scens = append(scens, scenario{kind: "deflate", conns: n, size: size, window: 1})
			}
		}
	}
	if kinds["broadcast"] {
		for _, n := range splitInts(*receivers) {
			scens = append(scens, scenario{kind: "broadcast", conns: n, size: *bcastSize, window: 1})
			if *bWindow > 1 {
				scens = append(scens, scenario{kind: "broadcast", conns: n, size: *bcastSize, window: *bWindow})
			}
		}
	}
	if kinds["upgrade"] {
		scens = append(scens, scenario{kind: "upgrade"})
	}
	if kinds["idle"] {
		scens = append(scens, scenario{kind: "idle", conns: *idleConns, size: *idleSize})
	}
	for _, s := range scens {
		if s.size != 0 && s.size < seqLen {
			log.Fatalf("payload size %d is below the %d-byte minimum", s.size, seqLen)
		}
	}
	if len(scens) == 0 || len(cfg.libs) == 0 {
		log.Fatal("nothing to run")
	}

	return scens
}

// checkNoFile refuses scenarios that need more file descriptors than the
// process may open.
func checkNoFile(scens []scenario) {
	nofile, err := raiseNoFile()
	if err != nil {
		log.Printf("raising RLIMIT_NOFILE: %v", err)
	}
	for _, s := range scens {
		if need := uint64(s.conns + 64); nofile != 0 && need > nofile {
			log.Fatalf("%s needs %d file descriptors, RLIMIT_NOFILE is %d", s.rows()[0], need, nofile)
		}
	}
}

// serverBinary returns the cmd/server binary (built unless -server names
// one) and what removes it.
func serverBinary(cfg *config) (string, func()) {
	bin := *serverBin
	cleanup := func() {}
	if bin == "" {
		dir, err := os.MkdirTemp("", "benchcmp")
		if err != nil {
			log.Fatal(err)
		}
		cleanup = func() { os.RemoveAll(dir) }
		bin = filepath.Join(dir, "server")
		if err := buildServer(bin, *tags); err != nil {
			log.Fatal(err)
		}
	}
	for _, lib := range cfg.libs {
		p, err := startServer(bin, lib, "echo", "")
		if err != nil {
			log.Fatal(err)
		}
		p.stop()
	}

	return bin, cleanup
}

// runAll runs every scenario on every library, rotating the order, and
// prints the report.
func runAll(bin string, cfg *config, scens []scenario) {
	start := time.Now()
	rep := newReport(cfg.libs)
	repsOf := func(s scenario) int {
		if s.kind == "idle" {
			return max(*idleReps, 1)
		}
		return cfg.reps
	}
	total := 0
	for _, s := range scens {
		total += repsOf(s) * len(cfg.libs)
	}
	done := 0
	for si, s := range scens {
		for r := 0; r < repsOf(s); r++ {
			for _, lib := range rotate(cfg.libs, si+r) {
				done++
				if s.kind == "deflate" && !deflateLibs[lib] {
					continue // no deflate mode: an empty cell
				}
				o, err := runOne(bin, cfg, lib, s, r)
				rep.add(s, lib, o, err)
				switch {
				case err != nil:
					log.Printf("[%d/%d] %s, %s, rep %d: %v", done, total, s.rows()[0], lib, r+1, err)
				case cfg.verbose:
					log.Printf("[%d/%d] %s, %s, rep %d: %v (cpu %v, %d ops, wall %v, peak RSS %.1f MiB, %.2f page faults/op)",
						done, total, s.rows()[0], lib, r+1, fmtValues(o.values), o.cpu.Round(time.Millisecond),
						o.ops, o.wall.Round(time.Millisecond), float64(o.hwm)/(1<<20), float64(o.faults)/float64(max(o.ops, 1)))
				}
			}
		}
		if !cfg.verbose {
			fmt.Fprintf(os.Stderr, "bench: %s done (%v)\n", strings.Join(s.rows(), "; "), time.Since(start).Round(time.Second))
		}
	}
	rep.print(os.Stdout, header(cfg, max(*idleReps, 1), *quick, time.Since(start)))
}

// deflateLibs are the cmd/server libraries with a deflate mode (cmd/server's
// list of the same name).
var deflateLibs = map[string]bool{"hybi": true, "hybi-rm": true, "gorilla": true, "gws": true, "coder": true}

// runOne starts a fresh server for one run of one scenario.
func runOne(bin string, cfg *config, lib string, s scenario, rep int) (outcome, error) {
	mode := "echo"
	switch s.kind {
	case "broadcast", "deflate":
		mode = s.kind
	}
	profile := ""
	if cfg.profileDir != "" {
		name := strings.NewReplacer(" ", "_", "×", "x", "→", "-", ",", "", "(", "", ")", "").Replace(s.rows()[0])
		profile = filepath.Join(cfg.profileDir, fmt.Sprintf("%s-%s-r%d.pprof", lib, name, rep+1))
	}
	p, err := startServer(bin, lib, mode, profile)
	if err != nil {
		return outcome{}, err
	}
	defer p.stop()
	r := &runner{cfg: cfg, proc: p, d: newDialer(p.addr, cfg.srcIPs)}
	r.d.deflate = s.kind == "deflate"
	var o outcome
	switch s.kind {
	case "echo", "pipeline", "deflate":
		o, err = r.runEcho(s)
	case "broadcast":
		o, err = r.runBroadcast(s)
	case "upgrade":
		o, err = r.runUpgrade(s)
	case "idle":
		o, err = r.runIdle(s)
	default:
		err = fmt.Errorf("unknown scenario %q", s.kind)
	}
	if aerr := p.alive(); aerr != nil {
		err = errors.Join(err, aerr)
	}
	return o, err
}

// buildServer builds cmd/server of the module this command belongs to.
func buildServer(out, tags string) error {
	dir, err := moduleDir()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, "./cmd/server")...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building cmd/server: %w", err)
	}
	return nil
}

// moduleDir finds internal/benchcmp from the working directory.
func moduleDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for _, dir := range []string{wd, filepath.Join(wd, "internal", "benchcmp")} {
		for d := dir; ; d = filepath.Dir(d) {
			b, err := os.ReadFile(filepath.Join(d, "go.mod"))
			if err == nil && strings.Contains(string(b), "module github.com/hybi/websocket/internal/benchcmp\n") {
				return d, nil
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	return "", errors.New("run from internal/benchcmp (or pass -server)")
}

func header(cfg *config, idleReps int, quick bool, took time.Duration) string {
	mode := fmt.Sprintf("%d reps (idle memory: %d), median (min–max)", cfg.reps, idleReps)
	if quick {
		mode = "-quick: 1 rep, few messages: NOISY"
	}
	return fmt.Sprintf("Server CPU time per operation, and server RSS per idle connection; lower is better. "+
		"%s; ×ratio to the best library in the row (ref, the floor, not counted). %s/%s, %d CPUs, %s; took %v.",
		mode, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), took.Round(time.Second))
}

func rotate(s []string, k int) []string {
	k %= len(s)
	return append(append([]string(nil), s[k:]...), s[:k]...)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func splitInts(s string) []int {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			log.Fatalf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out
}

func splitSizes(s string) []int {
	var out []int
	for _, f := range splitList(s) {
		out = append(out, int(mustSize(f)))
	}
	return out
}

// mustSize parses 16, 1k, 64k, 1m (binary units).
func mustSize(s string) int64 {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		log.Fatalf("bad size %q", s)
	}
	return n * mult
}

func fmtValues(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 3, 64)
	}
	return strings.Join(parts, ", ")
}
