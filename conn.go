package websocket

import (
	"math/bits"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is a WebSocket connection, handed out by [Upgrader.Upgrade].
//
// All methods may be called from any goroutine. Writes of data messages
// are serialized; reading is done by one goroutine at a time (a concurrent
// read returns [ErrConcurrentRead]). See the package documentation for the
// concurrency and buffer-ownership rules.
type Conn struct {
	conn         net.Conn
	raw          syscall.RawConn // set when the socket can wait for bytes without a buffer
	subprotocol  string
	closeTimeout time.Duration
	hixie        *hixieState // non-nil on a draft-hixie-76 connection (hixie76.go)

	// The read side. Everything below readSem is owned by the goroutine
	// that holds readSem (a one-slot semaphore).
	readSem sema
	// closeReading is set while CloseHandshake may hold readSem to read
	// the peer's close; other reads then wait for it (see lockRead).
	closeReading atomic.Bool
	isClient     bool       // made by a Dialer: masks what it sends, refuses masked frames
	readDone     doneSignal // fired once the read side has ended
	readLimit    atomic.Int64

	rclass int     // size class of the read buffer
	rbufp  *[]byte // borrowed read buffer; nil while drained
	rbuf   []byte  // *rbufp
	rr, rw int     // unread bytes are rbuf[rr:rw]

	readErr error // sticky: once set, every read returns it

	// The frame being read.
	fRemain int64 // payload bytes not yet read
	fFin    bool
	fMasked bool
	fKey    [4]byte
	// Two flags of the message being read, here to fill the padding.
	msgOpen    bool // a data message has started and not ended
	msgDeflate bool // the data message being read is compressed (RSV1)
	fKeyPos    int

	// The data message being read.
	msgType int
	msgLen  int64 // payload bytes announced by its frames so far
	utf8    utf8Validator
	readers [2]messageReader // alternate, so a stale reader is detected

	pmd *deflateState // permessage-deflate (compress.go); nil unless negotiated

	rawN       int   // results of rawRead, kept here so the callback
	rawErr     error // does not allocate
	rawFn      func(fd uintptr) bool
	rawState   uint8 // what rawRead does next (read_linux.go)
	rawTryRead bool  // the peer keeps the socket busy: read before any peek
	rawPeek    byte  // MSG_PEEK's landing place
	curRd      uint8 // readers[curRd] is the current one

	handlerMu    sync.Mutex
	pingHandler  func(appData string) error
	pongHandler  func(appData string) error
	closeHandler func(code int, text string) error

	// The write side. msgSem is held for a whole data message (from
	// NextWriter to Close); frameSem is held while bytes go to the socket,
	// so a control frame can slip in between the frames of a message.
	msgSem        sema
	frameSem      sema
	writeDeadline atomic.Int64 // UnixNano; 0 means none
	wclass        int
	wpool         BufferPool // the application's pool, or nil
	writers       [2]messageWriter
	compressLevel atomic.Int32
	compressWrite atomic.Bool
	queue         atomic.Pointer[sendQueue] // QueuePreparedMessage (queue.go); nil until used

	// Guarded by frameSem.
	writeErr   error
	closeSent  atomic.Bool
	curWr      uint8                      // writers[curWr] is the current one
	pendp      *[]byte                    // borrowed buffer of frames held back (write.go)
	pend       []byte                     // the held frames
	pendN      atomic.Int32               // len(pend), readable without frameSem
	readAhead  atomic.Bool                // the read buffer holds unread bytes (a hint)
	flushTimer atomic.Pointer[time.Timer] // made on the first held frame

	closeReceived atomic.Bool
	closed        doneSignal
	closeOnce     sync.Once
	closeErr      error
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
}

// newConn wraps an established connection. pending holds bytes the peer
// sent right after its handshake; they are read before the socket.
func newConn(nc net.Conn, cfg connConfig, pending []byte) *Conn {
	c := &Conn{
		conn:         nc,
		subprotocol:  cfg.subprotocol,
		isClient:     cfg.client,
		closeTimeout: cfg.closeTimeout,
		rclass:       sizeClass(cfg.readBufferSize, defaultBufferSize),
		wclass:       sizeClass(cfg.writeBufferSize, defaultBufferSize),
		wpool:        cfg.writeBufferPool,
	}
	if c.closeTimeout <= 0 {
		c.closeTimeout = defaultCloseTimeout
	}
	limit := cfg.readLimit
	if limit == 0 {
		limit = DefaultReadLimit
	}
	c.readLimit.Store(limit)
	c.readers[0].c, c.readers[1].c = c, c
	c.writers[0].c, c.writers[1].c = c, c
	c.compressLevel.Store(defaultCompressionLevel)
	c.initDeflate(cfg.deflate)
	c.initRaw()
	if len(pending) > 0 {
		class := sizeClass(len(pending), 0)
		if class < c.rclass {
			class = c.rclass
		}
		c.rbufp = getBuf(class)
		c.rbuf = *c.rbufp
		c.rclass = class
		c.rw = copy(c.rbuf, pending)
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
		c.writeDeadline.Store(0)
	} else {
		c.writeDeadline.Store(t.UnixNano())
	}
	return c.conn.SetWriteDeadline(t)
}

func (c *Conn) currentWriteDeadline() time.Time {
	if ns := c.writeDeadline.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// SetReadLimit sets the largest message, in bytes, that the peer may send.
// A larger message is refused from its frame header, before any of it is
// buffered: the peer gets close code 1009 and the read returns
// [ErrReadLimit]. A limit of zero or less removes the limit. The default
// is [DefaultReadLimit] or [Upgrader.ReadLimit].
func (c *Conn) SetReadLimit(limit int64) { c.readLimit.Store(limit) }

// Close closes the underlying connection at once, without the closing
// handshake; blocked reads and writes return errors. Use
// [Conn.CloseHandshake] to close gracefully. Close is idempotent: later
// calls return the first call's result.
func (c *Conn) Close() error {
	c.flushBeforeClose()
	c.closeOnce.Do(func() {
		c.closeErr = c.conn.Close()
		c.closed.fire()
	})
	return c.closeErr
}

// EnableWriteCompression enables and disables compression of the messages
// written after the call, when permessage-deflate was negotiated. It has
// no effect otherwise. Compression starts enabled; messages under
// [Upgrader.CompressionThreshold] are never compressed.
func (c *Conn) EnableWriteCompression(enable bool) { c.compressWrite.Store(enable) }

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
	c.compressLevel.Store(int32(level))
	return nil
}
