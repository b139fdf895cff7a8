package main

import "time"

// Message rate limit of one client. A tab may send messageBurst messages
// at once and messagesPerSecond on average after that: more than anyone
// types, far less than a script sends. The limit is what keeps one tab
// from flooding every other tab's send queue (sendQueue messages deep):
// with it, a flooder gets at most messageBurst messages, plus
// messagesPerSecond a second, into the room before it is cut off.
const (
	messageBurst      = 10
	messagesPerSecond = 2
)

// rateLimit is the setting of a client's token bucket.
type rateLimit struct {
	perSecond float64 // messages a second, on average
	burst     int     // messages at once
}

// bucket is a token bucket: it holds at most burst tokens, gains rate
// tokens a second, and each message takes one. It is used by one client's
// reading goroutine only, so it has no lock.
type bucket struct {
	rate   float64   // tokens gained per second
	burst  float64   // the most it holds
	tokens float64   // what it holds at last
	last   time.Time // when tokens was last brought up to date
}

// newBucket returns a full bucket.
func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// allow takes a token for a message that arrived at now and reports
// whether there was one.
func (b *bucket) allow(now time.Time) bool {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
