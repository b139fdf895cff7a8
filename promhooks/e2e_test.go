// Real traffic through an Upgrader and a Dialer that both carry a
// Collector's hooks. Alone:
//
//	cd promhooks && go test -race -count=1 -run TestCollector_endToEnd .

package promhooks

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hybi/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollector_endToEnd(t *testing.T) {
	server, client := New(), New()
	u := websocket.Upgrader{Hooks: server.Hooks(), EnableCompression: true}
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer close(done)
		defer c.Close()
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, p); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"

	// A refusal: no Upgrade header at all (400 from the server; the
	// Dialer is not involved).
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	d := websocket.Dialer{Hooks: client.Hooks(), EnableCompression: true}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	big := []byte(strings.Repeat("compress me ", 200)) // 2400 bytes, deflated
	for _, m := range []struct {
		typ int
		p   []byte
	}{{websocket.TextMessage, []byte("hello")}, {websocket.BinaryMessage, []byte{1, 2, 3}}, {websocket.TextMessage, big}} {
		if err := c.WriteMessage(m.typ, m.p); err != nil {
			t.Fatal(err)
		}
		if typ, p, err := c.ReadMessage(); err != nil || typ != m.typ || string(p) != string(m.p) {
			t.Fatalf("echo: %d %d bytes %v", typ, len(p), err)
		}
	}
	if err := c.CloseHandshake(websocket.CloseNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the server's handler did not end")
	}

	for _, tt := range []struct {
		name string
		m    *Collector
		got  func(*Collector) float64
		want float64
	}{
		{"server 101", server, func(m *Collector) float64 { return testutil.ToFloat64(m.handshakes.WithLabelValues("101")) }, 1},
		{"server 400", server, func(m *Collector) float64 { return testutil.ToFloat64(m.handshakes.WithLabelValues("400")) }, 1},
		{"client 101", client, func(m *Collector) float64 { return testutil.ToFloat64(m.handshakes.WithLabelValues("101")) }, 1},
		{"server compressed rfc6455", server, func(m *Collector) float64 {
			return testutil.ToFloat64(m.opened.WithLabelValues("rfc6455", "true"))
		}, 1},
		{"server active", server, func(m *Collector) float64 { return testutil.ToFloat64(m.active) }, 0},
		{"client active", client, func(m *Collector) float64 { return testutil.ToFloat64(m.active) }, 0},
		{"server text received", server, func(m *Collector) float64 { return testutil.ToFloat64(m.msgC[recv][0]) }, 2},
		{"server binary sent", server, func(m *Collector) float64 { return testutil.ToFloat64(m.msgC[sent][1]) }, 1},
		{"server text payload received", server, func(m *Collector) float64 { return testutil.ToFloat64(m.payloadC[recv][0]) }, 5 + 2400},
		{"client text payload sent", client, func(m *Collector) float64 { return testutil.ToFloat64(m.payloadC[sent][0]) }, 5 + 2400},
		{"server closes peer:1000", server, func(m *Collector) float64 {
			return testutil.ToFloat64(m.closes.WithLabelValues("peer", "1000"))
		}, 1},
		{"client closes local:1000", client, func(m *Collector) float64 {
			return testutil.ToFloat64(m.closes.WithLabelValues("local", "1000"))
		}, 1},
	} {
		if got := tt.got(tt.m); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	// Compression shows as fewer wire bytes than payload bytes for text.
	if p, w := testutil.ToFloat64(server.payloadC[recv][0]), testutil.ToFloat64(server.wireC[recv][0]); w == 0 || w >= p {
		t.Errorf("server text received: payload %v bytes, wire %v bytes; want 0 < wire < payload", p, w)
	}
}
