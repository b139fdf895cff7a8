//go:build !(amd64 || arm64) || purego

package websocket

import (
	"runtime"
	"strconv"
)

// curg identifies the calling goroutine while it runs; see goid_asm.go.
// Without assembly it reads the goroutine's number from the first line of
// its stack trace ("goroutine 12 [running]:"), which costs a microsecond
// or so per NextWriter.
func curg() uintptr {
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
	return uintptr(id)
}
