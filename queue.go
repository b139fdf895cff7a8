package websocket

import (
	"errors"
	"net"
	"runtime"
	"sync"
)

// ErrQueueFull is returned by [Conn.QueuePreparedMessage] when the
// connection already has its limit of messages waiting to be written (see
// [Conn.SetQueueLimit]): the peer reads more slowly than messages are
// queued for it. The message was not queued; the connection is unchanged.
var ErrQueueFull = errors.New("websocket: send queue full")

var errNilPrepared = errors.New("websocket: nil *PreparedMessage")

// DefaultQueueLimit is the number of messages a connection's send queue
// holds before [Conn.QueuePreparedMessage] refuses more.
const DefaultQueueLimit = 1024

// sendQueue holds the messages queued for one connection and the state of
// the goroutine that writes them. It is made on the first queued message,
// so a connection that never queues pays one pointer for it.
type sendQueue struct {
	mu      sync.Mutex
	msgs    []*PreparedMessage // waiting, in order
	spare   []*PreparedMessage // the slice being written, reused
	frames  [][]byte           // the writer's frame list, reused
	running bool               // a writer goroutine owns the queue's tail
	limit   int
	bytes   int   // payload bytes of msgs and of the batch being written
	maxB    int   // the byte limit; 0: none
	err     error // sticky: the write that failed
}

// QueuePreparedMessage queues pm to be written to the connection and
// returns without waiting for the network. It is the broadcast primitive:
// a sender that queues one PreparedMessage on many connections is never
// held up by a slow reader, and the messages that pile up on a connection
// while its earlier ones are being written go out together, in one writev,
// instead of one system call each.
//
// Queued messages are written in the order they were queued, by a small
// set of writer goroutines shared by all connections (at most GOMAXPROCS,
// running only while some queue is not empty) that never block on a
// socket: a connection whose socket is full, or that is busy with a
// message written directly, gets a goroutine of its own until its queue
// is empty. An idle connection holds no goroutine and no buffer for its
// queue. The writes obey the write deadline (see [Conn.SetWriteDeadline]).
// Messages written directly (WriteMessage, NextWriter,
// WritePreparedMessage) are not ordered with queued ones; control frames
// and close frames are written at once, and messages still queued once a
// close frame has gone out are dropped.
//
// QueuePreparedMessage never blocks and may be called from any goroutine.
// It returns [ErrQueueFull] when [Conn.SetQueueLimit] messages, or
// [Conn.SetQueueByteLimit] bytes of payload, are already waiting (the
// message is not queued; a broadcaster usually closes such a connection), and, once a queued write has failed, that write's error,
// for this and every later call: the messages still waiting were dropped.
// That includes a write deadline that passed while the queue waited for a
// message being written directly (NextWriter) to end.
// pm is shared, never copied or modified; it stays referenced until it
// has been written or dropped.
func (c *Conn) QueuePreparedMessage(pm *PreparedMessage) error {
	if pm == nil {
		return errNilPrepared
	}
	q := c.sendQueue()
	q.mu.Lock()
	if q.err != nil {
		err := q.err
		q.mu.Unlock()
		return err
	}
	if len(q.msgs) >= q.limit || q.maxB > 0 && q.bytes > 0 && q.bytes+len(pm.data) > q.maxB {
		limit := q.limit
		q.mu.Unlock()
		c.obs.hooks().queueFull(c, limit)
		return ErrQueueFull
	}
	q.msgs = append(q.msgs, pm)
	q.bytes += len(pm.data)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		scheduleSend(c)
	}
	return nil
}

// SetQueueLimit sets how many messages may wait in the connection's send
// queue (see [Conn.QueuePreparedMessage]); n <= 0 restores
// [DefaultQueueLimit]. Messages already queued stay queued. It may be
// called from any goroutine and does not block.
func (c *Conn) SetQueueLimit(n int) {
	if n <= 0 {
		n = DefaultQueueLimit
	}
	q := c.sendQueue()
	q.mu.Lock()
	q.limit = n
	q.mu.Unlock()
}

// SetQueueByteLimit bounds the payload bytes that may wait in the
// connection's send queue (see [Conn.QueuePreparedMessage]) besides the
// message count of [Conn.SetQueueLimit]; n <= 0 removes the bound, which
// is the default. With the count alone, 1,024 large messages may wait for
// one slow reader (a broadcast shares each PreparedMessage between the
// queues, so what a slow reader keeps alive is distinct data, up to 1,024
// messages of it): a server that queues large messages should set this. A
// message that would take the queue past the bound is refused with
// [ErrQueueFull], unless the queue is empty. Messages already queued stay
// queued. It may be called from any goroutine and does not block.
func (c *Conn) SetQueueByteLimit(n int) {
	if n < 0 {
		n = 0
	}
	q := c.sendQueue()
	q.mu.Lock()
	q.maxB = n
	q.mu.Unlock()
}

// QueueLen returns the number of messages waiting in the connection's send
// queue, not counting those being written. It may be called from any
// goroutine and does not block; the answer may be stale at once.
func (c *Conn) QueueLen() int {
	q := c.queue.Load()
	if q == nil {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

func (c *Conn) sendQueue() *sendQueue {
	if q := c.queue.Load(); q != nil {
		return q
	}
	c.queue.CompareAndSwap(nil, &sendQueue{limit: DefaultQueueLimit})
	return c.queue.Load()
}

// keptQueueCap is the capacity of queue slices kept while the queue is
// empty; larger ones, grown by a burst, are dropped.
const keptQueueCap = 16

// take returns the messages waiting, or nil when there are none; then the
// queue has no writer any more (running is cleared).
func (q *sendQueue) take() []*PreparedMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := q.msgs
	if len(batch) == 0 {
		q.running = false
		q.shrink()
		return nil
	}
	q.msgs = q.spare[:0]
	return batch
}

// done records the outcome of writing batch and reports whether more
// messages are waiting for the same writer; when it returns false the
// queue has no writer any more.
func (q *sendQueue) done(batch []*PreparedMessage, err error) bool {
	n := 0
	for _, pm := range batch {
		n += len(pm.data)
	}
	clear(batch)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.spare = batch[:0]
	q.bytes -= n
	if err != nil {
		q.err = err
		clear(q.msgs)
		q.msgs = q.msgs[:0]
		q.bytes = 0
	}
	if err != nil || len(q.msgs) == 0 {
		q.running = false
		q.shrink()
		return false
	}
	return true
}

// shrink drops slices grown by a burst, so that an idle connection keeps
// none of it. The caller holds q.mu; the queue has no writer.
func (q *sendQueue) shrink() {
	if cap(q.msgs) > keptQueueCap || cap(q.spare) > keptQueueCap || cap(q.frames) > keptQueueCap {
		q.msgs, q.spare, q.frames = nil, nil, nil
	}
}

// drainQueue is the writer of a connection that may block: it writes
// batch (when not nil) and then every message queued, a batch at a time,
// until the queue is empty or a write fails.
func (c *Conn) drainQueue(q *sendQueue, batch []*PreparedMessage) {
	for {
		if batch == nil {
			if batch = q.take(); batch == nil {
				return
			}
		}
		err := c.writePreparedBatch(batch, &q.frames)
		if !q.done(batch, err) {
			return
		}
		batch = nil
	}
}

// The shared writers. A connection with queued messages and no writer of
// its own waits in sched.ready (once: the queue's running flag keeps it
// from being added twice); workers take connections in order and write
// what each has queued with one non-blocking writev.
var sched struct {
	mu      sync.Mutex
	ready   []*Conn // sched.ready[sched.head:] wait
	head    int
	workers int
}

// readyPerWorker is the backlog of connections per running worker beyond
// which another worker starts (up to GOMAXPROCS).
const readyPerWorker = 16

// scheduleSend puts c, which has messages queued, in line for a worker.
func scheduleSend(c *Conn) {
	sched.mu.Lock()
	sched.ready = append(sched.ready, c)
	start := sched.workers == 0 ||
		len(sched.ready)-sched.head > readyPerWorker*sched.workers && sched.workers < runtime.GOMAXPROCS(0)
	if start {
		sched.workers++
	}
	sched.mu.Unlock()
	if start {
		go sendWorker()
	}
}

// sendWorker writes the queues of ready connections until none is left.
func sendWorker() {
	var (
		conns [32]*Conn
		w     writevState
	)
	for {
		sched.mu.Lock()
		n := copy(conns[:], sched.ready[sched.head:])
		clear(sched.ready[sched.head : sched.head+n])
		sched.head += n
		if sched.head == len(sched.ready) {
			if cap(sched.ready) > 4096 {
				sched.ready = nil
			}
			sched.ready, sched.head = sched.ready[:0], 0
		} else if sched.head >= 1024 && 2*sched.head >= len(sched.ready) {
			k := copy(sched.ready, sched.ready[sched.head:])
			clear(sched.ready[k:])
			sched.ready, sched.head = sched.ready[:k], 0
		}
		if n == 0 {
			sched.workers--
			sched.mu.Unlock()
			return
		}
		sched.mu.Unlock()
		for i, c := range conns[:n] {
			conns[i] = nil
			c.sendQueued(&w)
		}
	}
}

// sendQueued is a worker's turn on c: it writes the messages queued with
// one non-blocking writev. Where that cannot be done (c is writing a
// message of its own, the socket is full, or c is not a plain server
// socket) c gets a writer goroutine of its own for the rest.
func (c *Conn) sendQueued(w *writevState) {
	q := c.queue.Load()
	batch := q.take()
	if batch == nil {
		return
	}
	if !c.tryLockWrite(batch) {
		go c.drainQueue(q, batch)
		return
	}
	rest, err := c.writeQueuedLocked(batch, w)
	if rest != nil {
		go func() { // the socket is full: finish in a goroutine that may block
			_, err := rest.WriteTo(c.conn)
			if err != nil {
				// rest starts inside a frame the writev cut: the stream
				// cannot go on.
				err = c.writeFailed(err, true)
			} else if c.obs != nil {
				c.preparedWrittenHook(batch...)
			}
			c.releasePend()
			c.wr.frameSem.release()
			c.wr.msgSem.release()
			if q.done(batch, err) {
				c.drainQueue(q, nil)
			}
		}()
		return
	}
	c.wr.frameSem.release()
	c.wr.msgSem.release()
	if c.obs != nil && err == nil {
		c.preparedWrittenHook(batch...)
	}
	if q.done(batch, err) {
		scheduleSend(c) // more came in meanwhile: back in line
	}
}

// tryLockWrite takes both write slots if c can be written with a
// non-blocking writev (a server socket with a file descriptor, batch of
// data messages only) and nobody is writing to it.
func (c *Conn) tryLockWrite(batch []*PreparedMessage) bool {
	if !haveWritev || c.rawTransport() == nil || !c.fr.sharedFrames() || c.wr.client {
		return false
	}
	for _, pm := range batch {
		if pm.messageType != TextMessage && pm.messageType != BinaryMessage {
			return false
		}
	}
	if !c.wr.msgSem.tryAcquire() {
		return false
	}
	if !c.wr.frameSem.tryAcquire() {
		c.wr.msgSem.release()
		return false
	}
	return true
}

// writeQueuedLocked writes the held frames and batch's frames with one
// non-blocking writev. When the socket took only part, it returns the
// rest, which the caller must write before releasing the write slots. The
// caller holds both write slots.
func (c *Conn) writeQueuedLocked(batch []*PreparedMessage, w *writevState) (net.Buffers, error) {
	if c.cl.sent.Load() {
		return nil, ErrCloseSent
	}
	if c.wr.err != nil {
		return nil, c.wr.err
	}
	all := w.bufs[:0]
	if len(c.wr.pend) > 0 {
		all = append(all, c.wr.pend)
	}
	total := len(c.wr.pend)
	for _, pm := range batch {
		f := c.preparedFrame(pm)
		all = append(all, f)
		total += len(f)
	}
	n, err := w.writev(c.rawTransport(), all)
	var rest net.Buffers
	switch {
	case err != nil:
		err = c.writeFailed(err, n > 0 || c.wr.pendCut)
	case n < total:
		bufs := all
		for len(bufs[0]) <= n { // skip what went out
			n -= len(bufs[0])
			bufs = bufs[1:]
		}
		rest = append(rest, bufs[0][n:])
		rest = append(rest, bufs[1:]...)
	}
	clear(all)
	w.bufs = all[:0]
	if rest == nil {
		c.releasePend()
	}
	return rest, err
}
