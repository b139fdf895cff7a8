//go:build !(amd64 || arm64) || purego || race

package websocket

// fastCurg: curg reads a stack trace and allocates.
const fastCurg = false

// curg returns the number of the calling goroutine; see goid_asm.go.
// Without assembly (or under the race detector) it reads it from the
// goroutine's stack trace, which costs a microsecond or so per NextWriter.
func curg() uint64 { return goidFromStack() }
