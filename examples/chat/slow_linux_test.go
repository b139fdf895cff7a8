//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/wstest"
)

// slowTab is a tab on a connection with a small receive window, which
// reads only when the test says so.
type slowTab struct {
	conn net.Conn
	br   *bufio.Reader
}

// dialSlow connects a slowTab to the chat at path.
func dialSlow(t *testing.T, addr, path string) *slowTab {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.Write(wstest.BuildRequest("GET", path, "HTTP/1.1", wstest.DefaultHeader(addr, wstest.NewKey())))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%s: handshake: %v, %v", path, resp, err)
	}
	return &slowTab{conn, br}
}

// readEvent reads the tab's next message, which must be an event.
func (s *slowTab) readEvent(t *testing.T) event {
	t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := wstest.ReadFrameFrom(s.br)
	if err != nil {
		t.Fatalf("slow tab: %v", err)
	}
	if f.Opcode != wstest.OpText {
		t.Fatalf("slow tab got %v, want an event", f)
	}
	var ev event
	if err := json.Unmarshal(f.Payload, &ev); err != nil {
		t.Fatalf("slow tab: bad event %q: %v", f.Payload, err)
	}
	return ev
}

// Tabs that stop reading fill their send queues and are dropped: each is
// logged once, the others see each leave once, and the room goes on. With
// several of them, some fill up on the same message, which is when the
// example used to log one twice.
func TestChat_slowTabsAreDroppedAndLoggedOnce(t *testing.T) {
	slowNames := []string{"slow1", "slow2", "slow3", "slow4", "slow5", "slow6"}
	logged := captureLog(t)
	t.Cleanup(func() { // after the server has shut down
		for _, name := range slowNames {
			if n := logged.count("chat: " + name); n != 1 {
				t.Errorf("%s was logged %d times, want once", name, n)
			}
		}
	})
	// Alice may send as fast as she likes: the test needs a few hundred
	// messages to fill the slow tabs' queues.
	_, addr := startChatWith(t, chatOptions{rate: &rateLimit{perSecond: 1e6, burst: 1e6}, sndbuf: 8192})
	alice := wstest.Dial(t, addr, "/ws?name=alice", nil)
	expectEvent(t, "alice", alice, event{Type: "welcome", Name: "alice"})
	for _, name := range slowNames {
		dialSlow(t, addr, "/ws?name="+name)
		expectEvent(t, "alice", alice, event{Type: "join", Name: name})
	}

	// Alice talks, a message at a time as people do, reading everything,
	// until the slow tabs are gone.
	line := strings.Repeat("x", maxMessageSize)
	left := map[string]int{}
	for sent := 1; len(left) < len(slowNames); sent++ {
		if sent > 50000 {
			t.Fatalf("slow tabs still in the room after 50000 messages (left: %v)", left)
		}
		if err := alice.WriteFrame(wstest.Msg(wstest.OpText, []byte(line))); err != nil {
			t.Fatal(err)
		}
		for {
			ev := readEvent(t, alice)
			if ev.Type == "leave" {
				left[ev.Name]++
				t.Logf("%s was dropped after %d messages", ev.Name, sent)
				continue
			}
			if ev.Type == "message" {
				break // her own, back: the next one
			}
		}
	}
	// Everything after the last leave is her own messages: one more
	// round trip shows that no second leave was on its way.
	alice.Send(wstest.Msg(wstest.OpText, []byte("last")))
	for ev := readEvent(t, alice); ev.Type != "message" || ev.Text != "last"; ev = readEvent(t, alice) {
		if ev.Type == "leave" {
			left[ev.Name]++
		}
	}
	for name, n := range left {
		if n != 1 || !slices.Contains(slowNames, name) {
			t.Errorf("alice saw %s leave %d times, want each of %v once", name, n, slowNames)
		}
	}
}

// A tab that floods the room is cut off after messageBurst messages (and
// messagesPerSecond a second) with 1008, and the flood does not get a tab
// that is merely slow dropped: that tab reads nothing while 3,000 lines
// arrive in one burst, and afterwards finds only what the limit let
// through, and is still in the room.
func TestChat_floodIsCutOffAndSlowTabStays(t *testing.T) {
	logged := captureLog(t)
	start := time.Now()
	_, addr := startChatWith(t, chatOptions{sndbuf: 8192})
	alice := dialSlow(t, addr, "/ws?name=alice") // reads only at the end
	if ev := alice.readEvent(t); ev.Type != "welcome" {
		t.Fatalf("alice got %+v, want her welcome", ev)
	}
	bob := wstest.Dial(t, addr, "/ws?name=bob", nil)
	expectEvent(t, "bob", bob, event{Type: "welcome", Name: "bob", Users: []string{"alice"}})
	mallory := wstest.Dial(t, addr, "/ws?name=mallory", nil)
	if ev := readEvent(t, mallory); ev.Type != "welcome" {
		t.Fatalf("mallory got %+v, want her welcome", ev)
	}
	expectEvent(t, "bob", bob, event{Type: "join", Name: "mallory"})

	const lines = 3000
	var flood []byte
	for i := range lines {
		flood = wstest.AppendFrame(flood, wstest.Msg(wstest.OpText, fmt.Appendf(nil, "%04d %s", i, strings.Repeat("spam ", 80))))
	}
	mallory.WriteRaw(flood) // may fail once the server has closed
	got := 0
	for {
		f, err := mallory.ReadFrame()
		if err != nil {
			t.Fatalf("mallory: %v after %d of her messages, want a close", err, got)
		}
		if f.Opcode == wstest.OpClose {
			code, reason := int(f.Payload[0])<<8|int(f.Payload[1]), string(f.Payload[2:])
			if code != websocket.ClosePolicyViolation || reason != "too many messages" {
				t.Errorf("mallory closed with %d %q, want 1008 \"too many messages\"", code, reason)
			}
			break
		}
		got++
	}
	mallory.Send(wstest.Msg(wstest.OpClose, wstest.CloseBody(websocket.ClosePolicyViolation, "")))

	// Bob reads along and sees her leave.
	passed := 0
	for ev := readEvent(t, bob); ev.Type != "leave"; ev = readEvent(t, bob) {
		passed++
	}
	most := messageBurst + int(messagesPerSecond*time.Since(start).Seconds()) + 1
	// Mallory may miss some of hers: what was still queued for her
	// when her close went out was dropped.
	if passed < messageBurst || passed > most || got > passed {
		t.Errorf("%d of %d lines reached bob, %d came back to mallory; want between %d and %d, and no more to mallory",
			passed, lines, got, messageBurst, most)
	}
	t.Logf("%d of %d lines reached the room, %d came back to mallory before her close", passed, lines, got)
	bob.Send(wstest.Msg(wstest.OpText, []byte("still here, alice?")))
	expectEvent(t, "bob", bob, event{Type: "message", Name: "bob", Text: "still here, alice?"})

	// Alice reads at last: everything is there, and no close.
	want := []event{{Type: "join", Name: "bob"}, {Type: "join", Name: "mallory"}}
	for i := 0; i < passed; i++ {
		want = append(want, event{Type: "message", Name: "mallory"})
	}
	want = append(want, event{Type: "leave", Name: "mallory"}, event{Type: "message", Name: "bob", Text: "still here, alice?"})
	for i, w := range want {
		ev := alice.readEvent(t)
		if w.Type == "message" && w.Name == "mallory" {
			ev.Text = ""
		}
		if ev.Type != w.Type || ev.Name != w.Name || ev.Text != w.Text {
			t.Fatalf("alice's event %d: %+v, want %+v", i, ev, w)
		}
	}
	if n := logged.count("chat: mallory"); n != 1 {
		t.Errorf("mallory was logged %d times, want once", n)
	}
	if n := logged.count("too slow"); n != 0 {
		t.Errorf("%d tabs were dropped as too slow, want none", n)
	}
}
