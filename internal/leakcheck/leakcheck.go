// Package leakcheck fails tests that leave goroutines running.
//
// Use [Main] from TestMain to check a whole test binary, or [Check] at the
// start of a single test. Both compare the goroutines alive at the end with
// those alive at the start, allow a grace period for goroutines that are
// already on their way out (a connection handler that has just seen EOF), and
// ignore goroutines owned by the runtime, the testing package and os/signal.
package leakcheck

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// GracePeriod is how long Main and Check keep polling for leaked goroutines
// to exit before they report them.
var GracePeriod = 5 * time.Second

// Main runs the tests and then, if they passed, fails the binary (exit status
// 1, stacks on stderr) when goroutines started during m.Run are still alive
// after GracePeriod. Call it as the whole body of TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
func Main(m *testing.M) {
	before := ids(snapshot())
	code := m.Run()
	if code == 0 {
		if leaked := wait(before, GracePeriod); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "leakcheck: %d goroutine(s) still running %v after the tests:\n\n%s\n",
				len(leaked), GracePeriod, strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// Check takes a snapshot of the running goroutines and registers a cleanup
// that fails t if goroutines started since are still alive after
// GracePeriod. Call it first in the test, so that its cleanup runs after
// the test's other cleanups (servers closed, connections ended).
//
// Goroutines of tests running in parallel count as started since, so use
// Check only in tests that do not call t.Parallel and do not overlap with
// parallel tests; [Main] has no such limit.
func Check(t testing.TB) {
	t.Helper()
	before := ids(snapshot())
	t.Cleanup(func() {
		if leaked := wait(before, GracePeriod); len(leaked) > 0 {
			t.Errorf("leakcheck: %d goroutine(s) still running %v after the test:\n\n%s",
				len(leaked), GracePeriod, strings.Join(leaked, "\n\n"))
		}
	})
}

// wait polls until no goroutine outside before (and not ignored) is alive,
// or until grace has passed, and returns the stacks of those still alive.
func wait(before map[int]bool, grace time.Duration) []string {
	deadline := time.Now().Add(grace)
	delay := time.Millisecond
	for {
		leaked := leaks(before, snapshot())
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// goroutine is one entry of a full runtime.Stack dump.
type goroutine struct {
	id    int
	stack string // the whole entry, header line included
}

// snapshot returns every goroutine but the calling one.
func snapshot() []goroutine {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var gs []goroutine
	for i, entry := range bytes.Split(buf, []byte("\n\n")) {
		if i == 0 {
			continue // the caller, always listed first
		}
		if g, ok := parse(string(entry)); ok {
			gs = append(gs, g)
		}
	}
	return gs
}

// parse reads the id from an entry that starts "goroutine 7 [chan receive]:".
func parse(entry string) (goroutine, bool) {
	entry = strings.TrimSpace(entry)
	rest, ok := strings.CutPrefix(entry, "goroutine ")
	if !ok {
		return goroutine{}, false
	}
	num, _, ok := strings.Cut(rest, " ")
	id, err := strconv.Atoi(num)
	if !ok || err != nil {
		return goroutine{}, false
	}
	return goroutine{id: id, stack: entry}, true
}

func ids(gs []goroutine) map[int]bool {
	m := make(map[int]bool, len(gs))
	for _, g := range gs {
		m[g.id] = true
	}
	return m
}

// leaks returns the stacks of the goroutines in now that are not in before
// and not ignored.
func leaks(before map[int]bool, now []goroutine) []string {
	var out []string
	for _, g := range now {
		if !before[g.id] && !ignored(g.stack) {
			out = append(out, g.stack)
		}
	}
	return out
}

// ignoredFuncs are functions whose presence in a stack marks a goroutine
// that belongs to the runtime, the testing package or os/signal rather than
// to the code under test.
var ignoredFuncs = []string{
	"testing.Main(",
	"testing.(*M).",
	"testing.tRunner(",
	"testing.(*T).Run(",
	"testing.(*T).Parallel(",
	"testing.runTests",
	"testing.runFuzzing",
	"testing.(*F).Fuzz",
	"testing.runExample",
	"os/signal.signal_recv",
	"os/signal.loop",
	"runtime.ensureSigM",
	"runtime.ReadTrace",
	"runtime/trace.Start",
	"runtime/pprof.profileWriter",
}

func ignored(stack string) bool {
	for _, f := range ignoredFuncs {
		if strings.Contains(stack, "\n"+f) {
			return true
		}
	}
	return false
}
