package websocket

import (
	"bytes"
	"io"
	"slices"
)

// ReadMessage reads the next data message whole. It is NextReader followed
// by reading the reader to its end; p is a new slice owned by the caller,
// allocated once at the message's size (for an uncompressed message, the
// only allocation). Memory grows with the bytes that actually arrive,
// never past the read limit: a message over 64 KiB, or in several frames,
// is collected in pooled buffers first and copied into p, which is
// allocated whole, and read into directly, once its final frame is at
// most four times what has arrived (on Linux TCP and Unix sockets the
// bytes waiting in the kernel count: a large message already on its way
// is read straight into p). It blocks as NextReader does; one goroutine
// may read at a time.
func (c *Conn) ReadMessage() (messageType int, p []byte, err error) {
	if err := c.lockRead(); err != nil {
		return 0, nil, err
	}
	defer c.unlockRead()
	rd, err := c.fr.nextReader(c)
	if err != nil {
		return 0, nil, err
	}
	messageType = c.rd.msgType
	switch {
	case c.rd.f.deflate:
		// Inflated straight into the result as far as the compressed
		// frame's size (up to 64 KiB), the rest inflated ahead (inflate.go).
		p, err = c.readGrow(rd, make([]byte, 0, min(c.rd.f.remain, directMax)))
	case c.rd.f.fin && c.rd.f.remain <= directMax:
		// One frame of known, modest size: read into the result itself.
		p, err = c.readGrow(rd, make([]byte, 0, c.rd.f.remain))
	default:
		p, err = c.readStaged(rd)
	}
	if err != nil {
		return 0, nil, err
	}
	return messageType, p, nil
}

// directMax is the largest single-frame message ReadMessage allocates
// from the frame header alone and reads straight into. Larger (or
// fragmented) messages go through readStaged, which allocates the result
// only once enough of it has arrived, so a peer that announces much more
// than it sends costs little more than it sends (internal/hostile's stall
// test bounds it).
const directMax = 64 << 10

// readGrow reads the rest of the message of rd into p, growing p as the
// bytes arrive: a compressed message by the size inflated ahead, a plain
// one by at most four times what it holds (and never past what the last
// frame still holds).
func (c *Conn) readGrow(rd *messageReader, p []byte) ([]byte, error) {
	for {
		if len(p) == cap(p) {
			want := max(cap(p), 512)
			if c.rd.f.deflate {
				want = c.inflateGrow(len(p), want)
			} else if c.rd.f.fin {
				want = int(min(c.rd.f.remain, 3*int64(want))) // what the last frame still holds
			}
			p = slices.Grow(p, want)
		}
		n, err := c.fr.readData(c, rd, p[len(p):cap(p)])
		p = p[:len(p)+n]
		if err == io.EOF {
			return p, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// readStaged reads the rest of the message of rd into pooled chunks, each
// at most three times the size of those before it (so memory follows the
// bytes that arrive), and returns them joined into one new slice owned by
// the caller, allocated once at its exact size and not zeroed first
// (bytes.Join): no growth copies, no garbage but the result, and the
// chunks go back to their pool.
//
// In the final frame, as soon as the result would be at most four times
// what has arrived (read, buffered, or waiting in the kernel's receive
// queue: see transport.queued), the result is allocated at its full size
// instead, the chunks copied into it and the rest read straight into it.
// A large message that is already on its way is thus read with no chunk
// at all and no copy; a peer that announces much and sends little still
// costs what it sent.
func (c *Conn) readStaged(rd *messageReader) ([]byte, error) {
	var chunks [stagedChunks]*[]byte
	k, n, total := 0, 0, 0 // chunks used, bytes in the last, bytes in all
	for {
		chunkFull := k == 0 || n == len(*chunks[k-1])
		if c.rd.f.fin && c.mostlyArrived(total, chunkFull) {
			p := appendChunks(make([]byte, 0, int64(total)+c.rd.f.remain), &chunks, k, n)
			putChunks(&chunks, k)
			return c.readGrow(rd, p)
		}
		if chunkFull {
			if k == len(chunks) {
				// Very large: continue in one growing slice.
				p := joinChunks(&chunks, k, n, total)
				putChunks(&chunks, k)
				return c.readGrow(rd, p)
			}
			chunks[k] = getBuf(stagedClass(total, c.rd.f.remain, c.rd.f.fin))
			k, n = k+1, 0
		}
		m, err := c.fr.readData(c, rd, (*chunks[k-1])[n:])
		n += m
		total += m
		if err != nil {
			var p []byte
			if err == io.EOF {
				p, err = joinChunks(&chunks, k, n, total), nil
			}
			putChunks(&chunks, k)
			return p, err
		}
	}
}

// mostlyArrived reports whether the final frame's rest, c.rd.f.remain
// bytes, is small enough for readStaged to allocate the whole message
// after total bytes: the message is at most four times what has arrived.
// The read buffer counts; the kernel's receive queue is asked (a system
// call on a raw socket) only when ask is set.
func (c *Conn) mostlyArrived(total int, ask bool) bool {
	arrived := int64(total + c.rd.end - c.rd.pos)
	if c.rd.f.remain+int64(total) <= 4*arrived {
		return true
	}
	return ask && c.rd.f.remain+int64(total) <= 4*(arrived+int64(c.tr.queued()))
}

// stagedChunks bounds the chunks readStaged collects: from 512 bytes,
// growing by up to four times to 2 MiB each, they hold about 20 MiB.
const stagedChunks = 16

// stagedClass is the size class of readStaged's next chunk after total
// bytes, with remain bytes left in the current frame (the last one when
// fin): at most three times total (one class down when rounding up would
// pass it), and in the final frame no more than readStaged still needs
// before it allocates the result; the first chunk holds the frame up to
// 64 KiB.
func stagedClass(total int, remain int64, fin bool) int {
	if total == 0 {
		want := int(min(remain, directMax))
		if !fin {
			want = max(want, 512)
		}
		return sizeClass(want, 0)
	}
	want := 3 * total
	if fin {
		// No more than readStaged needs before it allocates the result:
		// a quarter of the message.
		want = int(min(int64(want), remain, (int64(total)+remain+3)/4-int64(total)))
		want = max(want, 1)
	}
	class := sizeClass(want, 0)
	if class > 0 && 1<<(class+minClassShift) > 3*total {
		class--
	}
	return class
}

// joinChunks returns the total bytes held by the first k chunks (the last
// holding n) as one new slice, owned by the caller.
func joinChunks(chunks *[stagedChunks]*[]byte, k, n, total int) []byte {
	if total == 0 {
		return []byte{}
	}
	if k == 1 {
		return appendChunks(nil, chunks, k, n) // copies, does not zero
	}
	var parts [stagedChunks][]byte
	for i := range k - 1 {
		parts[i] = *chunks[i]
	}
	parts[k-1] = (*chunks[k-1])[:n]
	return bytes.Join(parts[:k], nil)
}

// appendChunks appends the bytes held by the first k chunks (the last
// holding n) to dst.
func appendChunks(dst []byte, chunks *[stagedChunks]*[]byte, k, n int) []byte {
	for i := range k - 1 {
		dst = append(dst, *chunks[i]...)
	}
	if k > 0 {
		dst = append(dst, (*chunks[k-1])[:n]...)
	}
	return dst
}

// putChunks gives readStaged's first k chunks back to their pools.
func putChunks(chunks *[stagedChunks]*[]byte, k int) {
	for i := range k {
		putBuf(sizeClass(len(*chunks[i]), 0), chunks[i])
		chunks[i] = nil
	}
}
