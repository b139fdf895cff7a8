package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the load client's own WebSocket code on a raw net.Conn: the
// client handshake, masked frames built once and patched per message, and a
// frame reader that reassembles fragmented server messages. It imports no
// WebSocket library so that no peer is measured against itself.

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// acceptKey is RFC 6455 §4.2.2's Sec-WebSocket-Accept for key.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// dialer spreads connections over several loopback source addresses
// (127.0.0.1, 127.0.0.2, ...) so that many connections, or many short ones,
// do not run out of ephemeral ports on one address.
type dialer struct {
	addr    string
	deflate bool // offer permessage-deflate and require it
	srcs    []*net.Dialer
	next    atomic.Uint32
}

func newDialer(addr string, srcIPs int) *dialer {
	d := &dialer{addr: addr}
	for i := 0; i < max(srcIPs, 1); i++ {
		nd := &net.Dialer{Timeout: 10 * time.Second}
		if srcIPs > 1 {
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		d.srcs = append(d.srcs, nd)
	}
	return d
}

// wsConn is one client connection.
type wsConn struct {
	nc         net.Conn
	br         *bufio.Reader
	deflate    bool     // permessage-deflate was negotiated
	compressed bool     // the last message read had RSV1 (deflate.go)
	inf        inflater // inflates such messages
}

// dialWS connects and performs the opening handshake, checking the status
// and Sec-WebSocket-Accept and that no extension was negotiated.
func (d *dialer) dialWS(readBuf int) (*wsConn, error) {
	nd := d.srcs[int(d.next.Add(1))%len(d.srcs)]
	nc, err := nd.Dial("tcp", d.addr)
	if err != nil {
		return nil, err
	}
	c := &wsConn{nc: nc, br: bufio.NewReaderSize(nc, readBuf), deflate: d.deflate}
	if err := c.handshake(d.addr); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *wsConn) handshake(host string) error {
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET / HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n"
	if c.deflate {
		req += "Sec-WebSocket-Extensions: " + deflateOffer + "\r\n"
	}
	req += "\r\n"
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	if _, err := io.WriteString(c.nc, req); err != nil {
		return err
	}
	status, err := c.br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		return fmt.Errorf("handshake: status %q", strings.TrimSpace(status))
	}
	accept, ext := "", ""
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "sec-websocket-accept":
			accept = strings.TrimSpace(value)
		case "sec-websocket-extensions":
			if !c.deflate {
				return fmt.Errorf("handshake: unexpected extension %q", value)
			}
			ext = strings.TrimSpace(value)
		}
	}
	if c.deflate && !strings.HasPrefix(strings.ToLower(ext), "permessage-deflate") {
		return fmt.Errorf("handshake: permessage-deflate not negotiated (%q)", ext)
	}
	if accept != acceptKey(key) {
		return fmt.Errorf("handshake: bad Sec-WebSocket-Accept %q", accept)
	}
	return nil
}

// close resets the connection (SO_LINGER 0) so that neither side keeps it
// in TIME_WAIT and holds a port.
func (c *wsConn) close() {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.nc.Close()
}

// message is one client message: a masked frame built once, whose first
// seqLen payload bytes carry a sequence number patched in per send, and
// the unmasked payload the echo must equal.
type message struct {
	frame   []byte  // header, mask key, masked payload
	off     int     // payload offset in frame
	key     [4]byte // mask key
	payload []byte  // unmasked payload; payload[:seqLen] holds the last seq
	seqOff  int     // where the seq is in the frame's payload (deflate: after a stored block header)
	hexSeq  bool    // the seq is written as 8 hex digits (valid UTF-8), not binary
}

// putSeq writes seq into p[:seqLen] as m encodes it.
func (m *message) putSeq(p []byte, seq uint64) {
	if m.hexSeq {
		const digits = "0123456789abcdef"
		for i := seqLen - 1; i >= 0; i-- {
			p[i] = digits[seq&15]
			seq >>= 4
		}
		return
	}
	binary.LittleEndian.PutUint64(p, seq)
}

const seqLen = 8

// newMessage builds a message of size bytes (size >= seqLen) with opcode
// op. Its payload is the shared pseudo-random template for that size
// (printable ASCII for text); its mask key is random.
func newMessage(op byte, size int) *message {
	m := &message{payload: slices.Clone(payloadTemplate(size, op == opText))}
	rand.Read(m.key[:])
	hdr := appendHeader(make([]byte, 0, 14+size), op, true, size)
	hdr = append(hdr, m.key[:]...)
	m.off = len(hdr)
	m.frame = append(hdr, m.payload...)
	maskWords(m.key, m.frame[m.off:])
	return m
}

var templates sync.Map // struct{size int; text bool} -> []byte

// payloadTemplate returns the read-only payload of size bytes.
func payloadTemplate(size int, text bool) []byte {
	type key struct {
		size int
		text bool
	}
	if p, ok := templates.Load(key{size, text}); ok {
		return p.([]byte)
	}
	p := make([]byte, size)
	x := uint64(size)*0x9e3779b97f4a7c15 + 1
	for i := 0; i < size; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], x)
		if text {
			for j := range w {
				w[j] = ' ' + w[j]%95
			}
		}
		copy(p[i:], w[:])
	}
	v, _ := templates.LoadOrStore(key{size, text}, p)
	return v.([]byte)
}

// maskWords XORs b with key from key position 0, eight bytes at a time.
func maskWords(key [4]byte, b []byte) {
	k32 := uint64(binary.LittleEndian.Uint32(key[:]))
	k := k32 | k32<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k)
	}
	for ; i < len(b); i++ {
		b[i] ^= key[i&3]
	}
}

// appendHeader appends a masked client frame header without the key.
func appendHeader(b []byte, op byte, fin bool, n int) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	switch {
	case n < 126:
		return append(b, b0, 0x80|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, b0, 0x80|126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, b0, 0x80|127), uint64(n))
	}
}

// maskBytes XORs b with key from key position pos, byte by byte (the
// client masks only the seqLen bytes it patches per message).
func maskBytes(key [4]byte, pos int, b []byte) {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
}

// setSeq writes seq into the message's payload and, masked, into its frame.
func (m *message) setSeq(seq uint64) {
	m.putSeq(m.payload, seq)
	f := m.frame[m.off+m.seqOff : m.off+m.seqOff+seqLen]
	copy(f, m.payload[:seqLen])
	maskBytes(m.key, m.seqOff, f)
}

// appendFrame appends the frame with sequence number seq to b.
func (m *message) appendFrame(b []byte, seq uint64) []byte {
	m.setSeq(seq)
	return append(b, m.frame...)
}

var errVerify = errors.New("echo verification failed")

// readMessage reads one data message (reassembling fragments) into buf,
// growing it as needed, and returns it with its opcode. Server frames must
// be unmasked with RSV bits clear. Pings and pongs are skipped; a close
// frame is an error.
func (c *wsConn) readMessage(buf []byte) (byte, []byte, error) {
	var hdr [10]byte
	buf = buf[:0]
	op := byte(0)
	c.compressed = false
	for {
		if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
			return 0, buf, err
		}
		if c.deflate && op == 0 && hdr[0]&0x70 == 0x40 && hdr[0]&0x0f != opContinuation && hdr[0]&0x08 == 0 {
			c.compressed = true // RFC 7692 §6: RSV1 on a message's first frame
			hdr[0] &^= 0x40
		}
		if hdr[0]&0x70 != 0 || hdr[1]&0x80 != 0 {
			return 0, buf, fmt.Errorf("%w: server frame with RSV or mask bit: %x", errVerify, hdr[:2])
		}
		fin, fop := hdr[0]&0x80 != 0, hdr[0]&0x0f
		n := int64(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(c.br, hdr[2:4]); err != nil {
				return 0, buf, err
			}
			n = int64(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(c.br, hdr[2:10]); err != nil {
				return 0, buf, err
			}
			n = int64(binary.BigEndian.Uint64(hdr[2:10]))
		}
		if n > 1<<30 {
			return 0, buf, fmt.Errorf("%w: frame length %d", errVerify, n)
		}
		if fop >= opClose {
			var ctl [125]byte
			if n > 125 {
				return 0, buf, fmt.Errorf("%w: control frame length %d", errVerify, n)
			}
			if _, err := io.ReadFull(c.br, ctl[:n]); err != nil {
				return 0, buf, err
			}
			if fop == opClose {
				return 0, buf, fmt.Errorf("server sent close %x", ctl[:n])
			}
			continue
		}
		if (op == 0) == (fop == opContinuation) {
			return 0, buf, fmt.Errorf("%w: unexpected opcode %d", errVerify, fop)
		}
		if op == 0 {
			op = fop
		}
		start := len(buf)
		if need := start + int(n); need > cap(buf) {
			buf = append(buf[:cap(buf)], make([]byte, need-cap(buf))...)
		}
		buf = buf[:start+int(n)]
		if _, err := io.ReadFull(c.br, buf[start:]); err != nil {
			return 0, buf, err
		}
		if fin {
			return op, buf, nil
		}
	}
}

// verify checks that got is the echo of m sent with sequence number seq.
func (m *message) verify(op, gotOp byte, got []byte, seq uint64) error {
	if gotOp != op || len(got) != len(m.payload) {
		return fmt.Errorf("%w: got opcode %d, %d bytes; want %d, %d bytes", errVerify, gotOp, len(got), op, len(m.payload))
	}
	var want [seqLen]byte
	m.putSeq(want[:], seq)
	if !bytes.Equal(got[:seqLen], want[:]) {
		return fmt.Errorf("%w: got sequence %x, want %d", errVerify, got[:seqLen], seq)
	}
	if !bytes.Equal(got[seqLen:], m.payload[seqLen:]) {
		return fmt.Errorf("%w: payload differs (%d bytes)", errVerify, len(got))
	}
	return nil
}
