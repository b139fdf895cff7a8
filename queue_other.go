//go:build !linux

package websocket

import "errors"

// haveWritev: elsewhere a connection's queued messages are written by a
// goroutine of its own, through net.Buffers (queue.go).
const haveWritev = false

type writevState struct{ bufs [][]byte }

func (w *writevState) writev(*rawSocket, [][]byte) (int, error) {
	return 0, errors.ErrUnsupported // not called: haveWritev is false
}
