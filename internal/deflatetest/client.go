// Package deflatetest is an independent permessage-deflate (RFC 7692)
// client for testing the server side of github.com/hybi/websocket in the
// style of Autobahn|Testsuite groups 12 and 13.
//
// It shares no code with the package under test: it speaks HTTP/1.1 and
// RFC 6455 framing over a raw net.Conn, parses and checks the server's
// Sec-WebSocket-Extensions answer from the client's side of RFC 7692 §7.1,
// compresses with compress/flate (window 15) or with its own LZ77 encoder
// that honours any client_max_window_bits from 8 to 15, and inflates the
// server's messages both with compress/flate and with its own decoder,
// which fails on any back-reference beyond the negotiated
// server_max_window_bits.
package deflatetest

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Opcodes (RFC 6455 §5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// Params are the negotiated permessage-deflate parameters, as the client
// understands the server's answer.
type Params struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int // the window the server's messages may use
	ClientMaxWindowBits     int // the window the client compresses with
}

// Offer is one permessage-deflate offer, written as RFC 7692 §7.1 spells
// the parameters. A zero window means the parameter is absent;
// ClientMaxWindowBits == -1 sends client_max_window_bits without a value.
type Offer struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int
	ClientMaxWindowBits     int
}

func (o Offer) String() string {
	s := "permessage-deflate"
	if o.ServerNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if o.ClientNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	if o.ServerMaxWindowBits != 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(o.ServerMaxWindowBits)
	}
	switch {
	case o.ClientMaxWindowBits < 0:
		s += "; client_max_window_bits"
	case o.ClientMaxWindowBits > 0:
		s += "; client_max_window_bits=" + strconv.Itoa(o.ClientMaxWindowBits)
	}
	return s
}

// Client is one WebSocket connection with permessage-deflate.
type Client struct {
	conn    net.Conn
	br      *bufio.Reader
	Timeout time.Duration

	// Answer is the server's Sec-WebSocket-Extensions value, Negotiated
	// whether it accepted permessage-deflate, Params what it agreed to.
	Answer     string
	Negotiated bool
	Params     Params

	// Level is the compress/flate level used when ClientMaxWindowBits is
	// 15; below that the client's own encoder is used.
	Level int

	fw      *flate.Writer
	fwLevel int
	fwBuf   bytes.Buffer
	encHist []byte // what the server's window holds of our messages
	decHist []byte // what our window holds of the server's messages
}

// Dial opens a WebSocket connection to addr (host:port), offering the
// given Sec-WebSocket-Extensions lines, and checks the answer against
// offers (the offers the lines contain, in order, for validation).
func Dial(addr string, lines []string, offers []Offer) (*Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn, br: bufio.NewReader(conn), Timeout: 10 * time.Second, Level: flate.BestSpeed}
	if err := c.handshake(addr, lines, offers); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the TCP connection.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) handshake(addr string, lines []string, offers []Offer) error {
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	var req strings.Builder
	fmt.Fprintf(&req, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", addr, key)
	for _, l := range lines {
		fmt.Fprintf(&req, "Sec-WebSocket-Extensions: %s\r\n", l)
	}
	req.WriteString("\r\n")
	c.conn.SetDeadline(time.Now().Add(c.Timeout))
	if _, err := io.WriteString(c.conn, req.String()); err != nil {
		return err
	}
	tp := textproto.NewReader(c.br)
	status, err := tp.ReadLine()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		return fmt.Errorf("handshake refused: %q", status)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return err
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got := h.Get("Sec-WebSocket-Accept"); got != base64.StdEncoding.EncodeToString(sum[:]) {
		return fmt.Errorf("bad Sec-WebSocket-Accept %q", got)
	}
	answers := h.Values("Sec-WebSocket-Extensions")
	switch len(answers) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("%d Sec-WebSocket-Extensions lines in the answer", len(answers))
	}
	c.Answer = answers[0]
	p, err := CheckAnswer(c.Answer, offers)
	if err != nil {
		return err
	}
	c.Params, c.Negotiated = p, true
	return nil
}

// CheckAnswer validates a server's permessage-deflate answer from the
// client's side of RFC 7692 §7.1: one element, known parameters once
// each, values where required and in range, and an answer that accepts
// one of the offers (server_no_context_takeover echoed when offered,
// server_max_window_bits no larger than offered, client_max_window_bits
// only when offered and no larger than an offered value).
func CheckAnswer(answer string, offers []Offer) (Params, error) {
	p := Params{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	parts := strings.Split(answer, ";")
	if strings.TrimSpace(parts[0]) != "permessage-deflate" || strings.Contains(answer, ",") {
		return p, fmt.Errorf("answer %q is not one permessage-deflate element", answer)
	}
	seen := map[string]bool{}
	var serverBits, clientBits bool
	for _, part := range parts[1:] {
		name, value, hasValue := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		value = strings.TrimSpace(value)
		if seen[name] {
			return p, fmt.Errorf("answer %q repeats %s", answer, name)
		}
		seen[name] = true
		bits := 0
		if hasValue {
			n, err := strconv.Atoi(value)
			if err != nil || n < 8 || n > 15 || value[0] == '0' {
				return p, fmt.Errorf("answer %q: bad value for %s", answer, name)
			}
			bits = n
		}
		switch name {
		case "server_no_context_takeover":
			if hasValue {
				return p, fmt.Errorf("answer %q: %s takes no value", answer, name)
			}
			p.ServerNoContextTakeover = true
		case "client_no_context_takeover":
			if hasValue {
				return p, fmt.Errorf("answer %q: %s takes no value", answer, name)
			}
			p.ClientNoContextTakeover = true
		case "server_max_window_bits":
			if !hasValue {
				return p, fmt.Errorf("answer %q: %s needs a value", answer, name)
			}
			p.ServerMaxWindowBits, serverBits = bits, true
		case "client_max_window_bits":
			if !hasValue {
				return p, fmt.Errorf("answer %q: %s needs a value in an answer", answer, name)
			}
			p.ClientMaxWindowBits, clientBits = bits, true
		default:
			return p, fmt.Errorf("answer %q: unknown parameter %q", answer, name)
		}
	}
	// Some offer must be accepted by this answer.
	for _, o := range offers {
		if o.ServerNoContextTakeover && !p.ServerNoContextTakeover {
			continue
		}
		if o.ServerMaxWindowBits != 0 && (!serverBits || p.ServerMaxWindowBits > o.ServerMaxWindowBits) {
			continue
		}
		if clientBits && (o.ClientMaxWindowBits == 0 || o.ClientMaxWindowBits > 0 && p.ClientMaxWindowBits > o.ClientMaxWindowBits) {
			continue
		}
		if !clientBits && o.ClientMaxWindowBits > 0 {
			// The server ignored the client's limit: the client still
			// keeps to it (a hint the server may disregard, §7.1.2.2).
			p.ClientMaxWindowBits = o.ClientMaxWindowBits
		}
		return p, nil
	}
	return p, fmt.Errorf("answer %q accepts none of the offers", answer)
}

// ---- framing ----

func (c *Client) writeFrame(fin bool, rsv1 bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	var out []byte
	switch n := len(payload); {
	case n < 126:
		out = append(out, b0, 0x80|byte(n))
	case n <= 0xFFFF:
		out = append(out, b0, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, b0, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	var key [4]byte
	rand.Read(key[:])
	out = append(out, key[:]...)
	for i, b := range payload {
		out = append(out, b^key[i&3])
	}
	return out
}

// SendMessage sends a data message, compressed or not, in frames of frag
// bytes (0: one frame).
func (c *Client) SendMessage(op byte, msg []byte, compress bool, frag int) error {
	payload := msg
	if compress {
		payload = c.Compress(msg)
	}
	var out []byte
	if frag <= 0 || len(payload) <= frag {
		out = c.writeFrame(true, compress, op, payload)
	} else {
		for i := 0; i < len(payload); i += frag {
			end := min(i+frag, len(payload))
			o := byte(OpContinuation)
			if i == 0 {
				o = op
			}
			out = append(out, c.writeFrame(end == len(payload), compress && i == 0, o, payload[i:end])...)
		}
	}
	c.conn.SetWriteDeadline(time.Now().Add(c.Timeout))
	_, err := c.conn.Write(out)
	return err
}

// SendClose sends a close frame with the code.
func (c *Client) SendClose(code int) error {
	_, err := c.conn.Write(c.writeFrame(true, false, OpClose, binary.BigEndian.AppendUint16(nil, uint16(code))))
	return err
}

// Message is a message received from the server.
type Message struct {
	Op         byte
	Compressed bool
	Wire       int // payload bytes on the wire
	Payload    []byte
}

// ReadMessage reads the next data or close message and inflates it,
// checking the server's framing: unmasked, RSV1 only on the first frame
// of a data message, RSV2/RSV3 never, control frames never compressed.
func (c *Client) ReadMessage() (Message, error) {
	var m Message
	var wire []byte
	frames := 0
	c.conn.SetReadDeadline(time.Now().Add(c.Timeout))
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return m, err
		}
		if h[0]&0x30 != 0 || h[1]&0x80 != 0 {
			return m, fmt.Errorf("bad frame header %x", h)
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(c.br, e[:]); err != nil {
				return m, err
			}
			n = uint64(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(c.br, e[:]); err != nil {
				return m, err
			}
			n = binary.BigEndian.Uint64(e[:])
		}
		if n > 64<<20 {
			return m, fmt.Errorf("frame of %d bytes", n)
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c.br, p); err != nil {
			return m, err
		}
		op, rsv1, fin := h[0]&0x0f, h[0]&0x40 != 0, h[0]&0x80 != 0
		if op >= OpClose {
			if rsv1 {
				return m, errors.New("compressed control frame")
			}
			if op == OpClose {
				return Message{Op: OpClose, Payload: p}, nil
			}
			continue
		}
		if frames == 0 {
			if op == OpContinuation {
				return m, errors.New("continuation without a message")
			}
			m.Op, m.Compressed = op, rsv1
			if rsv1 && !c.Negotiated {
				return m, errors.New("RSV1 without negotiation")
			}
		} else if op != OpContinuation || rsv1 {
			return m, fmt.Errorf("frame %d of a message: opcode %d rsv1 %v", frames, op, rsv1)
		}
		frames++
		wire = append(wire, p...)
		if fin {
			break
		}
	}
	m.Wire = len(wire)
	m.Payload = wire
	if m.Compressed {
		out, err := c.Inflate(wire)
		if err != nil {
			return m, err
		}
		m.Payload = out
	}
	return m, nil
}

// ExpectClose reads until the server's close frame and returns its code.
func (c *Client) ExpectClose() (int, error) {
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return 0, err
		}
		if m.Op == OpClose {
			if len(m.Payload) < 2 {
				return 1005, nil
			}
			return int(binary.BigEndian.Uint16(m.Payload)), nil
		}
	}
}

// ---- compression ----

// Compress compresses one message of the client's (RFC 7692 §7.2.1),
// taking over the context unless client_no_context_takeover was agreed.
func (c *Client) Compress(msg []byte) []byte {
	takeover := !c.Params.ClientNoContextTakeover
	if c.Params.ClientMaxWindowBits < 15 {
		if !takeover {
			c.encHist = nil
		}
		out := Encode(c.encHist, msg, 1<<c.Params.ClientMaxWindowBits)
		c.encHist = keepLast(append(c.encHist, msg...), 1<<c.Params.ClientMaxWindowBits)
		return out
	}
	switch {
	case c.fw == nil || c.fwLevel != c.Level:
		c.fw, _ = flate.NewWriter(&c.fwBuf, c.Level)
		c.fwLevel = c.Level
	case !takeover:
		c.fw.Reset(&c.fwBuf)
	}
	c.fwBuf.Reset()
	c.fw.Write(msg)
	c.fw.Flush()
	b := bytes.Clone(c.fwBuf.Bytes())
	return b[:len(b)-4]
}

// Inflate decompresses one message of the server's (RFC 7692 §7.2.2) twice:
// with this package's decoder, which refuses back-references beyond
// server_max_window_bits or the history, and with compress/flate; both must
// agree.
func (c *Client) Inflate(payload []byte) ([]byte, error) {
	window := 1 << c.Params.ServerMaxWindowBits
	var hist []byte
	if !c.Params.ServerNoContextTakeover {
		hist = c.decHist
	}
	data := append(bytes.Clone(payload), 0x00, 0x00, 0xff, 0xff)
	out, err := Decode(hist, data, window)
	if err != nil {
		return nil, fmt.Errorf("inflate (server_max_window_bits=%d): %w", c.Params.ServerMaxWindowBits, err)
	}
	fr := flate.NewReaderDict(bytes.NewReader(data), hist)
	ref, ferr := io.ReadAll(fr)
	if ferr != io.ErrUnexpectedEOF || !bytes.Equal(ref, out) {
		return nil, fmt.Errorf("compress/flate disagrees: %d bytes, %v; decoder %d bytes", len(ref), ferr, len(out))
	}
	c.decHist = keepLast(append(c.decHist, out...), 32<<10)
	return out, nil
}

func keepLast(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append([]byte(nil), b[len(b)-n:]...)
}
