package redisroom

import (
	"context"
	"sort"
	"sync"
	"time"
)

// localBackend keeps each room's lines in memory, for a hub with no Redis:
// one process, nothing shared, nothing kept across restarts. Ids are made
// the way Redis makes them (milliseconds-sequence), lines are trimmed to
// between MaxLen and 2*MaxLen, and add delivers the line itself, so the
// same replay, live hand-over and slow-client code runs as with Redis.
type localBackend struct {
	h    *Hub
	mu   sync.Mutex
	logs map[string]*localLog
}

type localLog struct {
	mu      sync.Mutex
	ents    []entry
	last    ID // the last id given out
	deleted ID // the largest id trimmed away
}

func newLocalBackend(h *Hub) *localBackend {
	return &localBackend{h: h, logs: make(map[string]*localLog)}
}

func (b *localBackend) log(room string) *localLog {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.logs[room]
	if l == nil {
		l = &localLog{}
		b.logs[room] = l
	}
	return l
}

// add appends and delivers under the room's log lock, so lines reach the
// members in id order.
func (b *localBackend) add(_ context.Context, room, text string) (ID, error) {
	l := b.log(room)
	l.mu.Lock()
	defer l.mu.Unlock()
	id := ID{Ms: uint64(time.Now().UnixMilli())}
	if !l.last.Less(id) {
		id = l.last.next()
	}
	l.last = id
	e := entry{id: id, text: text, node: b.h.cfg.Node}
	l.ents = append(l.ents, e)
	if max := int(b.h.cfg.MaxLen); len(l.ents) >= 2*max {
		drop := len(l.ents) - max
		l.deleted = l.ents[drop-1].id
		l.ents = append(l.ents[:0:0], l.ents[drop:]...)
	}
	b.h.deliver(room, []entry{e})
	return id, nil
}

func (b *localBackend) info(_ context.Context, room string, since ID) (ID, bool, error) {
	l := b.log(room)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, since.Less(l.deleted), nil
}

func (b *localBackend) after(_ context.Context, room string, id ID, n int) ([]entry, error) {
	l := b.log(room)
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.ents), func(i int) bool { return id.Less(l.ents[i].id) })
	j := min(i+n, len(l.ents))
	return append([]entry(nil), l.ents[i:j]...), nil
}

// feed has nothing to read: add delivers. It waits for the hub to close.
func (b *localBackend) feed() { <-b.h.done }

func (b *localBackend) wake() {}
