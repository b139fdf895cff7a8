package main

import (
	"strings"
	"syscall"
	"testing"

	"github.com/hybi/websocket/internal/browsertest"
)

// The chat page in a real headless Chromium: a line typed on one node's
// page shows on another node's page; when the first node is killed and
// comes back at the same address, its page reconnects by itself, resumes
// after the last id it saw, and shows what was said meanwhile once.
func TestPage_browserReconnectsAndResumes(t *testing.T) {
	r := startRedis(t)
	a, b := startNode(t, r.Addr, "a"), startNode(t, r.Addr, "b")
	br := browsertest.Launch(t)
	pa := br.NewPage("on-a", "http://"+a.addr+"/?room=web")
	pb := br.NewPage("on-b", "http://"+b.addr+"/?room=web")
	const connected = `document.getElementById("status").textContent === "connected"`
	pa.WaitFor(connected)
	pb.WaitFor(connected)

	pa.Type("#msg", "hello from a")
	pa.Press("Enter")
	pb.WaitFor(`document.getElementById("log").innerText.includes("hello from a")`)
	pa.WaitFor(`document.getElementById("log").innerText.includes("hello from a")`)
	if got := pb.Text("#log"); !strings.Contains(got, "via a") {
		t.Errorf("b's page %q does not say which node took the line", got)
	}

	a.stop(syscall.SIGKILL, wait)
	pa.WaitFor(`document.getElementById("status").textContent.startsWith("disconnected")`)
	pb.Type("#msg", "said while a was down")
	pb.Press("Enter")
	pb.WaitFor(`document.getElementById("log").innerText.includes("said while a was down")`)

	startNodeAt(t, a.addr, r.Addr, "a2")
	pa.WaitFor(`document.getElementById("log").innerText.includes("said while a was down")`)
	pa.WaitFor(connected)
	var n int
	pa.Eval(`document.getElementById("log").innerText.split("hello from a").length - 1`, &n)
	if n != 1 {
		t.Errorf("a's page shows the first line %d times after resuming, want once", n)
	}
}
