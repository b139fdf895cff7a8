//go:build (amd64 || arm64) && !purego && !race

package websocket

// fastCurg: curg reads the descriptor, no allocation.
const fastCurg = true

// getg returns the address of the running goroutine's runtime descriptor
// and gword reads 8 bytes of a descriptor (goid_*.s: the memory access
// stays in the assembly, so this file needs no unsafe).
func getg() uintptr
func gword(gp, off uintptr) uint64

// goidOffset is where the runtime keeps the goroutine's number in its
// descriptor, found at start-up (findGoidOffset); -1 when not found, and
// curg then falls back to the stack trace.
var goidOffset = findGoidOffset()

// The race detector's pointer checks refuse reading the runtime's
// descriptor; that build uses goid_other.go's stack-trace path.

// curg returns the number of the calling goroutine, which the runtime
// never gives to another goroutine (descriptors are reused, numbers are
// not). It lets NextWriter tell a writer its own goroutine left open
// (which it closes, as gorilla does) from one another goroutine is still
// writing (which it waits for). Two loads; see goid_test.go.
func curg() uint64 {
	if goidOffset < 0 {
		return goidFromStack()
	}
	return gword(getg(), uintptr(goidOffset))
}

// findGoidOffset looks for the goroutine number in the descriptors of two
// goroutines, by the numbers their stack traces show: the offset where
// both are found. The layout is the runtime's and changes between Go
// versions, hence the search instead of a constant.
func findGoidOffset() int {
	type probe struct {
		g  uintptr
		id uint64
	}
	release := make(chan struct{})
	got := make(chan probe)
	for range 2 {
		go func() {
			got <- probe{getg(), goidFromStack()}
			<-release // alive while its descriptor is read: not yet reused
		}()
	}
	p1, p2 := <-got, <-got
	defer close(release)
	if p1.id == 0 || p2.id == 0 || p1.id == p2.id {
		return -1
	}
	for off := 0; off < 256; off += 8 { // within the descriptor, which is larger
		if gword(p1.g, uintptr(off)) == p1.id && gword(p2.g, uintptr(off)) == p2.id {
			return off
		}
	}
	return -1
}
