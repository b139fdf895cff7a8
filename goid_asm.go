//go:build (amd64 || arm64) && !purego

package websocket

// curg identifies the calling goroutine while it runs (the address of its
// runtime descriptor; a goroutine that has exited may pass it on). It
// lets NextWriter tell a writer its own goroutine left open (which it
// closes, as gorilla does) from one another goroutine is still writing
// (which it waits for). One instruction; see goid_test.go.
func curg() uintptr
