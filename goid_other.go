//go:build !(amd64 || arm64) || purego || race

package websocket

import (
	"runtime"
	"strconv"
)

// fastCurg: curg reads a stack trace and allocates.
const fastCurg = false

// curg returns the number of the calling goroutine; see goid_asm.go.
// Without assembly (or under the race detector) it reads it from the first line of the goroutine's
// stack trace ("goroutine 12 [running]:"), which costs a microsecond or
// so per NextWriter.
func curg() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return 0
	}
	b = b[len(prefix):]
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	id, _ := strconv.ParseUint(string(b[:i]), 10, 64)
	return id
}
