package redisroom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/redisroom/redistest"
	"github.com/redis/go-redis/v9"
)

// serve runs h behind an HTTP server on loopback, /ws?room=R[&since=ID],
// and returns its address; everything stops when the test ends.
func serve(t *testing.T, h *Hub) string {
	t.Helper()
	var conns websocket.ConnSet
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		m, err := h.Join(r.Context(), q.Get("room"), q.Get("since"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			m.Leave()
			return
		}
		defer conn.Close()
		defer conns.Add(conn)()
		m.Serve(conn)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conns.Shutdown(ctx)
		h.Close()
	})
	return ln.Addr().String()
}

type testMsg struct {
	ID, Room, Text, Node, Oldest, Error string
	Gap                                 bool
}

type testClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialRoom(t *testing.T, addr, room, since string) *testClient {
	t.Helper()
	u := "ws://" + addr + "/ws?room=" + room
	if since != "" {
		u += "&since=" + since
	}
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &testClient{t: t, conn: conn}
}

func (c *testClient) send(text string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *testClient) next() testMsg {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, p, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m testMsg
	if err := json.Unmarshal(p, &m); err != nil {
		c.t.Fatalf("%q: %v", p, err)
	}
	return m
}

func (c *testClient) lines(n int) []testMsg {
	c.t.Helper()
	var out []testMsg
	for len(out) < n {
		m := c.next()
		if m.ID == "" {
			c.t.Fatalf("got %+v, want a line", m)
		}
		out = append(out, m)
	}
	return out
}

// checkSame fails unless every client got the same lines, strictly in
// increasing id order.
func checkSame(t *testing.T, got [][]testMsg) {
	t.Helper()
	for k, ms := range got {
		for i, m := range ms {
			if i > 0 {
				a, _ := ParseID(ms[i-1].ID)
				b, _ := ParseID(m.ID)
				if !a.Less(b) {
					t.Fatalf("client %d: %s after %s", k, m.ID, ms[i-1].ID)
				}
			}
			if m.ID != got[0][i].ID || m.Text != got[0][i].Text {
				t.Fatalf("client %d line %d: %+v, client 0 has %+v", k, i, m, got[0][i])
			}
		}
	}
}

// TestLocal_roomsSinceAndGap: the in-memory hub (no Redis) keeps the
// contract too: one order for all, replay with since, a gap notice
// once lines were trimmed.
func TestLocal_roomsSinceAndGap(t *testing.T) {
	h := New(Config{Node: "solo", MaxLen: 50})
	addr := serve(t, h)
	a, b := dialRoom(t, addr, "r", ""), dialRoom(t, addr, "r", "")
	other := dialRoom(t, addr, "other", "")
	for i := 0; i < 200; i++ {
		a.send(fmt.Sprint(i))
	}
	other.send("elsewhere")
	all := a.lines(200)
	checkSame(t, [][]testMsg{all, b.lines(200)})
	if m := other.next(); m.Text != "elsewhere" || m.Room != "other" {
		t.Fatalf("other room: %+v", m)
	}
	late := dialRoom(t, addr, "r", all[180].ID)
	checkSame(t, [][]testMsg{all[181:], late.lines(19)})
	gapped := dialRoom(t, addr, "r", all[0].ID)
	g := gapped.next()
	if !g.Gap {
		t.Fatalf("since a trimmed id: %+v, want a gap notice", g)
	}
	if first := gapped.next(); first.ID != g.Oldest {
		t.Fatalf("after the gap notice %+v: %+v", g, first)
	}
}

// TestRedis_twoHubs: two hubs on one Redis, as two nodes would be; a room
// that only becomes active on the second hub after lines were posted is
// picked up by its feed, and every client sees one order.
func TestRedis_twoHubs(t *testing.T) {
	srv := redistest.Start(t)
	var addrs []string
	for _, name := range []string{"n1", "n2"} {
		rdb := redis.NewClient(ClientOptions(srv.Addr))
		t.Cleanup(func() { rdb.Close() })
		addrs = append(addrs, serve(t, New(Config{Redis: rdb, Node: name})))
	}
	c1 := dialRoom(t, addrs[0], "two", "")
	c1.send("first")
	first := c1.next()
	c2 := dialRoom(t, addrs[1], "two", "")
	for i := 0; i < 100; i++ {
		c1.send(fmt.Sprint("a", i))
		c2.send(fmt.Sprint("b", i))
	}
	got1, got2 := c1.lines(200), c2.lines(200)
	checkSame(t, [][]testMsg{got1, got2})
	nodes := map[string]int{}
	for _, m := range got1 {
		nodes[m.Node]++
	}
	if nodes["n1"] != 100 || nodes["n2"] != 100 || first.Node != "n1" {
		t.Fatalf("lines per node: %v", nodes)
	}
	// Resuming from the first line on n2 replays all 200.
	checkSame(t, [][]testMsg{got1, dialRoom(t, addrs[1], "two", first.ID).lines(200)})
}

// TestRedis_unavailable: with Redis gone, Post and Join fail with
// ErrUnavailable within Timeout, and work again once it is back.
func TestRedis_unavailable(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(ClientOptions(srv.Addr))
	defer rdb.Close()
	h := New(Config{Redis: rdb, Node: "n"})
	defer h.Close()
	ctx := context.Background()
	if _, err := h.Post(ctx, "u", "one"); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if _, err := h.Post(ctx, "u", "two"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Post with Redis stopped: %v", err)
	}
	if _, err := h.Join(ctx, "u", ""); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Join with Redis stopped: %v", err)
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for !h.Available() {
		if time.Now().After(deadline) {
			t.Fatal("hub does not see Redis again")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := h.Post(ctx, "u", "three"); err != nil {
		t.Fatal(err)
	}
	n, err := rdb.XLen(ctx, "room:u").Result()
	if err != nil || n != 2 {
		t.Fatalf("stream length %d, %v; want 2 (the refused line not kept)", n, err)
	}
	if _, err := h.Post(ctx, "bad room", "x"); !errors.Is(err, ErrBadRoom) {
		t.Fatalf("Post to a bad room: %v", err)
	}
	if _, err := h.Join(ctx, "u", "x-y"); !errors.Is(err, ErrBadID) {
		t.Fatalf("Join with a bad since: %v", err)
	}
	if !strings.HasPrefix(ErrUnavailable.Error(), "redisroom: ") {
		t.Fatal("error prefix")
	}
}

// TestRedis_retainsAndReplays: with the default MaxLen, at least 10,000
// lines (in fact 20,000) stay after 25,000 were posted, and a client
// resuming from the start gets the gap notice and then every retained
// line, in order, up to the last: a 20,000-line replay does not trip the
// 1,024-message queue limit, because it is paced by the client's reading.
func TestRedis_retainsAndReplays(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(ClientOptions(srv.Addr))
	t.Cleanup(func() { rdb.Close() })
	h := New(Config{Redis: rdb, Node: "n"})
	addr := serve(t, h)
	const total, workers = 25000, 16
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			for i := w; i < total; i += workers {
				if _, err := h.Post(context.Background(), "big", fmt.Sprint(i)); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}(w)
	}
	for w := 0; w < workers; w++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	n, err := rdb.XLen(context.Background(), "room:big").Result()
	if err != nil || n < DefaultMaxLen || n >= total {
		t.Fatalf("XLEN %d, %v: want at least %d retained, some trimmed", n, err, DefaultMaxLen)
	}
	last, err := rdb.XRevRangeN(context.Background(), "room:big", "+", "-", 1).Result()
	if err != nil || len(last) != 1 {
		t.Fatal(err)
	}
	c := dialRoom(t, addr, "big", "0-0")
	if g := c.next(); !g.Gap {
		t.Fatalf("first message %+v, want a gap notice", g)
	}
	got := c.lines(int(n))
	if got[len(got)-1].ID != last[0].ID {
		t.Fatalf("replay ends at %s, the stream at %s", got[len(got)-1].ID, last[0].ID)
	}
	checkSame(t, [][]testMsg{got})
}

// TestRedis_newRoomWakesTheFeed: with the feed's XREAD blocking for a
// minute, rooms joined while it is blocked are still read at once: the
// join wakes it with CLIENT UNBLOCK.
func TestRedis_newRoomWakesTheFeed(t *testing.T) {
	old := feedBlock
	feedBlock = time.Minute
	t.Cleanup(func() { feedBlock = old })
	srv := redistest.Start(t)
	rdb := redis.NewClient(ClientOptions(srv.Addr))
	t.Cleanup(func() { rdb.Close() })
	addr := serve(t, New(Config{Redis: rdb, Node: "n"}))
	for i := 0; i < 5; i++ {
		c := dialRoom(t, addr, fmt.Sprint("wake", i), "")
		c.send("hi")
		if m := c.next(); m.Text != "hi" { // next waits 10 s, not a minute
			t.Fatalf("room %d: %+v", i, m)
		}
	}
}
