package redisroom_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/redisroom"
	"github.com/redis/go-redis/v9"
)

// A node's WebSocket handler: join before the upgrade (so that a bad
// request or a Redis outage gets an HTTP status), then serve. It needs a
// Redis at 127.0.0.1:6379, so it is compiled, not run.
func ExampleHub_Join() {
	rdb := redis.NewClient(redisroom.ClientOptions("127.0.0.1:6379"))
	hub := redisroom.New(redisroom.Config{Redis: rdb, Node: "node-a"})
	defer hub.Close()

	var upgrader websocket.Upgrader
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		m, err := hub.Join(r.Context(), q.Get("room"), q.Get("since"))
		switch {
		case errors.Is(err, redisroom.ErrUnavailable):
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			m.Leave()
			return
		}
		defer conn.Close()
		m.Serve(conn) // until the client leaves
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}

// Without Redis the hub keeps its rooms in memory: one process, the same
// API. Lines get stream-like ids, in order.
func ExampleHub_Post() {
	hub := redisroom.New(redisroom.Config{Node: "solo"})
	defer hub.Close()
	ctx := context.Background()
	first, _ := hub.Post(ctx, "lobby", "hello")
	second, _ := hub.Post(ctx, "lobby", "again")
	fmt.Println(first.Less(second))
	_, err := hub.Post(ctx, "no spaces", "x")
	fmt.Println(err)
	// Output:
	// true
	// redisroom: bad room name
}

func ExampleParseID() {
	id, err := redisroom.ParseID("1700000000000-3")
	fmt.Println(id.Ms, id.Seq, id, err)
	later, _ := redisroom.ParseID("1700000000001")
	fmt.Println(id.Less(later), later)
	_, err = redisroom.ParseID("3-")
	fmt.Println(err)
	// Output:
	// 1700000000000 3 1700000000000-3 <nil>
	// true 1700000000001-0
	// redisroom: malformed stream id
}

func ExampleValidRoom() {
	fmt.Println(redisroom.ValidRoom("lobby"), redisroom.ValidRoom("team_7-b"))
	fmt.Println(redisroom.ValidRoom(""), redisroom.ValidRoom("a b"), redisroom.ValidRoom("room:1"))
	// Output:
	// true true
	// false false false
}
