package websocket

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrPongTimeout is matched (with errors.Is) by the error a [Heartbeat]
// reports when the peer did not answer a ping in time.
var ErrPongTimeout = errors.New("websocket: no pong received in time")

var (
	errHeartbeatInterval = errors.New("websocket: heartbeat not started: the interval must be positive")
	errHeartbeatNoPing   = errors.New("websocket: heartbeat not started: the connection's protocol has no ping (the legacy draft-76)")
)

// heartbeatCloseWait bounds the close message a failing heartbeat sends to
// a peer that is probably gone.
const heartbeatCloseWait = time.Second

// Heartbeat pings a connection at a fixed interval and fails the
// connection when the peer stops answering: the loop that every chat
// server writes by hand around a ticker and a read deadline. Start one
// with [StartHeartbeat].
//
// Pongs arrive like every control message: through the goroutine that
// reads. The connection must be read (NextReader or ReadMessage in a loop)
// for the heartbeat to see them.
type Heartbeat struct {
	c        *Conn
	interval time.Duration
	timeout  time.Duration

	lastPong atomic.Int64  // UnixNano of the latest pong
	pong     chan struct{} // a pong arrived (buffered, 1)
	stop     chan struct{} // closed by Stop
	stopOnce sync.Once
	done     chan struct{} // closed when the loop has returned

	err error // set by the loop before done is closed
}

// StartHeartbeat starts a goroutine that sends c a ping every interval
// and fails the connection when no pong arrives within timeout of a ping
// that is not yet answered. Any pong counts as an answer, including an
// unsolicited one (RFC 6455 §5.5.3). A non-positive timeout means
// interval. interval must be positive: with a non-positive interval, or on
// a connection whose protocol has no ping (the legacy draft-76), nothing is started and the returned heartbeat has
// ended already, its [Heartbeat.Err] saying why.
//
// Failing the connection means: the peer is sent a close message with
// status 1001 (going away) and the reason "no pong within <timeout>",
// bounded by one second, and the socket is closed, so that the reading
// goroutine's read returns an error and every later write fails.
// [Heartbeat.Err] then tells why, with an error that matches
// [ErrPongTimeout]. A ping that cannot be written within timeout counts
// as a missing pong.
//
// StartHeartbeat installs a pong handler that records the pong and then
// calls the handler that was set before, so an application's own pong
// handler keeps working; install it before StartHeartbeat, as a later
// [Conn.SetPongHandler] replaces the heartbeat's. The pings are written
// with [Conn.WriteControl], which is safe alongside the application's
// writes.
//
// The goroutine ends when [Heartbeat.Stop] is called, when the
// connection is closed, when its read side has ended (the peer's close
// arrived or a read failed: no pong can be read any more) or when a ping
// fails to be written. It holds nothing after that.
func StartHeartbeat(c *Conn, interval, timeout time.Duration) *Heartbeat {
	if timeout <= 0 {
		timeout = interval
	}
	h := &Heartbeat{
		c:        c,
		interval: interval,
		timeout:  timeout,
		pong:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	switch {
	case interval <= 0:
		h.err = errHeartbeatInterval
	case !c.fr.canPing():
		h.err = errHeartbeatNoPing
	}
	if h.err != nil {
		close(h.done)
		return h
	}
	next := c.PongHandler()
	c.SetPongHandler(func(appData string) error {
		h.lastPong.Store(time.Now().UnixNano())
		select {
		case h.pong <- struct{}{}:
		default:
		}
		return next(appData)
	})
	go h.run()
	return h
}

// Stop ends the heartbeat and waits for its goroutine to return, which
// takes at most the time to finish a ping or close message being written.
// It does not close the connection. The pong handler stays installed and
// only calls the handler that was set before. Stop may be called more than
// once and from any goroutine.
func (h *Heartbeat) Stop() {
	h.stopOnce.Do(func() { close(h.stop) })
	<-h.done
}

// Done returns a channel that is closed when the heartbeat has ended, for
// whatever reason (see [StartHeartbeat]).
func (h *Heartbeat) Done() <-chan struct{} { return h.done }

// Err returns the reason the heartbeat failed the connection, an error
// that matches [ErrPongTimeout]; the reason it never started (a
// non-positive interval, a connection without ping); or nil while it runs
// or when it ended for another reason (Stop, the connection closed or its
// read side ended).
// A reading goroutine whose read fails can use it to tell a dead peer
// from other errors.
func (h *Heartbeat) Err() error {
	select {
	case <-h.done:
		return h.err
	default:
		return nil
	}
}

func (h *Heartbeat) run() {
	defer close(h.done)
	c := h.c
	ticker := time.NewTicker(h.interval)
	defer ticker.Stop()

	// waiting is the send time of the oldest ping not followed by a pong;
	// expired fires timeout after it. Both are zero while nothing is due.
	var waiting time.Time
	var timer *time.Timer
	var expired <-chan time.Time
	disarm := func() {
		if timer != nil {
			timer.Stop()
		}
		waiting, timer, expired = time.Time{}, nil, nil
	}
	defer disarm()
	answered := func() bool {
		return !waiting.IsZero() && h.lastPong.Load() >= waiting.UnixNano()
	}

	for {
		select {
		case <-h.stop:
			return
		case <-c.cl.done.wait():
			return
		case <-c.rd.done.wait():
			return
		case <-h.pong:
			if answered() {
				disarm()
			}
		case <-ticker.C:
			now := time.Now()
			err := c.WriteControl(PingMessage, nil, now.Add(h.timeout))
			if err != nil {
				if isTimeout(err) {
					h.fail(fmt.Errorf("%w: the ping could not be written within %v: %v", ErrPongTimeout, h.timeout, err))
				}
				// Otherwise the connection is closing or already
				// failed; whoever did that reports it.
				return
			}
			if waiting.IsZero() {
				waiting = now
				timer = time.NewTimer(h.timeout)
				expired = timer.C
			}
		case <-expired:
			if answered() {
				// The pong arrived while the timer fired.
				disarm()
				continue
			}
			h.fail(fmt.Errorf("%w: none within %v of a ping", ErrPongTimeout, h.timeout))
			return
		}
	}
}

// fail records err and fails the connection: a close message with 1001
// and the reason, bounded, then the socket is closed.
func (h *Heartbeat) fail(err error) {
	h.err = err
	if errors.Is(err, ErrPongTimeout) {
		h.c.obs.hooks().heartbeatTimeout(h.c, h.timeout)
	}
	reason := "no pong within " + h.timeout.String()
	h.c.WriteControl(CloseMessage, FormatCloseMessage(CloseGoingAway, reason), time.Now().Add(heartbeatCloseWait))
	h.c.Close()
}

// isTimeout reports whether err is a deadline that passed.
func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
