package redisroom

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// The feed's XREAD: at most feedCount lines per stream per call, blocking
// at most feedBlock. The block only bounds how long a room added while
// the wake-up below was lost waits; rooms are normally picked up at once.
const feedCount = 512

// feedBlock is a variable so that a test can make it long enough to show
// that new rooms do not wait for it.
var feedBlock = time.Second

// ClientOptions returns go-redis options suited to a hub talking to the
// Redis at addr: short dial, read and write timeouts (a lost Redis is
// noticed within seconds, and lines are answered "unavailable" in time),
// no automatic retries (neither of a dial nor of a command: a retried
// XADD could append a line twice; the hub and its clients retry
// instead), and deadlines taken from contexts.
func ClientOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		DialTimeout:           time.Second,
		DialerRetries:         1,
		ReadTimeout:           2 * time.Second,
		WriteTimeout:          2 * time.Second,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
		// The automatic mode of maintenance notifications (a Redis
		// Enterprise feature) writes the client's options while other
		// connections read them: go-redis v9.18 races with itself.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// redisBackend keeps each room in a Redis stream, key KeyPrefix+room.
//
// The feed reads every room with clients on this node with one XREAD
// BLOCK on a connection of its own, from the last id it delivered in each.
// One connection per node, whatever the number of rooms, rather than one
// per room: a node with thousands of rooms would otherwise hold thousands
// of connections to Redis, each blocked. A blocked XREAD does not see a
// room added after it was sent, so a new room wakes the feed with CLIENT
// UNBLOCK (Redis 5) sent from the pool to the feed's connection: the
// XREAD returns empty and is sent again over the new set of rooms.
type redisBackend struct {
	h   *Hub
	rdb *redis.Client

	readerID atomic.Int64  // CLIENT ID of the feed's connection, 0 when none
	skew     atomic.Int64  // Redis's clock minus ours, ms (see measureSkew)
	gen      atomic.Uint64 // bumped by each wake
	seen     atomic.Uint64 // the gen of the feed's current set of rooms
	kick     chan struct{} // wakes a feed that has no room to read
	unblock  chan struct{} // wakes the goroutine sending CLIENT UNBLOCK
}

func newRedisBackend(h *Hub) *redisBackend {
	return &redisBackend{
		h:       h,
		rdb:     h.cfg.Redis,
		kick:    make(chan struct{}, 1),
		unblock: make(chan struct{}, 1),
	}
}

func (b *redisBackend) key(room string) string { return b.h.cfg.KeyPrefix + room }

// addScript appends a line unless Redis runs it after ARGV[1], a
// deadline in Redis's own clock (milliseconds). A command written just
// before Redis stopped answering (paused, or cut off by the network) is
// still in its socket buffer and runs when it answers again, long after
// the node told the client "unavailable": the deadline makes that late
// run a no-op, so a refused line is never appended later. The script's
// effects (the XADD) are what is replicated and written to the AOF.
var addScript = redis.NewScript(`
local t = redis.call('TIME')
if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[1]) then
	return redis.error_reply('LATE line past its deadline, not appended')
end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'text', ARGV[3], 'node', ARGV[4])
`)

// lateMargin is how much earlier than the node's own timeout Redis stops
// accepting a line (at most a quarter of the timeout): the time its answer
// has to come back.
const lateMargin = 500 * time.Millisecond

func (b *redisBackend) add(ctx context.Context, room, text string) (ID, error) {
	margin := min(lateMargin, b.h.cfg.Timeout/4)
	budget := b.h.cfg.Timeout - margin
	if dl, ok := ctx.Deadline(); ok && time.Until(dl)-margin < budget {
		budget = time.Until(dl) - margin
	}
	deadline := time.Now().Add(budget).UnixMilli() + b.skew.Load()
	res, err := addScript.Run(ctx, b.rdb, []string{b.key(room)},
		deadline, b.h.cfg.MaxLen, text, b.h.cfg.Node).Text()
	if err != nil {
		return ID{}, err
	}
	return ParseID(res)
}

// measureSkew sets skew from Redis's TIME, read on conn: Redis's clock
// minus ours, in milliseconds, to within half a round trip.
func (b *redisBackend) measureSkew(ctx context.Context, conn *redis.Conn) error {
	before := time.Now()
	t, err := conn.Time(ctx).Result()
	if err != nil {
		return err
	}
	mid := before.Add(time.Since(before) / 2)
	b.skew.Store(t.UnixMilli() - mid.UnixMilli())
	return nil
}

// info reads XINFO STREAM. Lines after since were lost when the oldest
// line left is above since while some lines have been removed (Redis 7's
// entries-added counts every line ever appended, length those left), or
// when a line above since was deleted (max-deleted-entry-id; Redis 7.0
// does not update it when trimming, hence the first test). The first
// test can report a gap that is not one: when since was itself the last
// line trimmed. Before Redis 7 neither field exists, and a first entry
// that does not follow since counts as a gap.
func (b *redisBackend) info(ctx context.Context, room string, since ID) (ID, bool, error) {
	xi, err := b.rdb.XInfoStream(ctx, b.key(room)).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return ID{}, false, nil
		}
		return ID{}, false, err
	}
	last, err := ParseID(xi.LastGeneratedID)
	if err != nil {
		return ID{}, false, err
	}
	first := last.next() // an empty stream: everything is gone
	if xi.Length > 0 {
		if first, err = ParseID(xi.FirstEntry.ID); err != nil {
			return ID{}, false, err
		}
	}
	if md, err := ParseID(xi.MaxDeletedEntryID); err == nil && since.Less(md) {
		return last, true, nil
	}
	if xi.EntriesAdded > 0 {
		return last, xi.EntriesAdded > xi.Length && since.Less(first), nil
	}
	return last, xi.Length > 0 && since.next().Less(first), nil
}

func (b *redisBackend) after(ctx context.Context, room string, id ID, n int) ([]entry, error) {
	msgs, err := b.rdb.XRangeN(ctx, b.key(room), id.next().String(), "+", int64(n)).Result()
	if err != nil {
		return nil, err
	}
	return toEntries(msgs), nil
}

// toEntries converts go-redis messages; a malformed one is skipped.
func toEntries(msgs []redis.XMessage) []entry {
	ents := make([]entry, 0, len(msgs))
	for _, msg := range msgs {
		id, err := ParseID(msg.ID)
		if err != nil {
			continue
		}
		text, _ := msg.Values["text"].(string)
		node, _ := msg.Values["node"].(string)
		ents = append(ents, entry{id: id, text: text, node: node})
	}
	return ents
}

// wake makes the feed read the set of rooms again: it bumps the
// generation and has the unblocker interrupt the feed's XREAD.
func (b *redisBackend) wake() {
	b.gen.Add(1)
	select {
	case b.kick <- struct{}{}:
	default:
	}
	select {
	case b.unblock <- struct{}{}:
	default:
	}
}

// unblocker sends CLIENT UNBLOCK to the feed's connection until the feed
// has seen the latest generation. An UNBLOCK that finds the connection
// between two XREADs does nothing (it answers 0): that XREAD may have been
// sent with the old set of rooms, so it tries again shortly.
func (b *redisBackend) unblocker(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-b.unblock:
		}
		want := b.gen.Load()
		for i := 0; i < 100 && b.seen.Load() < want; i++ {
			id := b.readerID.Load()
			if id == 0 {
				break // the feed is reconnecting; it reads the rooms anew
			}
			ctx, cancel := context.WithTimeout(context.Background(), b.h.cfg.Timeout)
			n, err := b.rdb.ClientUnblock(ctx, id).Result()
			cancel()
			if err != nil || n == 1 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// feed delivers the new lines of the rooms with members here until the
// hub closes, reconnecting whenever Redis is lost. Each room is read from
// the last id the feed delivered in it, so after Redis comes back the
// node catches up with what it missed.
func (b *redisBackend) feed() {
	h := b.h
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		b.unblocker(stop)
	}()
	defer func() {
		close(stop)
		<-stopped
	}()
	for {
		conn := b.rdb.Conn()
		err := b.serveConn(conn)
		conn.Close()
		b.readerID.Store(0)
		if err == nil {
			return // closed
		}
		h.check(err)
		select {
		case <-h.done:
			return
		case <-time.After(retryWait):
		}
	}
}

// serveConn runs the feed on one connection; it returns nil when the hub
// closes, or the error that broke the connection.
func (b *redisBackend) serveConn(conn *redis.Conn) error {
	h := b.h
	ctx := context.Background()
	id, err := conn.ClientID(ctx).Result()
	if err != nil {
		return err
	}
	if err := b.measureSkew(ctx, conn); err != nil {
		return err
	}
	h.up()
	b.readerID.Store(id)
	var names []string
	var ids []ID
	var streams []string
	for {
		g := b.gen.Load()
		names, ids = h.positions(names[:0], ids[:0])
		b.seen.Store(g)
		select {
		case <-h.done:
			return nil
		default:
		}
		if len(names) == 0 {
			if err := b.idle(conn); err != nil {
				return err
			}
			continue
		}
		streams = streams[:0]
		for _, n := range names {
			streams = append(streams, b.key(n))
		}
		for _, id := range ids {
			streams = append(streams, id.String())
		}
		res, err := conn.XRead(ctx, &redis.XReadArgs{Streams: streams, Count: feedCount, Block: feedBlock}).Result()
		if err != nil && err != redis.Nil { // Nil: timed out or unblocked
			return err
		}
		h.up()
		for _, s := range res {
			h.deliver(strings.TrimPrefix(s.Stream, h.cfg.KeyPrefix), toEntries(s.Messages))
		}
	}
}

// idle waits for a room to read, pinging Redis every feedBlock while it is
// marked down, so that posts resume as soon as it answers.
func (b *redisBackend) idle(conn *redis.Conn) error {
	h := b.h
	select {
	case <-b.kick:
		return nil
	case <-h.done:
		return nil
	case <-time.After(feedBlock):
	}
	if !h.down.Load() {
		return nil
	}
	if err := conn.Ping(context.Background()).Err(); err != nil {
		return err
	}
	h.up()
	return nil
}
