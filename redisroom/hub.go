package redisroom

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hybi/websocket"
	"github.com/redis/go-redis/v9"
)

// Defaults of [Config]'s zero fields.
const (
	// DefaultMaxLen is the approximate bound given to XADD's MAXLEN ~.
	// Redis trims whole radix-tree nodes (100 entries each by default,
	// stream-node-max-entries), never below the bound, so a room always
	// keeps at least its last DefaultMaxLen lines: twice the 10,000 the
	// contract promises.
	DefaultMaxLen = 20000

	// DefaultMaxLine is the largest chat line, in bytes; a larger message
	// fails the connection with 1009 (RFC 6455 §7.4.1).
	DefaultMaxLine = 65536

	// DefaultQueueLimit is how many messages may wait for one client
	// before it is closed as too slow.
	DefaultQueueLimit = 1024

	// DefaultQueueBytes is how many bytes may wait for one client before
	// it is closed as too slow.
	DefaultQueueBytes = 1 << 20

	// DefaultTimeout bounds each Redis command of a post or a replay.
	DefaultTimeout = 2 * time.Second
)

// ErrUnavailable is returned when Redis does not answer: the line was not
// appended (and is not kept to be appended later), or a join could not
// learn where its room's stream ends.
var ErrUnavailable = errors.New("redisroom: redis unavailable")

// ErrBadRoom is returned by [Hub.Join] for a name [ValidRoom] refuses.
var ErrBadRoom = errors.New("redisroom: bad room name")

// ErrClosed is returned by [Hub.Join] and [Hub.Post] after [Hub.Close].
var ErrClosed = errors.New("redisroom: hub closed")

// Config configures a [Hub]. Only Node is required.
type Config struct {
	// Redis is the client the hub appends and reads with. The hub also
	// takes one connection of its pool for good: the one that blocks in
	// XREAD for every room with clients on this node. Nil runs the hub
	// on its own, with the rooms' streams in memory (one process, no
	// persistence): a baseline and a development mode.
	Redis *redis.Client

	// Node names this process in every line it appends ("node" field).
	Node string

	// KeyPrefix is put before a room's name to make its stream's key;
	// empty means "room:".
	KeyPrefix string

	// MaxLen bounds each room's stream (XADD MAXLEN ~ MaxLen); zero means
	// DefaultMaxLen. At least MaxLen lines are retained.
	MaxLen int64

	// MaxLine is the largest line a client may send, in bytes; zero
	// means DefaultMaxLine.
	MaxLine int64

	// QueueLimit and QueueBytes bound what may wait for one client:
	// messages and bytes. A client past either is closed with 1008.
	// Zero means DefaultQueueLimit and DefaultQueueBytes.
	QueueLimit, QueueBytes int

	// Timeout bounds each Redis command made for a client; zero means
	// DefaultTimeout.
	Timeout time.Duration

	// SendBuffer, when positive, is the SO_SNDBUF given to each client's
	// TCP socket (Linux doubles it). Zero leaves the kernel's autotuning,
	// which grows it to megabytes for a client that reads slowly: memory
	// (the kernel's) that QueueBytes does not count, but also slack that
	// lets a client absorb a burst of long lines without being dropped.
	SendBuffer int

	// Logf, when set, receives the hub's few log lines (Redis lost and
	// found again, slow clients dropped).
	Logf func(format string, args ...any)
}

// Hub connects the rooms of this process to everyone else's through Redis
// Streams. It is safe for concurrent use. [New] starts its one background
// goroutine (the feed, which reads the streams of the rooms that have
// clients here); [Hub.Close] stops it.
type Hub struct {
	cfg Config
	be  backend

	mu    sync.Mutex
	rooms map[string]*room
	shut  bool

	down atomic.Bool // the last Redis command failed; cleared by the feed
	done chan struct{}
	wg   sync.WaitGroup
}

// backend is where rooms' lines live: Redis streams or memory.
type backend interface {
	// add appends a line and returns its id. The local backend also
	// delivers it (through h.deliver) before returning.
	add(ctx context.Context, room, text string) (ID, error)
	// info returns the last id given out in room (zero when none) and
	// whether lines after since have been trimmed away.
	info(ctx context.Context, room string, since ID) (last ID, gap bool, err error)
	// after returns up to n lines of room with ids above id, in order.
	after(ctx context.Context, room string, id ID, n int) ([]entry, error)
	// feed delivers the rooms' new lines until h.done is closed.
	feed()
	// wake makes the feed look at the set of rooms again.
	wake()
}

// entry is one line of a room's stream.
type entry struct {
	id   ID
	text string
	node string
}

// New returns a hub configured by cfg and starts its feed.
func New(cfg Config) *Hub {
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "room:"
	}
	if cfg.MaxLen <= 0 {
		cfg.MaxLen = DefaultMaxLen
	}
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = DefaultMaxLine
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = DefaultQueueLimit
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	h := &Hub{cfg: cfg, rooms: make(map[string]*room), done: make(chan struct{})}
	if cfg.Redis != nil {
		h.be = newRedisBackend(h)
	} else {
		h.be = newLocalBackend(h)
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.be.feed()
	}()
	return h
}

// Close stops the feed and waits for it: at once when Redis answers (the
// feed's XREAD is interrupted with CLIENT UNBLOCK), up to the XREAD's
// block plus the client's read timeout when it does not. Connections are not closed: their owners do that
// (see [websocket.ConnSet]); members left afterwards get no new lines.
// Close does not close the Redis client.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.shut {
		h.mu.Unlock()
		return nil
	}
	h.shut = true
	close(h.done)
	h.mu.Unlock()
	h.be.wake()
	h.wg.Wait()
	return nil
}

// Available reports whether the last Redis command succeeded; while it
// is false, posts fail at once with [ErrUnavailable] and the feed probes
// Redis until it answers again.
func (h *Hub) Available() bool { return !h.down.Load() }

// Post appends text to room as a line from this node and returns its id.
// It blocks until Redis answers, at most Config.Timeout, and fails at once
// with [ErrUnavailable] while Redis is known to be down. The line reaches
// the room's clients on every node, the poster's included, through the
// feed. text is copied.
func (h *Hub) Post(ctx context.Context, room, text string) (ID, error) {
	if !ValidRoom(room) {
		return ID{}, ErrBadRoom
	}
	select {
	case <-h.done:
		return ID{}, ErrClosed
	default:
	}
	if h.down.Load() {
		return ID{}, ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	id, err := h.be.add(ctx, room, text)
	return id, h.check(err)
}

// check records the outcome of a Redis command and maps a failure to
// ErrUnavailable.
func (h *Hub) check(err error) error {
	if err == nil {
		return nil
	}
	if h.down.CompareAndSwap(false, true) {
		h.logf("redisroom: %s: redis unavailable: %v", h.cfg.Node, err)
	}
	return ErrUnavailable
}

// up records that Redis answered the feed.
func (h *Hub) up() {
	if h.down.CompareAndSwap(true, false) {
		h.logf("redisroom: %s: redis available again", h.cfg.Node)
	}
}

func (h *Hub) logf(format string, args ...any) {
	if h.cfg.Logf != nil {
		h.cfg.Logf(format, args...)
	}
}

// room is one room with clients on this node.
type room struct {
	name string
	refs int // members joined, live or replaying; under Hub.mu

	mu      sync.Mutex
	last    ID                   // the last line the feed delivered
	members map[*Member]struct{} // live members: the feed delivers to them
}

// acquire returns the room named name, made with last as the feed's start
// when it is new (and the feed told), counting one more member.
func (h *Hub) acquire(name string, last ID) (*room, error) {
	h.mu.Lock()
	if h.shut {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	r := h.rooms[name]
	if r == nil {
		r = &room{name: name, last: last, members: make(map[*Member]struct{})}
		h.rooms[name] = r
	}
	r.refs++
	isNew := r.refs == 1
	h.mu.Unlock()
	if isNew {
		h.be.wake()
	}
	return r, nil
}

// release drops a member's count; the last one out removes the room.
func (h *Hub) release(r *room) {
	h.mu.Lock()
	r.refs--
	if r.refs == 0 && h.rooms[r.name] == r {
		delete(h.rooms, r.name)
	}
	h.mu.Unlock()
}

// positions returns the rooms the feed reads and where each one is.
func (h *Hub) positions(names []string, ids []ID) ([]string, []ID) {
	h.mu.Lock()
	rs := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rs = append(rs, r)
	}
	h.mu.Unlock()
	for _, r := range rs {
		r.mu.Lock()
		names, ids = append(names, r.name), append(ids, r.last)
		r.mu.Unlock()
	}
	return names, ids
}

// lookup returns the room named name if it has members here.
func (h *Hub) lookup(name string) *room {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rooms[name]
}

// deliver hands the feed's new lines of room name to its live members, in
// order, skipping lines already delivered. One PreparedMessage per line is
// shared by every member: one framing per message per node. It never
// blocks on a client: a member whose queue is full is dropped.
func (h *Hub) deliver(name string, ents []entry) {
	r := h.lookup(name)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range ents {
		e := &ents[i]
		if !r.last.Less(e.id) {
			continue
		}
		r.last = e.id
		var pm *websocket.PreparedMessage
		var size int
		for m := range r.members {
			if !m.cursor.Less(e.id) {
				continue // replayed before it went live
			}
			if pm == nil {
				pm, size = h.prepare(name, e)
			}
			m.cursor = e.id
			if err := m.send(pm, size); err != nil {
				delete(r.members, m)
				m.fail(err)
			}
		}
	}
}
