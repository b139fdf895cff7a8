package main

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
)

// serveRef is the floor: a minimal echo on the raw listener. It answers the
// handshake by hand, then works in one 64 KiB buffer: each read is unmasked
// in place, client frame headers are rewritten as server headers (4 bytes
// shorter, so the output never overtakes the input), and all the echoes
// that one read produced go out in one write. Large frames are streamed
// through the buffer. It validates nothing. It is not a usable server.
func serveRef(ln net.Listener, broadcast bool) error {
	var clients hub[*refConn]
	for {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer nc.Close()
			buf := make([]byte, 64<<10)
			n, err := refHandshake(nc, buf)
			if err != nil {
				return
			}
			if broadcast {
				c := &refConn{Conn: nc}
				clients.add(c)
				defer clients.remove(c)
				refBroadcast(c, buf, n, &clients)
				return
			}
			refEcho(nc, buf, n)
		}()
	}
}

var errRefHandshake = errors.New("ref: bad handshake")

// refHandshake reads the request into buf, writes the 101 response and
// returns how many bytes after the request's end it moved to buf's front.
func refHandshake(c net.Conn, buf []byte) (int, error) {
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return 0, err
		}
		n += m
		end := bytes.Index(buf[:n], []byte("\r\n\r\n"))
		if end < 0 {
			if n == len(buf) {
				return 0, errRefHandshake
			}
			continue
		}
		req := buf[:end]
		i := bytes.Index(req, []byte("Sec-WebSocket-Key:"))
		if i < 0 {
			return 0, errRefHandshake
		}
		key := req[i+len("Sec-WebSocket-Key:"):]
		if j := bytes.IndexByte(key, '\r'); j >= 0 {
			key = key[:j]
		}
		h := sha1.New()
		h.Write(bytes.TrimSpace(key))
		h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		resp := make([]byte, 0, 160)
		resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
		resp = base64.StdEncoding.AppendEncode(resp, h.Sum(nil))
		resp = append(resp, "\r\n\r\n"...)
		if _, err := c.Write(resp); err != nil {
			return 0, err
		}
		rest := copy(buf, buf[end+4:n])
		return rest, nil
	}
}

// refEcho echoes frames, n bytes of which are already at buf's front.
func refEcho(c net.Conn, buf []byte, n int) {
	var (
		remain int64   // payload bytes of the current frame not yet seen
		key    [4]byte // its mask key
		pos    int     // position in the key
	)
	for {
		if n < len(buf) {
			m, err := c.Read(buf[n:])
			if err != nil {
				return
			}
			n += m
		}
		r, w := 0, 0
		for r < n {
			if remain == 0 {
				hl, length, op := refParseHeader(buf[r:n])
				if hl == 0 {
					break // partial header
				}
				if op == 8 {
					return // close: drop the connection
				}
				copy(key[:], buf[r+hl-4:r+hl])
				pos = 0
				buf[w] = buf[r]
				w += refPutLength(buf[w+1:], length) + 1
				r += hl
				remain = length
				continue
			}
			k := n - r
			if int64(k) > remain {
				k = int(remain)
			}
			pos = refMask(key, pos, buf[r:r+k])
			copy(buf[w:], buf[r:r+k])
			w += k
			r += k
			remain -= int64(k)
		}
		if w > 0 {
			if _, err := c.Write(buf[:w]); err != nil {
				return
			}
		}
		n = copy(buf, buf[r:n])
	}
}

// refParseHeader parses a masked client header at b's front. It returns the
// header length (0 if b holds only part of it), the payload length and the
// opcode.
func refParseHeader(b []byte) (hl int, length int64, op byte) {
	if len(b) < 2 {
		return 0, 0, 0
	}
	op = b[0] & 0x0f
	switch l := b[1] & 0x7f; l {
	case 126:
		hl = 2 + 2 + 4
		if len(b) < hl {
			return 0, 0, 0
		}
		length = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		hl = 2 + 8 + 4
		if len(b) < hl {
			return 0, 0, 0
		}
		length = int64(binary.BigEndian.Uint64(b[2:]))
	default:
		hl = 2 + 4
		if len(b) < hl {
			return 0, 0, 0
		}
		length = int64(l)
	}
	return hl, length, op
}

// refPutLength writes the unmasked second header byte and extended length
// into b and returns how many bytes it wrote.
func refPutLength(b []byte, length int64) int {
	switch {
	case length < 126:
		b[0] = byte(length)
		return 1
	case length <= 0xffff:
		b[0] = 126
		binary.BigEndian.PutUint16(b[1:], uint16(length))
		return 3
	default:
		b[0] = 127
		binary.BigEndian.PutUint64(b[1:], uint64(length))
		return 9
	}
}

// refMask XORs b with key starting at key position pos, eight bytes at a
// time, and returns the next position.
func refMask(key [4]byte, pos int, b []byte) int {
	for len(b) > 0 && pos&3 != 0 {
		b[0] ^= key[pos&3]
		b = b[1:]
		pos++
	}
	k32 := uint64(binary.LittleEndian.Uint32(key[:]))
	k := k32 | k32<<32
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
	return (pos + len(b)) & 3
}

type refConn struct {
	net.Conn
	mu sync.Mutex
}

// refBroadcast reads whole messages (frames are not fragmented by the
// benchmark client) and writes each, framed once, to every other client.
func refBroadcast(c *refConn, buf []byte, n int, clients *hub[*refConn]) {
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(append([]byte(nil), buf[:n]...)), c))
	var frame []byte
	for {
		first, key, length, op, err := refReadHeader(br)
		if err != nil || op == 8 {
			return
		}
		frame = frame[:0]
		frame = append(frame, first, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		frame = frame[:1+refPutLength(frame[1:], length)]
		start := len(frame)
		frame = slices.Grow(frame, int(length))[:start+int(length)]
		if _, err := io.ReadFull(br, frame[start:]); err != nil {
			return
		}
		refMask(key, 0, frame[start:])
		clients.others(c, func(o *refConn) {
			o.mu.Lock()
			_, _ = o.Write(frame)
			o.mu.Unlock()
		})
	}
}

// serveRefReadMessage (ref-rm) is the floor for the gorilla idiom: ref's
// handshake, then each message read whole into a slice of its own,
// allocated for it (as ReadMessage must hand its caller), unmasked and
// echoed: a small one copied behind its header into a 4 KiB buffer of the
// connection's and written once, larger ones written as header and slice
// in one writev, so that nothing but the messages in flight is held (a
// larger buffer per connection would make the collector run less often
// and the floor look lower than it is). One frame per message, as the
// benchmark client sends; it validates nothing. What it costs beyond ref
// is the price of the API's fresh slice per message, in any library.
func serveRefReadMessage(ln net.Listener, broadcast bool) error {
	if broadcast {
		return serveRef(ln, true)
	}
	for {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer nc.Close()
			buf := make([]byte, 4<<10)
			n, err := refHandshake(nc, buf)
			if err != nil {
				return
			}
			br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(buf[:n]), nc), 4<<10)
			refEchoMessages(nc, br)
		}()
	}
}

// refEchoMessages is ref-rm's loop.
func refEchoMessages(nc net.Conn, br *bufio.Reader) {
	out := make([]byte, 0, 4<<10)
	for {
		first, key, length, op, err := refReadHeader(br)
		if err != nil || op == 8 {
			return
		}
		p := make([]byte, length) // the message, owned by the "caller"
		if _, err := io.ReadFull(br, p); err != nil {
			return
		}
		refMask(key, 0, p)
		out = append(out[:0], first, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		out = out[:1+refPutLength(out[1:], length)]
		if len(out)+len(p) <= cap(out) {
			_, err = nc.Write(append(out, p...))
		} else {
			bufs := net.Buffers{out, p}
			_, err = bufs.WriteTo(nc)
		}
		if err != nil {
			return
		}
	}
}

// refReadHeader reads one masked client frame header from br and returns
// its first byte, mask key, payload length and opcode.
func refReadHeader(br *bufio.Reader) (first byte, key [4]byte, length int64, op byte, err error) {
	var hdr [14]byte
	if _, err = io.ReadFull(br, hdr[:2]); err != nil {
		return
	}
	need := 4
	switch hdr[1] & 0x7f {
	case 126:
		need += 2
	case 127:
		need += 8
	}
	if _, err = io.ReadFull(br, hdr[2:2+need]); err != nil {
		return
	}
	hl, length, op := refParseHeader(hdr[:2+need])
	copy(key[:], hdr[hl-4:hl])
	return hdr[0], key, length, op, nil
}
