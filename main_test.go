package websocket

import (
	"io"
	"testing"

	"github.com/hybi/websocket/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// echoLoop echoes every message with its type until the connection ends:
// whole (ReadMessage/WriteMessage) or streamed (NextReader, io.Copy into
// NextWriter).
func echoLoop(c *Conn, stream bool) {
	for {
		if !stream {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(mt, p) != nil {
				return
			}
			continue
		}
		mt, r, err := c.NextReader()
		if err != nil {
			return
		}
		w, err := c.NextWriter(mt)
		if err != nil {
			return
		}
		if _, err := io.Copy(w, r); err != nil {
			return
		}
		if w.Close() != nil {
			return
		}
	}
}
