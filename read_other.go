//go:build !unix

package websocket

// initRaw does nothing where the wait-then-borrow read path is not
// implemented: reads go through net.Conn.Read into a borrowed buffer.
func (c *Conn) initRaw() {}

func (c *Conn) readFreshRaw() error { return nil }
