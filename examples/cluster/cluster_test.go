package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const wait = 10 * time.Second // for a message that must come

// TestHTTP_rules: the page, and every refusal made before the upgrade.
func TestHTTP_rules(t *testing.T) {
	r := startRedis(t)
	n := startNode(t, r.Addr, "a")

	resp, err := http.Get("http://" + n.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "new WebSocket(") {
		t.Fatalf("GET /: %d, page without a WebSocket", resp.StatusCode)
	}

	base := "ws://" + n.addr + "/ws?"
	for _, tc := range []struct {
		query  string
		origin string
		want   int
	}{
		{"", "", 400},
		{"room=", "", 400},
		{"room=a&room=b", "", 400},
		{"room=a%20b", "", 400},
		{"room=a.b", "", 400},
		{"room=%C3%A9", "", 400},
		{"room=" + strings.Repeat("x", 65), "", 400},
		{"room=a&since=", "", 400},
		{"room=a&since=x", "", 400},
		{"room=a&since=1-", "", 400},
		{"room=a&since=-1", "", 400},
		{"room=a&since=1-2-3", "", 400},
		{"room=a&since=99999999999999999999999", "", 400},
		{"room=a&since=1-0&since=2-0", "", 400},
		{"room=a", "http://evil.example", 403},
		{"room=a", "http://" + n.addr, 101},
		{"room=" + strings.Repeat("x", 64) + "&since=0-0", "", 101},
		{"room=A_b-9&since=1700000000000", "", 101},
		{"room=%41", "", 101},
	} {
		if got := status(t, base+tc.query, tc.origin); got != tc.want {
			t.Errorf("/ws?%s (Origin %q): %d, want %d", tc.query, tc.origin, got, tc.want)
		}
	}
}

// TestLines_orderExactlyOnceAcrossNodes: three nodes, two clients on each;
// one sender per node posts concurrently. Every client gets every line
// once, in one shared order of strictly increasing ids, and each sender's
// own lines come back (its acknowledgement) naming its node.
func TestLines_orderExactlyOnceAcrossNodes(t *testing.T) {
	r := startRedis(t)
	nodes := []*node{startNode(t, r.Addr, "a"), startNode(t, r.Addr, "b"), startNode(t, r.Addr, "c")}
	var clients []*client
	for _, n := range nodes {
		clients = append(clients, dial(t, n.addr, "order", ""), dial(t, n.addr, "order", ""))
	}
	const per = 100
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func(i int, c *client) {
			defer wg.Done()
			for j := 0; j < per; j++ {
				c.send(fmt.Sprintf("%s-%d", nodes[i].name, j))
			}
		}(i, clients[2*i])
		_ = n
	}
	wg.Wait()
	var ref []msg
	for k, c := range clients {
		got := c.lines(per*len(nodes), wait)
		checkOrder(t, fmt.Sprintf("client %d", k), got)
		if k == 0 {
			ref = got
		}
		seen := map[string]bool{}
		for i, m := range got {
			if m.ID != ref[i].ID || m.Text != ref[i].Text {
				t.Fatalf("client %d line %d: %s %q, client 0 has %s %q", k, i, m.ID, m.Text, ref[i].ID, ref[i].Text)
			}
			if seen[m.Text] {
				t.Fatalf("client %d: %q twice", k, m.Text)
			}
			seen[m.Text] = true
			if m.Room != "order" || !strings.HasPrefix(m.Text, m.Node+"-") {
				t.Fatalf("client %d: %+v: wrong room or node", k, m)
			}
		}
	}
	select {
	case m := <-clients[0].msgs:
		t.Fatalf("extra message %+v", m)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestSince_replayThenLive: a client resuming with since gets every line
// after it, then the live ones, with no gap and no duplicate, while lines
// keep coming; a since that is still retained brings no gap notice.
func TestSince_replayThenLive(t *testing.T) {
	r := startRedis(t)
	a, b := startNode(t, r.Addr, "a"), startNode(t, r.Addr, "b")
	ref := dial(t, a.addr, "since", "")
	poster := dial(t, a.addr, "since", "")
	for i := 0; i < 50; i++ {
		poster.send(fmt.Sprint("before-", i))
	}
	first := ref.lines(50, wait)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 300; i++ {
			poster.send(fmt.Sprint("during-", i))
		}
	}()
	late := dial(t, b.addr, "since", first[19].ID)
	<-done
	all := append(first, ref.lines(300, wait)...)
	got := late.lines(len(all)-20, wait)
	for i, m := range got {
		if want := all[20+i]; m.ID != want.ID || m.Text != want.Text {
			t.Fatalf("resumed line %d: %s %q, want %s %q", i, m.ID, m.Text, want.ID, want.Text)
		}
	}
	poster.send("after")
	if m := late.next(wait); m.Text != "after" {
		t.Fatalf("live line after the replay: %+v", m)
	}
}

// TestSince_gapAfterTrim: with a stream trimmed to about 100 lines, a
// client resuming from a trimmed id is told so first, with the id of the
// oldest line replayed, then gets the retained lines in order.
func TestSince_gapAfterTrim(t *testing.T) {
	r := startRedis(t)
	a := startNode(t, r.Addr, "a", "-maxlen", "100")
	c := dial(t, a.addr, "trim", "")
	for i := 0; i < 500; i++ {
		c.send(fmt.Sprint(i))
	}
	all := c.lines(500, wait)
	late := dial(t, a.addr, "trim", all[0].ID)
	gap := late.next(wait)
	if !gap.Gap || gap.Oldest == "" {
		t.Fatalf("first message %+v, want a gap notice", gap)
	}
	k := 0
	for k < len(all) && all[k].ID != gap.Oldest {
		k++
	}
	if k <= 1 || k > 400 || k == len(all) {
		t.Fatalf("oldest %s is line %d of 500: want one of the last 400, past the first two", gap.Oldest, k)
	}
	got := late.lines(500-k, wait)
	for i, m := range got {
		if m.ID != all[k+i].ID {
			t.Fatalf("after the gap, line %d: %s, want %s", i, m.ID, all[k+i].ID)
		}
	}
	// Resuming from a retained id: no gap notice.
	kept := dial(t, a.addr, "trim", all[450].ID)
	if m := kept.next(wait); m.ID != all[451].ID {
		t.Fatalf("resuming from a retained id: %+v, want line %s", m, all[451].ID)
	}
}

// TestRooms_isolated: lines of one room never reach another's clients.
func TestRooms_isolated(t *testing.T) {
	r := startRedis(t)
	a, b := startNode(t, r.Addr, "a"), startNode(t, r.Addr, "b")
	x1, x2 := dial(t, a.addr, "x", ""), dial(t, b.addr, "x", "")
	y1, y2 := dial(t, a.addr, "y", ""), dial(t, b.addr, "y", "")
	for i := 0; i < 20; i++ {
		x1.send(fmt.Sprint("x", i))
		y2.send(fmt.Sprint("y", i))
	}
	for _, c := range []*client{x1, x2} {
		for _, m := range c.lines(20, wait) {
			if m.Room != "x" || !strings.HasPrefix(m.Text, "x") {
				t.Fatalf("room x got %+v", m)
			}
		}
	}
	for _, c := range []*client{y1, y2} {
		for _, m := range c.lines(20, wait) {
			if m.Room != "y" || !strings.HasPrefix(m.Text, "y") {
				t.Fatalf("room y got %+v", m)
			}
		}
	}
}

// TestLine_tooLong: 65,536 bytes is a line; one byte more closes 1009.
func TestLine_tooLong(t *testing.T) {
	r := startRedis(t)
	a := startNode(t, r.Addr, "a")
	c := dial(t, a.addr, "big", "")
	c.send(strings.Repeat("é", 32768))
	if m := c.next(wait); len(m.Text) != 65536 {
		t.Fatalf("65,536-byte line came back with %d bytes", len(m.Text))
	}
	c.send(strings.Repeat("x", 65537))
	if code := c.closeCode(wait); code != 1009 {
		t.Fatalf("65,537-byte line: close %d, want 1009", code)
	}
}
