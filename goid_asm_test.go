//go:build (amd64 || arm64) && !purego && !race

package websocket

import "testing"

// The goroutine number is found in the runtime's descriptor at start-up;
// without it curg falls back to a stack trace per call (and NextWriter
// allocates), which TestAllocs_streamingEchoes would also show.
func TestCurg_readsTheDescriptor(t *testing.T) {
	if goidOffset < 0 {
		t.Fatal("the goroutine number was not found in the runtime's descriptor")
	}
	if got, want := curg(), goidFromStack(); got != want {
		t.Fatalf("curg() = %d, the stack trace says %d", got, want)
	}
}
