package websocket

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// emitAll calls every emit helper once on h.
func emitAll(h *Hooks, c *Conn, r *http.Request, err error) {
	h.handshakeAccepted(c, ProtocolRFC6455, 101, "chat", true)
	h.handshakeRefused(r, 426, err)
	h.messageRead(c, TextMessage, 1000, 40, true)
	h.messageWritten(c, BinaryMessage, 70000, 70010, false)
	h.ping(c, DirectionReceived, 3)
	h.pong(c, DirectionSent, 3)
	h.closed(c, CloseEvent{Initiator: ClosePeer, Code: 1000, Reason: "bye", Clean: true})
	h.protocolError(c, CloseProtocolError, err)
	h.queueFull(c, 64)
	h.heartbeatTimeout(c, 3*time.Second)
}

// TestHooks_unsetCostsNothing: with no hooks, or with hooks whose fields are
// nil, the helpers build no event and allocate nothing.
func TestHooks_unsetCostsNothing(t *testing.T) {
	c := &Conn{}
	r := &http.Request{}
	err := errors.New("x")
	for _, h := range []*Hooks{nil, {}} {
		if n := testing.AllocsPerRun(100, func() { emitAll(h, c, r, err) }); n != 0 {
			t.Errorf("hooks %v: %v allocs per run, want 0", h, n)
		}
	}
}

// countingHooks counts every event with atomics, as a metrics publisher
// would; used by the allocation test and the benchmark.
type countingHooks struct {
	n [10]atomic.Int64
}

func (k *countingHooks) hooks() *Hooks {
	return &Hooks{
		HandshakeAccepted: func(*Conn, HandshakeEvent) { k.n[0].Add(1) },
		HandshakeRefused:  func(*http.Request, RefusedEvent) { k.n[1].Add(1) },
		MessageRead:       func(_ *Conn, e MessageEvent) { k.n[2].Add(e.Payload) },
		MessageWritten:    func(_ *Conn, e MessageEvent) { k.n[3].Add(e.Payload) },
		Ping:              func(*Conn, ControlEvent) { k.n[4].Add(1) },
		Pong:              func(*Conn, ControlEvent) { k.n[5].Add(1) },
		Closed:            func(*Conn, CloseEvent) { k.n[6].Add(1) },
		ProtocolError:     func(*Conn, ProtocolErrorEvent) { k.n[7].Add(1) },
		QueueFull:         func(*Conn, QueueFullEvent) { k.n[8].Add(1) },
		HeartbeatTimeout:  func(*Conn, HeartbeatTimeoutEvent) { k.n[9].Add(1) },
	}
}

// TestHooks_countingHooksAllocateNothing: events are passed by value, so a
// hook that only counts costs no allocation either.
func TestHooks_countingHooksAllocateNothing(t *testing.T) {
	var k countingHooks
	h := k.hooks()
	c, r, err := &Conn{}, &http.Request{}, errors.New("x")
	if n := testing.AllocsPerRun(100, func() { emitAll(h, c, r, err) }); n != 0 {
		t.Errorf("%v allocs per run, want 0", n)
	}
	for i := range k.n {
		if k.n[i].Load() == 0 {
			t.Errorf("hook %d was never called", i)
		}
	}
}

// TestHooks_helpersPassTheirEvents checks that each helper calls its own
// hook, once, with the connection or request and every field of its event.
func TestHooks_helpersPassTheirEvents(t *testing.T) {
	c, r, err := &Conn{}, &http.Request{}, errors.New("bad frame")
	var got []any
	var subjects []any
	rec := func(subject, e any) { subjects, got = append(subjects, subject), append(got, e) }
	h := &Hooks{
		HandshakeAccepted: func(c *Conn, e HandshakeEvent) { rec(c, e) },
		HandshakeRefused:  func(r *http.Request, e RefusedEvent) { rec(r, e) },
		MessageRead:       func(c *Conn, e MessageEvent) { rec(c, e) },
		MessageWritten:    func(c *Conn, e MessageEvent) { rec(c, e) },
		Ping:              func(c *Conn, e ControlEvent) { rec(c, e) },
		Pong:              func(c *Conn, e ControlEvent) { rec(c, e) },
		Closed:            func(c *Conn, e CloseEvent) { rec(c, e) },
		ProtocolError:     func(c *Conn, e ProtocolErrorEvent) { rec(c, e) },
		QueueFull:         func(c *Conn, e QueueFullEvent) { rec(c, e) },
		HeartbeatTimeout:  func(c *Conn, e HeartbeatTimeoutEvent) { rec(c, e) },
	}
	emitAll(h, c, r, err)
	want := []any{
		HandshakeEvent{Protocol: ProtocolRFC6455, Status: 101, Subprotocol: "chat", Compression: true},
		RefusedEvent{Status: 426, Reason: err},
		MessageEvent{Type: TextMessage, Payload: 1000, Wire: 40, Compressed: true},
		MessageEvent{Type: BinaryMessage, Payload: 70000, Wire: 70010},
		ControlEvent{Direction: DirectionReceived, Len: 3},
		ControlEvent{Direction: DirectionSent, Len: 3},
		CloseEvent{Initiator: ClosePeer, Code: 1000, Reason: "bye", Clean: true},
		ProtocolErrorEvent{Code: CloseProtocolError, Err: err},
		QueueFullEvent{Limit: 64},
		HeartbeatTimeoutEvent{Timeout: 3 * time.Second},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events:\ngot  %+v\nwant %+v", got, want)
	}
	for i, s := range subjects {
		if (i == 1 && s != any(r)) || (i != 1 && s != any(c)) {
			t.Errorf("event %d (%T) went with %v", i, want[i], s)
		}
	}
}

func TestHooks_labels(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  string
		want string
	}{
		{"received", DirectionReceived.String(), "received"},
		{"sent", DirectionSent.String(), "sent"},
		{"zero direction", Direction(0).String(), "Direction(0)"},
		{"abnormal", CloseAbnormal.String(), "abnormal"},
		{"peer", ClosePeer.String(), "peer"},
		{"local", CloseLocal.String(), "local"},
		{"unknown initiator", CloseInitiator(7).String(), "CloseInitiator(7)"},
		{"rfc6455", string(ProtocolRFC6455), "rfc6455"},
		{"hixie-76", string(ProtocolHixie76), "hixie-76"},
		{"h2", string(ProtocolH2), "h2"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// TestCloseRecord_initiatorCodeAndClean covers the close rules of
// CloseEvent: the first frame names the initiator and the code, Clean needs
// frames both ways, no frame at all is abnormal 1006 (RFC 6455 §7.1.5).
func TestCloseRecord_initiatorCodeAndClean(t *testing.T) {
	type note struct {
		by     CloseInitiator
		code   int
		reason string
	}
	for _, tt := range []struct {
		name  string
		notes []note
		want  CloseEvent
	}{
		{"no frame", nil, CloseEvent{Initiator: CloseAbnormal, Code: 1006}},
		{"peer closes, we answer", []note{{ClosePeer, 1000, "bye"}, {CloseLocal, 1000, ""}},
			CloseEvent{Initiator: ClosePeer, Code: 1000, Reason: "bye", Clean: true}},
		{"peer closes, TCP ends before our answer", []note{{ClosePeer, 1001, ""}},
			CloseEvent{Initiator: ClosePeer, Code: 1001}},
		{"peer close without status", []note{{ClosePeer, 1005, ""}, {CloseLocal, 1005, ""}},
			CloseEvent{Initiator: ClosePeer, Code: 1005, Clean: true}},
		{"protocol error, peer never answers", []note{{CloseLocal, 1002, "bad opcode"}},
			CloseEvent{Initiator: CloseLocal, Code: 1002, Reason: "bad opcode"}},
		{"we close, peer answers with another code", []note{{CloseLocal, 1001, "going away"}, {ClosePeer, 1000, ""}},
			CloseEvent{Initiator: CloseLocal, Code: 1001, Reason: "going away", Clean: true}},
		{"repeated notes change nothing", []note{{CloseLocal, 4000, "a"}, {CloseLocal, 4001, "b"}, {ClosePeer, 4002, "c"}, {ClosePeer, 4003, "d"}},
			CloseEvent{Initiator: CloseLocal, Code: 4000, Reason: "a", Clean: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r closeRecord
			for _, n := range tt.notes {
				r.note(n.by, n.code, n.reason)
			}
			if got := r.event(); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestCloseRecord_simultaneousCloses: both sides' close frames noted at
// once (RFC 6455 §7.1.3 allows it) give one consistent first frame, whose
// code and reason belong together, and a clean close.
func TestCloseRecord_simultaneousCloses(t *testing.T) {
	for i := 0; i < 200; i++ {
		var r closeRecord
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); r.note(CloseLocal, 1001, "local") }()
		go func() { defer wg.Done(); r.note(ClosePeer, 1000, "peer") }()
		wg.Wait()
		got := r.event()
		local := CloseEvent{Initiator: CloseLocal, Code: 1001, Reason: "local", Clean: true}
		peer := CloseEvent{Initiator: ClosePeer, Code: 1000, Reason: "peer", Clean: true}
		if got != local && got != peer {
			t.Fatalf("round %d: got %+v", i, got)
		}
	}
}

// BenchmarkEchoHooks is BenchmarkEcho's ReadMessage echo with no hooks and
// with counting hooks on the Upgrader: the first must match BenchmarkEcho
// (0 extra allocs/op, same ns/op), the second shows what counting costs.
// It measures something only once the call sites are wired.
//
//	go test -run='^$' -bench=EchoHooks -benchmem -count=10 | benchstat -col /hooks -
func BenchmarkEchoHooks(b *testing.B) {
	var k countingHooks
	for _, mode := range []struct {
		name  string
		hooks *Hooks
	}{{"hooks=nil", nil}, {"hooks=counting", k.hooks()}} {
		for _, n := range []int{16, 1 << 10, 64 << 10} {
			b.Run(mode.name+"/"+sizeName(n), func(b *testing.B) {
				u := &Upgrader{Hooks: mode.hooks}
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					c, err := u.Upgrade(w, r, nil)
					if err != nil {
						return
					}
					defer c.Close()
					echoLoop(c, false)
				}))
				b.Cleanup(srv.Close)
				c := dialBench(b, strings.TrimPrefix(srv.URL, "http://"), n)
				c.roundTrip(b) // warm the pools
				b.SetBytes(int64(n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					c.roundTrip(b)
				}
			})
		}
	}
}

// ExampleHooks counts messages and connection ends with sync/atomic, the
// kind of work a hook is meant for: quick, non-blocking, safe for
// concurrent use.
func ExampleHooks() {
	var messages, bytes, vanished atomic.Int64
	u := &Upgrader{Hooks: &Hooks{
		MessageRead: func(_ *Conn, e MessageEvent) {
			messages.Add(1)
			bytes.Add(e.Payload)
		},
		Closed: func(_ *Conn, e CloseEvent) {
			if e.Initiator == CloseAbnormal { // no close frame: 1006
				vanished.Add(1)
			}
		},
	}}
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close() // Closed runs here at the latest
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})
}
