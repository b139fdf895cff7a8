//go:build !unix

package websocket

// rawSocket has no state where the raw-socket transport is not
// implemented.
type rawSocket struct{}

// newTransport picks the stream transport (transport.go): reads go through
// net.Conn.Read into a borrowed buffer.
func newTransport(c *Conn) transport { return (*streamConn)(c) }

// rawTransport returns nil: there is no raw-socket transport here.
func (c *Conn) rawTransport() *rawSocket { return nil }
