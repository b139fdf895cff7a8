package websocket

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// ---- limits: what a compressed message can cost ReadMessage ----

// TestCompress_bombUnderDefaultLimit: a 34 KB message that inflates past
// the default read limit ends in ErrReadLimit having allocated about the
// limit once (the pooled chunks it was inflated ahead into), not the
// doubling chain of buffers up to the limit and past it (68 MiB before).
func TestCompress_bombUnderDefaultLimit(t *testing.T) {
	c, nc := pmdPair(t, pmdNoTakeover, 0, 0)
	limit := c.rd.limit.Load()
	bomb := pmdBomb(int(limit>>20) + 1)
	go nc.Write(pmdFrame(true, bitRsv1, opBinary, bomb))
	var before, after runtimeMem
	before.read()
	_, _, err := c.ReadMessage()
	after.read()
	if err != ErrReadLimit {
		t.Fatalf("err = %v, want ErrReadLimit", err)
	}
	got := int64(after.total - before.total)
	t.Logf("%d bytes on the wire, limit %d: allocated %d", len(bomb), limit, got)
	if got > limit+limit/8+1<<20 {
		t.Fatalf("allocated %d bytes to refuse a %d-byte message over a limit of %d", got, len(bomb), limit)
	}
}

// TestCompress_readMessageGrowsOnce: ReadMessage of a compressed message
// much larger than its frame allocates about the message once, and the
// bytes come back intact, whatever the size relative to the 64 KiB chunks
// and to the limit.
func TestCompress_readMessageGrowsOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{300, 4 << 10, 64<<10 - 1, 64 << 10, 64<<10 + 1, 200 << 10, 3 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			msg := pmdText(r, n)
			c, nc := pmdPair(t, pmdNoTakeover, 0, int64(len(msg)))
			var d pmdDeflater
			go nc.Write(pmdFrame(true, bitRsv1, opText, d.compress(msg)))
			var before, after runtimeMem
			before.read()
			typ, got, err := c.ReadMessage()
			after.read()
			if err != nil || typ != TextMessage || !bytes.Equal(got, msg) {
				t.Fatalf("ReadMessage: %v, %d bytes, equal %v", err, len(got), bytes.Equal(got, msg))
			}
			// (Not under -race, whose build of slices.Grow allocates
			// the growth twice.) The read-ahead chunks come from a pool; a
			// collection that emptied it just before costs them anew, up
			// to the message rounded up to the chunk size: 64 KiB of slack.
			if alloc := after.total - before.total; !raceEnabled && n >= 200<<10 && alloc > uint64(len(msg))*5/2+64<<10 {
				t.Fatalf("allocated %d bytes for a %d-byte message", alloc, len(msg))
			}
			// The next message reads normally after one read ahead.
			go nc.Write(pmdFrame(true, bitRsv1, opText, d.compress([]byte("next message, compressed"))))
			if _, got, err := c.ReadMessage(); err != nil || string(got) != "next message, compressed" {
				t.Fatalf("next: %q, %v", got, err)
			}
		})
	}
}

// TestCompress_readAheadInvalidUTF8_closes1007: text that turns invalid
// while inflated ahead fails ReadMessage with 1007, as before.
func TestCompress_readAheadInvalidUTF8_closes1007(t *testing.T) {
	t.Parallel()
	msg := append(bytes.Repeat([]byte("valid text "), 20000), 0xff)
	c, nc := pmdPair(t, pmdNoTakeover, 0, 0)
	var d pmdDeflater
	go nc.Write(pmdFrame(true, bitRsv1, opText, d.compress(msg)))
	if _, _, err := c.ReadMessage(); err == nil {
		t.Fatal("invalid UTF-8 accepted")
	}
}

// TestCompress_defaultReadLimitFor: a connection with permessage-deflate
// gets the smaller default (what newConn applies when no limit was set).
func TestCompress_defaultReadLimitFor(t *testing.T) {
	if got := defaultReadLimitFor(false); got != DefaultReadLimit {
		t.Errorf("without compression: %d", got)
	}
	if got := defaultReadLimitFor(true); got != 4<<20 {
		t.Errorf("with compression: %d", got)
	}
}
