package redisroom

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hybi/websocket"
)

// Replay pacing: a member catching up is sent replayPage lines at a time,
// the next page once at most replayLow of them still wait in its queue,
// so a replay goes as fast as the client reads and never fills the queue.
const (
	replayPage  = 256
	replayLow   = 64
	replayPoll  = 2 * time.Millisecond  // first wait for the queue to drain
	replayMaxIn = 50 * time.Millisecond // longest wait between two looks
	stallLimit  = 30 * time.Second      // a queue that does not move for this long: the client stopped reading
	retryWait   = 250 * time.Millisecond
)

var (
	errTooMuch = errors.New("redisroom: too much waiting for a slow client")
	errStalled = errors.New("redisroom: client stopped reading")
)

// Member is one client in one room on this node: made by [Hub.Join]
// before the WebSocket upgrade, then served by [Member.Serve].
type Member struct {
	h      *Hub
	room   *room
	cursor ID   // the last line sent; the replay's until live, then room.mu's
	gap    bool // lines after cursor were trimmed: send the notice first
	conn   *websocket.Conn

	mu    sync.Mutex // guards the byte ledger below and the queue's order
	sizes []int      // sizes of the messages queued, the oldest maybe written
	head  int        // sizes[head:] may still be waiting
	bytes int        // sum of sizes[head:]

	once   sync.Once
	failed chan struct{} // closed by fail
}

// Join makes a member of room for a client about to be upgraded. With
// since == "" the member gets every line appended from now on; otherwise
// since is a stream id (see [ParseID]) and the member first gets the
// retained lines after it, then the live ones, with no gap and no
// duplicate. It asks Redis where the room's stream ends, so it blocks
// for at most Config.Timeout, and returns [ErrUnavailable] when Redis does
// not answer (answer the request with 503), [ErrBadRoom] or [ErrBadID] for
// bad arguments (400). A member that is never served must be given back
// with [Member.Leave].
func (h *Hub) Join(ctx context.Context, room, since string) (*Member, error) {
	if !ValidRoom(room) {
		return nil, ErrBadRoom
	}
	var from ID
	if since != "" {
		var err error
		if from, err = ParseID(since); err != nil {
			return nil, err
		}
	}
	if h.down.Load() {
		return nil, ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	last, _, err := h.be.info(ctx, room, from)
	if err = h.check(err); err != nil {
		return nil, err
	}
	r, err := h.acquire(room, last)
	if err != nil {
		return nil, err
	}
	m := &Member{h: h, room: r, cursor: last, failed: make(chan struct{})}
	if since != "" {
		m.cursor = from
	}
	return m, nil
}

// Leave gives back a member that [Member.Serve] will not serve (the
// upgrade failed). Calling it after Serve, or twice, is a mistake.
func (m *Member) Leave() { m.h.release(m.room) }

// Serve delivers the room to conn and posts conn's lines to it until the
// connection ends, then leaves the room; it returns the error that ended
// the connection. It blocks, and is meant to run on the handler's
// goroutine, as the connection's only reader: each text message is one
// line, appended before the next one is read; binary messages close the
// connection with 1003 and lines over Config.MaxLine with 1009. A line
// Redis does not take is answered {"error":"unavailable","text":LINE}.
// Serve sets conn's read and queue limits and its socket's send buffer
// (Config.SendBuffer); the caller keeps ownership of conn and closes it
// after Serve returns.
func (m *Member) Serve(conn *websocket.Conn) error {
	h := m.h
	m.conn = conn
	conn.SetReadLimit(h.cfg.MaxLine)
	conn.SetQueueLimit(h.cfg.QueueLimit)
	if tc, ok := conn.NetConn().(*net.TCPConn); ok && h.cfg.SendBuffer > 0 {
		tc.SetWriteBuffer(h.cfg.SendBuffer)
	}
	replayDone := make(chan struct{})
	go func() {
		defer close(replayDone)
		m.replay()
	}()
	defer func() {
		m.fail(nil)
		<-replayDone
		m.leave()
	}()
	for {
		mt, p, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		if mt != websocket.TextMessage {
			conn.CloseHandshake(websocket.CloseUnsupportedData, "text lines only")
			return websocket.ErrCloseSent
		}
		text := string(p)
		if _, err := h.Post(context.Background(), m.room.name, text); err != nil {
			data, _ := json.Marshal(errorMsg{Error: "unavailable", Text: text})
			if err := m.sendBytes(data); err != nil {
				m.fail(err)
				return err
			}
		}
	}
}

// leave takes the member out of its room for good.
func (m *Member) leave() {
	m.room.mu.Lock()
	delete(m.room.members, m)
	m.room.mu.Unlock()
	m.h.release(m.room)
}

// replay sends the retained lines after m.cursor, paced by the client's
// reading, until it has caught up with the feed; then the member goes
// live. It retries while Redis is away and returns early when the member
// fails.
func (m *Member) replay() {
	h, r := m.h, m.room
	for {
		select {
		case <-m.failed:
			return
		case <-h.done:
			return
		default:
		}
		ents, err := m.page()
		if err != nil {
			if !m.wait(retryWait) {
				return
			}
			continue
		}
		for i := range ents {
			if !m.cursor.Less(ents[i].id) {
				continue
			}
			if err := m.sendEntry(&ents[i]); err != nil {
				m.fail(err)
				return
			}
		}
		if len(ents) < replayPage {
			r.mu.Lock()
			if !m.cursor.Less(r.last) {
				r.members[m] = struct{}{} // live from here: the feed sends what comes after m.cursor
				r.mu.Unlock()
				return
			}
			r.mu.Unlock()
		}
		if err := m.drain(); err != nil {
			m.fail(err)
			return
		}
	}
}

// page fetches the next replayPage lines after the cursor, and first
// checks whether lines after it were trimmed away.
func (m *Member) page() ([]entry, error) {
	h := m.h
	if h.down.Load() {
		return nil, ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.Timeout)
	defer cancel()
	// Every page, not only the first: a client replaying more slowly
	// than the room grows can fall MaxLen lines behind, and then it is
	// told of the lines it lost rather than skipping them silently.
	_, trimmed, err := h.be.info(ctx, m.room.name, m.cursor)
	if err = h.check(err); err != nil {
		return nil, err
	}
	m.gap = m.gap || trimmed
	ents, err := h.be.after(ctx, m.room.name, m.cursor, replayPage)
	return ents, h.check(err)
}

// sendEntry queues one replayed line, after the gap notice when lines
// before it were trimmed away.
func (m *Member) sendEntry(e *entry) error {
	if m.gap {
		m.gap = false
		data, _ := json.Marshal(gapMsg{Gap: true, Oldest: e.id.String()})
		if err := m.sendBytes(data); err != nil {
			return err
		}
	}
	pm, size := m.h.prepare(m.room.name, e)
	m.cursor = e.id
	return m.send(pm, size)
}

// drain waits until at most replayLow messages wait for the client. A
// queue that does not shrink for stallLimit means the client stopped
// reading.
func (m *Member) drain() error {
	wait := replayPoll
	last, since := m.conn.QueueLen(), time.Now()
	for {
		n := m.conn.QueueLen()
		if n <= replayLow {
			return nil
		}
		if n < last {
			last, since, wait = n, time.Now(), replayPoll
		} else if time.Since(since) > stallLimit {
			return errStalled
		}
		if !m.wait(wait) {
			return net.ErrClosed
		}
		wait = min(2*wait, replayMaxIn)
	}
}

// wait sleeps for d and reports whether the member is still alive.
func (m *Member) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-m.failed:
		return false
	case <-m.h.done:
		return false
	}
}

// send queues pm (size bytes) for the client and keeps the ledger of
// bytes waiting: the messages still waiting are the last QueueLen() queued.
// It fails when the queue is full, the bytes waiting pass QueueBytes, or
// the connection failed. It never blocks on the network.
func (m *Member) send(pm *websocket.PreparedMessage, size int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.conn.QueuePreparedMessage(pm); err != nil {
		return err
	}
	n := m.conn.QueueLen()
	m.sizes = append(m.sizes, size)
	m.bytes += size
	for len(m.sizes)-m.head > n {
		m.bytes -= m.sizes[m.head]
		m.head++
	}
	if m.head > 64 && m.head*2 > len(m.sizes) {
		k := copy(m.sizes, m.sizes[m.head:])
		m.sizes, m.head = m.sizes[:k], 0
	}
	if m.bytes > m.h.cfg.QueueBytes {
		return errTooMuch
	}
	return nil
}

// sendBytes queues a message of this member alone.
func (m *Member) sendBytes(data []byte) error {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		return err
	}
	return m.send(pm, len(data))
}

// fail ends the member once. For a slow client (a full queue, too many
// bytes waiting, a stalled replay) it writes close 1008, bounded by a
// second, and closes the socket (with a reset when the close frame could
// not be written), on a goroutine of its own: the feed never waits on a
// client.
func (m *Member) fail(err error) {
	m.once.Do(func() {
		close(m.failed)
		if !errors.Is(err, websocket.ErrQueueFull) && err != errTooMuch && err != errStalled {
			return
		}
		m.h.logf("redisroom: %s: %s: slow client %v dropped: %v", m.h.cfg.Node, m.room.name, m.conn.RemoteAddr(), err)
		go func() {
			err := m.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "too slow"),
				time.Now().Add(time.Second))
			if tc, ok := m.conn.NetConn().(*net.TCPConn); ok && err != nil {
				// The close frame could not even be written: reset
				// the connection rather than leave the kernel
				// trickling megabytes to a reader that stopped.
				tc.SetLinger(0)
			}
			m.conn.Close()
		}()
	})
}

// lineMsg, gapMsg and errorMsg are the JSON messages sent to clients.
type lineMsg struct {
	ID   string `json:"id"`
	Room string `json:"room"`
	Text string `json:"text"`
	Node string `json:"node"`
}

type gapMsg struct {
	Gap    bool   `json:"gap"`
	Oldest string `json:"oldest"`
}

type errorMsg struct {
	Error string `json:"error"`
	Text  string `json:"text"`
}

// prepare frames a line once, as the text message every client of the
// room on this node is sent.
func (h *Hub) prepare(room string, e *entry) (*websocket.PreparedMessage, int) {
	data, _ := json.Marshal(lineMsg{ID: e.id.String(), Room: room, Text: e.text, Node: e.node})
	pm, _ := websocket.NewPreparedMessage(websocket.TextMessage, data)
	return pm, len(data)
}
