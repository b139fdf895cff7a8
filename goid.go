package websocket

import (
	"runtime"
	"strconv"
)

// goidFromStack reads the goroutine number from the first line of its
// stack trace ("goroutine 12 [running]:"): a microsecond or so.
func goidFromStack() uint64 {
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
