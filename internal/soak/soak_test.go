package main

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestSoak runs a small soak in process (the CI step runs the 1,000
// connection one): every kind of connection, both ways of closing, both
// server echo modes; no error, nothing lost, goroutines and heap back.
func TestSoak(t *testing.T) {
	cfg := defaultConfig()
	cfg.Conns, cfg.Duration, cfg.Workers = 36, 2*time.Second, 0
	cfg.Client.MaxSize = 16 << 10
	cfg.Client.Timeout = 30 * time.Second
	cfg.Log = nil
	rep, err := run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.print(&out)
	t.Logf("\n%s", out.String())
	if !rep.ok() {
		t.Fatalf("soak failed:\n%s", strings.Join(rep.problems(), "\n"))
	}
}

// The payload check catches every damaged byte and a wrong sequence.
func TestMessageCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, binary := range []bool{false, true} {
		for _, n := range []int{16, 17, 100, 4096} {
			p := makeMessage(rng, nil, 7, n, binary)
			if len(p) != n {
				t.Fatalf("makeMessage(%d) made %d bytes", n, len(p))
			}
			if err := checkMessage(p, 7); err != nil {
				t.Fatalf("fresh message: %v", err)
			}
			if err := checkMessage(p, 8); err == nil {
				t.Fatalf("wrong sequence not detected")
			}
			var s streamCheck
			s.Write(p[:3])
			s.Write(p[3:])
			if err := s.check(7); err != nil {
				t.Fatalf("streamed: %v", err)
			}
			for i := headerLen; i < n; i += 1 + n/10 {
				q := append([]byte(nil), p...)
				q[i] ^= 0x20
				if checkMessage(q, 7) == nil {
					t.Fatalf("byte %d of %d flipped, not detected", i, n)
				}
			}
		}
	}
}
