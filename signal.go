package websocket

import (
	"sync"
	"sync/atomic"
)

// doneSignal is a channel that is closed once, made only when someone
// waits on it: a connection nobody waits on pays 16 bytes, not a 112-byte
// channel.
type doneSignal struct {
	mu   sync.Mutex
	done bool
	ch   chan struct{}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (d *doneSignal) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return closedChan
	}
	if d.ch == nil {
		d.ch = make(chan struct{})
	}
	return d.ch
}

// fired reports whether fire was called.
func (d *doneSignal) fired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

func (d *doneSignal) fire() {
	d.mu.Lock()
	if !d.done {
		d.done = true
		if d.ch != nil {
			close(d.ch)
		}
	}
	d.mu.Unlock()
}

// sema is a one-slot semaphore that costs 16 bytes until it is first
// contended; from then on it is a buffered channel, so that waiters can
// select on it with a deadline or the connection's close.
type sema struct {
	state atomic.Int32 // semFree, semHeld, or semChan (ch is the semaphore)
	ch    chan struct{}
}

const (
	semFree = iota
	semHeld
	semChan
)

var semaMu sync.Mutex // guards the switch to channel mode (rare)

func (s *sema) tryAcquire() bool {
	if s.state.CompareAndSwap(semFree, semHeld) {
		return true
	}
	if s.state.Load() == semChan {
		select {
		case s.ch <- struct{}{}:
			return true
		default:
		}
	}
	return false
}

// channel switches s to channel mode and returns the channel; a send
// acquires, a receive releases.
func (s *sema) channel() chan struct{} {
	if s.state.Load() == semChan {
		return s.ch
	}
	semaMu.Lock()
	defer semaMu.Unlock()
	for s.state.Load() != semChan {
		ch := make(chan struct{}, 1)
		if s.state.Load() == semHeld {
			ch <- struct{}{} // the token of the current holder
			s.ch = ch
			if s.state.CompareAndSwap(semHeld, semChan) {
				break
			}
		} else {
			s.ch = ch
			if s.state.CompareAndSwap(semFree, semChan) {
				break
			}
		}
	}
	return s.ch
}

func (s *sema) release() {
	if s.state.CompareAndSwap(semHeld, semFree) {
		return
	}
	<-s.ch
}

// held reports whether the semaphore is taken (for tests).
func (s *sema) held() bool {
	switch s.state.Load() {
	case semHeld:
		return true
	case semChan:
		return len(s.ch) == 1
	}
	return false
}
