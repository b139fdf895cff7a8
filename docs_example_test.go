package websocket_test

import (
	"fmt"

	"github.com/hybi/websocket"
)

// A peer's close reason is its own choice of bytes. Error quotes it, so a
// log line stays one line and a terminal gets no escape sequences; Text
// keeps it exactly as the peer sent it.
func ExampleCloseError() {
	err := &websocket.CloseError{Code: websocket.CloseNormalClosure, Text: "bye\n\x1b[2J"}
	fmt.Println(err)
	fmt.Printf("%q\n", err.Text)
	fmt.Println(websocket.IsCloseError(fmt.Errorf("read: %w", err), websocket.CloseNormalClosure))
	// Output:
	// websocket: close 1000 (normal): "bye\n\x1b[2J"
	// "bye\n\x1b[2J"
	// true
}
