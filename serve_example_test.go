package websocket_test

import (
	"fmt"
	"log"
	"net"
	"net/http"

	"github.com/hybi/websocket"
)

// A listener whose connections are capped: with MaxConns, Serve keeps at
// most that many open (handshakes and handlers) and closes the excess
// unanswered, so a flood of clients costs sockets, not goroutines.
func ExampleUpgrader_Serve_maxConns() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	upgrader := websocket.Upgrader{MaxConns: 1}
	go upgrader.Serve(ln, func(c *websocket.Conn, r *http.Request) {
		c.ReadMessage() // until the client goes
	})

	url := "ws://" + ln.Addr().String() + "/"
	first, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer first.Close()
	_, _, err = websocket.DefaultDialer.Dial(url, nil)
	fmt.Println("second connection refused:", err != nil)
	// Output: second connection refused: true
}
