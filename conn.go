package websocket

import (
	"math/bits"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a WebSocket connection, handed out by [Upgrader.Upgrade],
// [Upgrader.UpgradeConn] and [Upgrader.Serve] on the server side and by
// [Dialer.Dial] on the client side.
//
// All methods may be called from any goroutine. Writes of data messages
// are serialized; reading is done by one goroutine at a time (a concurrent
// read returns [ErrConcurrentRead]). See the package documentation for the
// concurrency and buffer-ownership rules.
//
// The state is grouped by who owns it (ARCHITECTURE.md): rd, the read side,
// belongs to the goroutine holding rd.sem; wr, the write side, to the
// holders of wr.msgSem and wr.frameSem; hd, the handlers, is one atomic
// pointer to an immutable set; cl, the closing state, is atomics and a
// sync.Once. What is fixed at the handshake
// (the transport, the framing, the subprotocol) is read without a lock.
type Conn struct {
	conn         net.Conn  // the transport's connection: addresses, deadlines, Close
	tr           transport // how bytes are waited for and written (transport.go)
	raw          rawSocket // the raw-socket transport's state, when tr is it (read_*.go)
	fr           framing   // the protocol on the wire: RFC 6455, or hixie-76 (framing.go)
	subprotocol  string
	closeTimeout time.Duration

	rd readSide
	wr writeSide
	hd handlers
	cl closeState

	pmd   *deflateState             // permessage-deflate (compress.go); nil unless negotiated
	obs   *connHooks                // Upgrader.Hooks or Dialer.Hooks (hooks.go); nil unless set
	queue atomic.Pointer[sendQueue] // QueuePreparedMessage (queue.go); nil until used
}

// readSide is the state of reading. sem is a one-slot semaphore held by the
// goroutine that reads (lockRead); every field below it belongs to that
// goroutine, apart from the atomics, which others may read.
type readSide struct {
	sem sema
	// closeReading is set while CloseHandshake may hold sem to read the
	// peer's close; other reads then wait for it (see lockRead).
	closeReading atomic.Bool
	// ahead says the buffer holds unread bytes: a hint for the write
	// side's coalescing (write.go).
	ahead atomic.Bool
	done  doneSignal   // fired once the read side has ended
	limit atomic.Int64 // the read limit; <= 0: none

	class    int     // size class of the read buffer
	bufp     *[]byte // borrowed read buffer; nil while drained
	buf      []byte  // *bufp
	pos, end int     // unread bytes are buf[pos:end]
	err      error   // sticky: once set, every read returns it

	f rfc6455Reader // the RFC 6455 frame being read (read.go)

	// The data message being read, whatever the framing.
	msgType int
	msgLen  int64 // payload bytes announced (RFC 6455) or read (hixie-76) so far
	utf8    utf8Validator
	readers [2]messageReader // alternate, so a stale reader is detected; readers[cur] is current
	cur     uint8
	msgOpen bool // a data message has started and not ended
}

// rfc6455Reader is the RFC 6455 framing's own read state: the frame whose
// payload is being read (RFC 6455 §5.2).
type rfc6455Reader struct {
	remain  int64 // payload bytes not yet read
	keyPos  int
	key     [4]byte
	fin     bool
	masked  bool
	deflate bool // the data message being read is compressed (RSV1, RFC 7692 §6)
}

// writeSide is the state of writing. msgSem is held for a whole data
// message (from NextWriter to Close); frameSem while bytes go to the
// socket, so a control frame can slip in between the frames of a message.
// Fields below frameSem belong to its holder, apart from the atomics.
type writeSide struct {
	msgSem     sema
	frameSem   sema
	deadline   atomic.Int64                  // UnixNano; 0 means none
	flushTimer atomic.Pointer[time.Timer]    // writes held frames (write.go); made on the first
	open       atomic.Pointer[messageWriter] // the writer NextWriter handed out, while open
	owner      atomic.Uint64                 // curg() of the goroutine open was handed to
	level      atomic.Int32                  // flate level for compressed messages
	pendN      atomic.Int32                  // len(pend), readable without frameSem
	rare       atomic.Pointer[writeRare]     // parked pongs, a failure's cause (pong.go); nil until needed
	compress   atomic.Bool                   // compress messages (when negotiated)
	cur        uint8                         // writers[cur] is the current one
	pendCut    bool                          // pend starts inside a frame a write cut (pong.go)
	pongHeld   bool                          // pend holds a pong the reader answered (pong.go); under frameSem
	client     bool                          // made by a Dialer: masks what it sends, refuses masked frames; fixed at the handshake

	class   int        // size class of write buffers
	pool    BufferPool // the application's pool, or nil
	writers [2]messageWriter
	err     error   // sticky: a failed write leaves the stream unknown
	pendp   *[]byte // borrowed buffer of frames held back (write.go)
	pend    []byte  // the held frames
}

// closeState tracks the closing handshake and the end of the connection.
// Its flags are atomics; once guards the closing of the transport.
type closeState struct {
	sent     atomic.Bool // our close frame went out: no more writes
	received atomic.Bool // the peer's close frame arrived
	done     doneSignal  // fired when the transport is closed
	once     sync.Once
	failed   atomic.Bool // a write failure closed it (pong.go): reads report it even with bytes buffered
	err      error       // the transport's Close result, set inside once
}

// connConfig carries the Upgrader's settings to newConn.
type connConfig struct {
	client          bool
	readBufferSize  int
	writeBufferSize int
	writeBufferPool BufferPool
	readLimit       int64
	closeTimeout    time.Duration
	subprotocol     string
	deflate         deflateConfig // permessage-deflate, when negotiated
	hooks           *Hooks
}

// newConn wraps an established connection. pending holds bytes the peer
// sent right after its handshake; they are read before the socket.
func newConn(nc net.Conn, cfg connConfig, pending []byte) *Conn {
	c := &Conn{
		conn:         nc,
		fr:           rfc6455Framing,
		subprotocol:  cfg.subprotocol,
		closeTimeout: cfg.closeTimeout,
	}
	c.wr.client = cfg.client
	c.rd.class = sizeClass(cfg.readBufferSize, defaultBufferSize)
	c.wr.class = sizeClass(cfg.writeBufferSize, defaultBufferSize)
	c.wr.pool = cfg.writeBufferPool
	if c.closeTimeout <= 0 {
		c.closeTimeout = defaultCloseTimeout
	}
	limit := cfg.readLimit
	if limit == 0 {
		limit = defaultReadLimitFor(cfg.deflate.enabled)
	}
	c.rd.limit.Store(limit)
	c.rd.readers[0].c, c.rd.readers[1].c = c, c
	c.wr.writers[0].c, c.wr.writers[1].c = c, c
	c.wr.level.Store(defaultCompressionLevel)
	c.initDeflate(cfg.deflate)
	c.tr = newTransport(c)
	if cfg.hooks != nil {
		c.obs = &connHooks{h: cfg.hooks}
	}
	if len(pending) > 0 {
		class := sizeClass(len(pending), 0)
		if class < c.rd.class {
			class = c.rd.class
		}
		c.rd.bufp = getBuf(class)
		c.rd.buf = *c.rd.bufp
		c.rd.class = class
		c.rd.end = copy(c.rd.buf, pending)
	}
	return c
}

const (
	defaultBufferSize       = 4096
	defaultCloseTimeout     = 5 * time.Second
	defaultCompressionLevel = 1
	// controlWriteWait bounds the pong and close frames the default
	// handlers send, as in gorilla.
	controlWriteWait = time.Second
)

// Buffers come from pools by size class: class i holds 256<<i bytes, up to
// 2 MiB. A size outside the classes is rounded into them.
const (
	minClassShift = 8
	numClasses    = 14
)

var bufPools [numClasses]sync.Pool

// sizeClass returns the class of the smallest pooled buffer that holds n
// bytes (def when n <= 0).
func sizeClass(n, def int) int {
	if n <= 0 {
		n = def
	}
	if n <= 1<<minClassShift {
		return 0
	}
	c := bits.Len(uint(n-1)) - minClassShift
	if c >= numClasses {
		c = numClasses - 1
	}
	return c
}

func getBuf(class int) *[]byte {
	if v, _ := bufPools[class].Get().(*[]byte); v != nil {
		return v
	}
	b := make([]byte, 1<<(class+minClassShift))
	return &b
}

func putBuf(class int, b *[]byte) { bufPools[class].Put(b) }

// Subprotocol returns the subprotocol negotiated in the opening handshake,
// or "" when none was.
func (c *Conn) Subprotocol() string { return c.subprotocol }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// NetConn returns the underlying connection. Reading from or writing to it
// directly corrupts the WebSocket stream; it is meant for settings such as
// TCP options.
func (c *Conn) NetConn() net.Conn { return c.conn }

// UnderlyingConn returns the underlying connection; the same as
// [Conn.NetConn], kept for gorilla compatibility.
//
// Deprecated: Use [Conn.NetConn] instead, as in gorilla.
func (c *Conn) UnderlyingConn() net.Conn { return c.conn }

// SetReadDeadline sets the deadline for reads on the socket, which bounds
// the read methods and the wait for the next frame. A zero value means
// reads do not time out. After a read times out the connection is failed
// for reading: every later read returns the same error.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for writes, including the wait for a
// concurrent writer to finish its message. It applies at once, also to a
// write in progress in another goroutine. A zero value means writes do not
// time out. After a write times out the connection may hold a partial
// frame, so every later write returns the same error.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if t.IsZero() {
		c.wr.deadline.Store(0)
	} else {
		c.wr.deadline.Store(t.UnixNano())
	}
	return c.conn.SetWriteDeadline(t)
}

func (c *Conn) currentWriteDeadline() time.Time {
	if ns := c.wr.deadline.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// SetReadLimit sets the largest message, in bytes, that the peer may send.
// A larger message is refused from its frame header, before any of it is
// buffered: the peer gets close code 1009 and the read returns
// [ErrReadLimit]. A limit of zero or less removes the limit. The default
// is [DefaultReadLimit] or [Upgrader.ReadLimit].
func (c *Conn) SetReadLimit(limit int64) { c.rd.limit.Store(limit) }

// Close closes the underlying connection without the closing handshake;
// blocked reads and writes return errors. Use [Conn.CloseHandshake] to
// close gracefully. Frames held back by the write coalescing (see
// [Conn.WriteMessage]) are written first, for at most 100 ms, so a message
// WriteMessage accepted is not lost to it; a peer that does not read gets
// the socket closed after that. Close is idempotent: later calls return
// the first call's result, which is the error of a held frame's failed
// write when there was one (it had been accepted and was lost).
func (c *Conn) Close() error {
	c.flushBeforeClose()
	first := false
	c.cl.once.Do(func() {
		first = true
		c.cl.err = c.conn.Close()
		if cause := c.writeCause(); cause != nil {
			c.cl.err = cause
		}
		c.cl.done.fire()
	})
	if first && c.obs != nil {
		// Outside the Once: a hook that calls Close again must not
		// deadlock in it.
		c.obs.h.closed(c, c.obs.rec.event())
	}
	return c.cl.err
}

// EnableWriteCompression enables and disables compression of the messages
// written after the call, when permessage-deflate was negotiated. It has
// no effect otherwise. Compression starts enabled; messages under
// [Upgrader.CompressionThreshold] are never compressed.
func (c *Conn) EnableWriteCompression(enable bool) { c.wr.compress.Store(enable) }

// SetCompressionLevel sets the flate level (-2 to 9, see compress/flate)
// for the messages written after the call; the default is 1
// (flate.BestSpeed). Where the client limited server_max_window_bits below
// 15, messages are compressed Huffman-only (no back-references) whatever
// the level. With server context takeover, changing the level starts a new
// compression context, and levels of 2 or more make much better use of
// the history than level 1, which does not look back past the previous
// message and not at all for messages under 128 bytes.
func (c *Conn) SetCompressionLevel(level int) error {
	if level < -2 || level > 9 {
		return errInvalidCompressionLevel
	}
	c.wr.level.Store(int32(level))
	return nil
}
