package leakcheck

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// fakeTB records what Check reports and holds its cleanups until run.
type fakeTB struct {
	testing.TB
	cleanups []func()
	errs     []string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) finish() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// The tests below change GracePeriod, so none of them runs in parallel.

func withGrace(t *testing.T, d time.Duration) {
	old := GracePeriod
	GracePeriod = d
	t.Cleanup(func() { GracePeriod = old })
}

func blockedUntil(stop chan struct{}) { <-stop }

func TestCheck_reportsLeakedGoroutine(t *testing.T) {
	withGrace(t, 50*time.Millisecond)
	stop := make(chan struct{})
	defer close(stop)
	f := &fakeTB{TB: t}
	Check(f)
	go blockedUntil(stop)
	f.finish()
	if len(f.errs) != 1 || !strings.Contains(f.errs[0], "leakcheck.blockedUntil") {
		t.Fatalf("errors = %q, want one naming blockedUntil", f.errs)
	}
}

func TestCheck_waitsForExitingGoroutine(t *testing.T) {
	withGrace(t, 5*time.Second)
	f := &fakeTB{TB: t}
	Check(f)
	stop := make(chan struct{})
	go blockedUntil(stop)
	time.AfterFunc(20*time.Millisecond, func() { close(stop) })
	f.finish()
	if len(f.errs) != 0 {
		t.Fatalf("errors = %q, want none", f.errs)
	}
}

func TestCheck_ignoresGoroutinesFromBefore(t *testing.T) {
	withGrace(t, 20*time.Millisecond)
	stop := make(chan struct{})
	defer close(stop)
	go blockedUntil(stop)
	time.Sleep(time.Millisecond) // let it start
	f := &fakeTB{TB: t}
	Check(f)
	f.finish()
	if len(f.errs) != 0 {
		t.Fatalf("errors = %q, want none", f.errs)
	}
}

func TestCheck_realTestPasses(t *testing.T) {
	Check(t)
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
}

func TestParse(t *testing.T) {
	g, ok := parse("goroutine 42 [chan receive, 3 minutes]:\nmain.f()\n\t/x.go:1 +0x1")
	if !ok || g.id != 42 {
		t.Fatalf("parse = %+v, %v", g, ok)
	}
	if _, ok := parse("garbage"); ok {
		t.Fatal("parse accepted garbage")
	}
}

func TestIgnored(t *testing.T) {
	tests := []struct {
		stack string
		want  bool
	}{
		{"goroutine 5 [syscall]:\nos/signal.signal_recv()\n\truntime/sigqueue.go:1", true},
		{"goroutine 6 [chan receive]:\ntesting.(*T).Run(0x1)\n\ttesting.go:1", true},
		{"goroutine 7 [IO wait]:\nnet/http.(*conn).serve(0x1)\n\tserver.go:1\ncreated by testing.(*T).Run in goroutine 1", false},
	}
	for _, tt := range tests {
		if got := ignored(tt.stack); got != tt.want {
			t.Errorf("ignored(%q) = %v, want %v", tt.stack, got, tt.want)
		}
	}
}
