package websocket

import (
	"sync"
	"testing"
)

// curg is the same within a goroutine and differs between goroutines that
// run at the same time.
func TestCurg_identifiesTheGoroutine(t *testing.T) {
	me := curg()
	if me == 0 || curg() != me {
		t.Fatalf("curg() = %#x then %#x, want one nonzero value", me, curg())
	}
	const n = 8
	ids := make([]uint64, n)
	var started, release sync.WaitGroup
	started.Add(n)
	release.Add(1)
	var done sync.WaitGroup
	for i := range ids {
		done.Add(1)
		go func() {
			defer done.Done()
			ids[i] = curg()
			started.Done()
			release.Wait() // all alive at once: no descriptor is reused
		}()
	}
	started.Wait()
	release.Done()
	done.Wait()
	seen := map[uint64]bool{me: true}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("goroutines alive at once share the id %#x", id)
		}
		seen[id] = true
	}
}
