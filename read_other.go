//go:build !unix

package websocket

import "net"

// rawSocket has no state where the raw-socket transport is not
// implemented.
type rawSocket struct{}

// newTransport picks the stream transport (transport.go): reads go through
// net.Conn.Read into a borrowed buffer.
func newTransport(nc net.Conn, _ *rawSocket, rd *readSide) transport {
	return &streamConn{nc: nc, rd: rd}
}
