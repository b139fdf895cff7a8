//go:build !linux || 386

package websocket

// fionreadAsked reports false: only Linux raw sockets ask the kernel.
func fionreadAsked(*Conn) bool { return false }
