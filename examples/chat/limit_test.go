package main

import (
	"testing"
	"time"
)

// The bucket lets a burst through, then one message per 1/rate seconds,
// and never saves up more than the burst, on a clock the test moves.
func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newBucket(2, 3, t0)
	steps := []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {0, true}, {0, true}, // the burst
		{0, false}, {100 * time.Millisecond, false}, // empty; 0.2 token
		{500 * time.Millisecond, true}, // one token at 0.5 s
		{600 * time.Millisecond, false},
		{time.Hour, true}, {time.Hour, true}, {time.Hour, true}, // refilled, capped at the burst
		{time.Hour, false},
		{time.Hour - time.Second, false}, // a clock that steps back gives nothing
	}
	for i, s := range steps {
		if got := b.allow(t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d (at %v): allow = %v, want %v", i, s.at, got, s.want)
		}
	}
}
