package websocket_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/hybi/websocket"
)

// A server that closes its WebSockets with 1001 when it shuts down.
// http.Server.Shutdown does not track hijacked connections: a ConnSet does,
// wired in with RegisterOnShutdown.
func ExampleConnSet() {
	var (
		upgrader websocket.Upgrader
		conns    websocket.ConnSet
		added    = make(chan struct{})
		readErr  = make(chan error, 1)
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		defer conns.Add(conn)()
		added <- struct{}{}
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				readErr <- err // the client's answer to the 1001
				return
			}
		}
	}))
	srv.Config.RegisterOnShutdown(conns.GoingAway)
	srv.Start()
	defer srv.Close()

	client := dialRaw(srv.URL)
	defer client.Close()
	<-added

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Config.Shutdown(ctx) // the HTTP side; GoingAway starts the closes

	frame := make([]byte, 2+2+len("server shutting down"))
	io.ReadFull(client, frame)
	fmt.Printf("client got: % x %q\n", frame[:4], frame[4:])
	// The client answers with a close frame, 1001, masked with key 0.
	client.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9})

	fmt.Println("ConnSet.Shutdown:", conns.Shutdown(ctx), "open:", conns.Len())
	fmt.Println("handler's read:", <-readErr)
	// Output:
	// client got: 88 16 03 e9 "server shutting down"
	// ConnSet.Shutdown: <nil> open: 0
	// handler's read: websocket: close 1001 (going away)
}
