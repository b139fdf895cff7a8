package main

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hybi/websocket"
)

type runConfig struct {
	addrs    []string // nodes; clients are spread over them round-robin
	clients  int      // in all
	rooms    int
	posters  int
	window   int
	duration time.Duration
}

type result struct {
	lines, deliveries float64 // per second
	p50, p99          time.Duration
	lost              int64 // deliveries missing after the drain
}

// receiver is one client: it counts the lines of its room and records
// each line's delay.
type receiver struct {
	conn   *websocket.Conn
	got    atomic.Int64
	delays []time.Duration // written by its reader only
}

// run connects the clients, posts for cfg.duration, waits for the
// deliveries to drain, and measures.
func run(cfg runConfig) (result, error) {
	dialer := &websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	recv := make([]*receiver, cfg.clients)
	perRoom := make([]int, cfg.rooms)
	var wg sync.WaitGroup
	for i := range recv {
		room := i % cfg.rooms
		conn, _, err := dialer.Dial(fmt.Sprintf("ws://%s/ws?room=r%d", cfg.addrs[i%len(cfg.addrs)], room), nil)
		if err != nil {
			return result{}, fmt.Errorf("client %d: %w", i, err)
		}
		r := &receiver{conn: conn}
		recv[i] = r
		perRoom[room]++
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.read()
		}()
	}
	posted := make([]atomic.Int64, cfg.rooms)
	var stop atomic.Bool
	var pw sync.WaitGroup
	for p := 0; p < cfg.posters; p++ {
		room := p % cfg.rooms
		conn, _, err := dialer.Dial(fmt.Sprintf("ws://%s/ws?room=r%d", cfg.addrs[p%len(cfg.addrs)], room), nil)
		if err != nil {
			return result{}, fmt.Errorf("poster %d: %w", p, err)
		}
		pw.Add(1)
		go func() {
			defer pw.Done()
			defer conn.Close()
			post(conn, fmt.Sprint("p", p), cfg.window, &stop, &posted[room])
		}()
	}
	start := time.Now()
	time.Sleep(cfg.duration)
	stop.Store(true)
	pw.Wait()
	elapsed := time.Since(start)

	// Drain: every receiver should get every line of its room.
	var want int64
	for room := range posted {
		want += posted[room].Load() * int64(perRoom[room])
	}
	deadline := time.Now().Add(30 * time.Second)
	var got int64
	for {
		got = 0
		for _, r := range recv {
			got += r.got.Load()
		}
		if got >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, r := range recv {
		r.conn.Close()
	}
	wg.Wait()
	var all []time.Duration
	for _, r := range recv {
		all = append(all, r.delays...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	var lines int64
	for room := range posted {
		lines += posted[room].Load()
	}
	res := result{
		lines:      float64(lines) / elapsed.Seconds(),
		deliveries: float64(got) / elapsed.Seconds(),
		lost:       want - got,
	}
	if len(all) > 0 {
		res.p50, res.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	return res, nil
}

// post keeps window lines in flight on conn: each carries its send time
// and the poster's token, and the next goes when one of its own comes
// back. It counts the lines acknowledged.
func post(conn *websocket.Conn, token string, window int, stop *atomic.Bool, posted *atomic.Int64) {
	own := []byte(" " + token + `"`)
	inflight := 0
	for {
		for inflight < window && !stop.Load() {
			text := strconv.FormatInt(time.Now().UnixNano(), 10) + " " + token
			if conn.WriteMessage(websocket.TextMessage, []byte(text)) != nil {
				return
			}
			inflight++
		}
		if inflight == 0 {
			return
		}
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, p, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if bytes.Contains(p, own) {
			inflight--
			posted.Add(1)
		}
	}
}

// read counts the lines received and records how long each took.
func (r *receiver) read() {
	key := []byte(`"text":"`)
	for {
		_, p, err := r.conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		i := bytes.Index(p, key)
		if i < 0 {
			continue
		}
		p = p[i+len(key):]
		if j := bytes.IndexByte(p, ' '); j > 0 {
			if sent, err := strconv.ParseInt(string(p[:j]), 10, 64); err == nil {
				r.delays = append(r.delays, time.Duration(now-sent))
			}
		}
		r.got.Add(1)
	}
}
