package websocket_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hybi/websocket"
)

// A handler that works over HTTP/1.1 and over HTTP/2 (RFC 8441): it hands
// the Conn to goroutines and stays until the Conn is done, because an
// HTTP/2 stream ends when its handler returns. Here the client speaks
// HTTP/1.1 (Go's client cannot open an RFC 8441 stream); served over TLS
// to a browser, with GODEBUG=http2xconnect=1, the same handler serves
// HTTP/2 WebSockets.
func ExampleConn_Done() {
	upgrader := websocket.Upgrader{EnableHTTP2: true}
	handler := func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		out := make(chan string)
		go func() { // writer
			for s := range out {
				c.WriteMessage(websocket.TextMessage, []byte(strings.ToUpper(s)))
			}
		}()
		go func() { // reader: closes the Conn when it stops
			defer close(out)
			defer c.Close()
			for {
				_, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				out <- string(p)
			}
		}()
		<-c.Done() // required over HTTP/2; harmless over HTTP/1.1
	}
	srv := httptest.NewServer(http.HandlerFunc(handler))
	defer srv.Close()

	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, p, _ := c.ReadMessage()
	fmt.Println(string(p))
	c.CloseHandshake(websocket.CloseNormalClosure, "")
	// Output: HELLO
}
