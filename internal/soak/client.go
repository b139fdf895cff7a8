package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hybi/websocket/internal/hixieclient"
)

// The soak's clients: a small RFC 6455 client written here (masking,
// fragmentation, permessage-deflate through compress/flate), and the
// hixie-76 client of internal/hixieclient. Neither shares code with the
// package under test.

// event is what a client reads: a data message, a pong or a close.
type event struct {
	kind    eventKind
	text    bool
	payload []byte
	code    int
	reason  string
}

type eventKind int

const (
	evData eventKind = iota
	evPong
	evClose
)

// wsConn is one client connection. One goroutine writes (writeMessage,
// writeClose) while another reads (readEvent, expectEOF); writeClose may
// also be called by the reader once the writer is done.
type wsConn interface {
	// writeMessage sends a data message; a non-nil ping is sent inside it
	// (between two fragments) or right before it.
	writeMessage(text bool, p, ping []byte) error
	writeClose(code int, reason string) error
	readEvent() (event, error)
	expectEOF() error
	close()
}

// ---- RFC 6455 ----

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

type rfcConn struct {
	nc      net.Conn
	br      *bufio.Reader
	deflate bool
	timeout time.Duration

	wmu  sync.Mutex // writes come from the writer, and the reader's close reply
	rng  *rand.Rand // guarded by wmu
	wbuf []byte     // guarded by wmu

	compressedSent, compressedRecv int64 // owned by the writer and the reader

	// The message being read, kept across readEvent calls: a pong may
	// come between two of its fragments. Owned by the reader.
	msg                    []byte
	open, text, compressed bool
}

// rfcHandshake runs the opening handshake on nc, offering
// permessage-deflate when deflate is set, and checks the 101.
func rfcHandshake(nc net.Conn, host, path string, deflate bool, timeout time.Duration, seed uint64) (*rfcConn, error) {
	rng := rand.New(rand.NewPCG(seed, 0x50a4))
	var k [16]byte
	binary.LittleEndian.PutUint64(k[:], rng.Uint64())
	binary.LittleEndian.PutUint64(k[8:], rng.Uint64())
	key := base64.StdEncoding.EncodeToString(k[:])
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", path, host, key)
	if deflate {
		req.WriteString("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n")
	}
	req.WriteString("\r\n")
	nc.SetDeadline(time.Now().Add(timeout))
	defer nc.SetDeadline(time.Time{})
	if _, err := io.WriteString(nc, req.String()); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("handshake status %q", resp.Status)
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	if deflate {
		// Messages are inflated one by one, so the server must not keep
		// its context; the client never keeps its own.
		if !strings.HasPrefix(ext, "permessage-deflate") || !strings.Contains(ext, "server_no_context_takeover") {
			return nil, fmt.Errorf("Sec-WebSocket-Extensions %q, want permessage-deflate with server_no_context_takeover", ext)
		}
	} else if ext != "" {
		return nil, fmt.Errorf("Sec-WebSocket-Extensions %q, none offered", ext)
	}
	return &rfcConn{nc: nc, br: br, deflate: deflate, timeout: timeout, rng: rng}, nil
}

// writeFrame masks and sends one frame. The caller holds wmu.
func (c *rfcConn) writeFrame(fin, rsv1 bool, op byte, p []byte) error {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	b := append(c.wbuf[:0], b0)
	switch n := len(p); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], c.rng.Uint32()|1)
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, p...)
	for i := range b[start:] {
		b[start+i] ^= key[i&3]
	}
	c.wbuf = b
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.nc.Write(b)
	if cap(c.wbuf) > 128<<10 {
		c.wbuf = nil // do not keep a big buffer per idle connection
	}
	return err
}

func (c *rfcConn) writeMessage(text bool, p, ping []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	op := byte(2)
	if text {
		op = 1
	}
	rsv1 := false
	if c.deflate && c.rng.IntN(4) != 0 {
		p = deflateMessage(p)
		rsv1 = true
		c.compressedSent++
	}
	// Fragment one message in three, when it is long enough.
	var frags [][]byte
	if len(p) > 64 && c.rng.IntN(3) == 0 {
		cut1 := 1 + c.rng.IntN(len(p)-1)
		cut2 := cut1 + c.rng.IntN(len(p)-cut1)
		frags = [][]byte{p[:cut1], p[cut1:cut2], p[cut2:]}
	} else {
		frags = [][]byte{p}
		if ping != nil {
			if err := c.writeFrame(true, false, 0x9, ping); err != nil {
				return err
			}
			ping = nil
		}
	}
	for i, f := range frags {
		fop := byte(0)
		if i == 0 {
			fop = op
		}
		if err := c.writeFrame(i == len(frags)-1, rsv1 && i == 0, fop, f); err != nil {
			return err
		}
		if i == 0 && ping != nil {
			if err := c.writeFrame(true, false, 0x9, ping); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *rfcConn) writeClose(code int, reason string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return c.writeFrame(true, false, 0x8, append(p, reason...))
}

// readFrame reads one server frame; server frames are never masked.
func (c *rfcConn) readFrame() (fin, rsv1 bool, op byte, p []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(c.br, h[:]); err != nil {
		return
	}
	fin, rsv1, op = h[0]&0x80 != 0, h[0]&0x40 != 0, h[0]&0x0F
	if h[0]&0x30 != 0 || h[1]&0x80 != 0 {
		return fin, rsv1, op, nil, fmt.Errorf("server frame header %#x %#x: RSV2/RSV3 or mask bit set", h[0], h[1])
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var e [2]byte
		if _, err = io.ReadFull(c.br, e[:]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err = io.ReadFull(c.br, e[:]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	if n > 16<<20 {
		return fin, rsv1, op, nil, fmt.Errorf("server frame of %d bytes", n)
	}
	p = make([]byte, n)
	_, err = io.ReadFull(c.br, p)
	return
}

func (c *rfcConn) readEvent() (event, error) {
	c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	for {
		fin, rsv1, op, p, err := c.readFrame()
		if err != nil {
			return event{}, err
		}
		switch op {
		case 0x8:
			ev := event{kind: evClose, code: 1005}
			if len(p) >= 2 {
				ev.code, ev.reason = int(binary.BigEndian.Uint16(p)), string(p[2:])
			}
			return ev, nil
		case 0xA:
			return event{kind: evPong, payload: p}, nil
		case 0x9:
			continue // the server sends no pings; a pong would race our writer
		case 0x0:
			if !c.open {
				return event{}, errors.New("continuation frame without a message")
			}
			if rsv1 {
				return event{}, errors.New("RSV1 on a continuation frame")
			}
			c.msg = append(c.msg, p...)
		case 0x1, 0x2:
			if c.open {
				return event{}, errors.New("new message inside a fragmented one")
			}
			if rsv1 && !c.deflate {
				return event{}, errors.New("RSV1 without permessage-deflate")
			}
			c.open, c.text, c.compressed, c.msg = true, op == 0x1, rsv1, p
		default:
			return event{}, fmt.Errorf("opcode %#x", op)
		}
		if fin {
			msg := c.msg
			c.open, c.msg = false, nil
			if c.compressed {
				c.compressedRecv++
				var err error
				if msg, err = inflateMessage(msg); err != nil {
					return event{}, err
				}
			}
			return event{kind: evData, text: c.text, payload: msg}, nil
		}
	}
}

func (c *rfcConn) expectEOF() error {
	c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	var b [1]byte
	n, err := c.br.Read(b[:])
	if n > 0 {
		return fmt.Errorf("byte %#x after the close frame", b[0])
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("waiting for the server to close the connection: %w", err)
}

func (c *rfcConn) close() { c.nc.Close() }

// ---- permessage-deflate, client side ----

var (
	deflaters sync.Pool // *flate.Writer at BestSpeed
	inflaters sync.Pool // io.ReadCloser from flate.NewReader
	// compressSem bounds the flate writers in use at once: each holds
	// about 1.2 MB, and thousands of goroutines could otherwise each hold
	// one while waiting for a CPU.
	compressSem = make(chan struct{}, 8*runtime.GOMAXPROCS(0))
)

// deflateMessage compresses p as RFC 7692 §7.2.1 says: DEFLATE, sync
// flush, the final 0x00 0x00 0xff 0xff removed. No context is kept.
func deflateMessage(p []byte) []byte {
	compressSem <- struct{}{}
	defer func() { <-compressSem }()
	var b bytes.Buffer
	b.Grow(len(p)/2 + 64)
	fw, _ := deflaters.Get().(*flate.Writer)
	if fw == nil {
		fw, _ = flate.NewWriter(&b, flate.BestSpeed)
	} else {
		fw.Reset(&b)
	}
	fw.Write(p)
	fw.Flush()
	deflaters.Put(fw)
	out := b.Bytes()
	return out[:len(out)-4]
}

var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflateMessage reverses deflateMessage, for a server that keeps no
// context between messages.
func inflateMessage(p []byte) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail))
	fr, _ := inflaters.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(src)
	} else if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(fr, 1<<20))
	inflaters.Put(fr)
	if err != nil {
		return nil, fmt.Errorf("inflating a %d-byte compressed message: %w", len(p), err)
	}
	return out, nil
}

// ---- hixie-76 ----

type hixieConn struct{ c *hixieclient.Client }

func (h hixieConn) writeMessage(text bool, p, ping []byte) error {
	if !text || ping != nil {
		return errors.New("hixie-76 carries text only, without pings")
	}
	return h.c.WriteText(string(p))
}

func (h hixieConn) writeClose(int, string) error { return h.c.WriteClose() }

func (h hixieConn) readEvent() (event, error) {
	typ, p, err := h.c.ReadFrame()
	if err != nil {
		return event{}, err
	}
	switch {
	case typ == hixieclient.FrameText:
		return event{kind: evData, text: true, payload: p}, nil
	case typ == hixieclient.FrameClose && len(p) == 0:
		return event{kind: evClose, code: 1005}, nil
	}
	return event{}, fmt.Errorf("hixie-76 frame of type %#x (%d bytes)", typ, len(p))
}

func (h hixieConn) expectEOF() error { return h.c.ExpectEOF() }

func (h hixieConn) close() { h.c.Conn.Close() }
