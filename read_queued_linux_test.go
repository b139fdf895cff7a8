//go:build linux && !386

package websocket

// fionreadAsked reports whether c's transport asks the kernel (a raw
// socket on a Linux port whose FIONREAD number is known).
func fionreadAsked(c *Conn) bool { return fionread != 0 && c.rawTransport() != nil }
