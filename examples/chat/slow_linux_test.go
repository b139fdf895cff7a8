//go:build linux

package main

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hybi/websocket/internal/wstest"
)

// A tab that stops reading fills its send queue and is dropped: the others
// see it leave, and the room goes on.
func TestChat_slowTabIsDropped(t *testing.T) {
	_, addr := startChat(t)
	alice := wstest.Dial(t, addr, "/ws?name=alice", nil)
	expectEvent(t, "alice", alice, event{Type: "welcome", Name: "alice", Users: nil})

	// The slow tab: a small receive window, and it never reads after the
	// handshake.
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
	slow, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.Write(wstest.BuildRequest("GET", "/ws?name=slow", "HTTP/1.1", wstest.DefaultHeader(addr, wstest.NewKey())))
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReaderSize(slow, 16), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("slow tab's handshake: %v, %v", resp, err)
	}
	expectEvent(t, "alice", alice, event{Type: "join", Name: "slow"})

	// Alice talks, a message at a time as people do, reading everything,
	// until the slow tab is gone.
	line := strings.Repeat("x", 400)
	for sent := 1; sent <= 50000; sent++ {
		if err := alice.WriteFrame(wstest.Msg(wstest.OpText, []byte(line))); err != nil {
			t.Fatal(err)
		}
		for {
			ev := readEvent(t, alice)
			if ev.Type == "leave" && ev.Name == "slow" {
				t.Logf("the slow tab was dropped after %d messages", sent)
				return
			}
			if ev.Type == "message" {
				break // her own, back: the next one
			}
		}
	}
	t.Fatal("the slow tab is still in the room after 50000 messages")
}
