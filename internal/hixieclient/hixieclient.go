// Package hixieclient is an independent draft-hixie-76 (draft-ietf-hybi-00)
// WebSocket client for the library's tests. It has its own handshake, key
// generation, challenge computation and framing code and shares nothing
// with the package under test, so a bug there cannot hide itself by being
// reused here.
//
// [Handshake] generates keys at random the way draft-76 §4.1 tells browsers
// to (1 to 12 spaces, a random multiple, 1 to 12 random non-digit
// characters, spaces never first or last), sends the request and checks
// the whole response: the status line, "Upgrade: WebSocket" byte for byte,
// Connection, Sec-WebSocket-Origin, Sec-WebSocket-Location,
// Sec-WebSocket-Protocol and the 16-byte answer to the challenge.
package hixieclient

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds each read and write of a [Client] unless its
// Timeout field says otherwise.
const DefaultTimeout = 5 * time.Second

// NewKey returns a random Sec-WebSocket-Key1/Key2 value and the part the
// server must derive from it (key number / spaces), built as draft-76 §4.1
// describes.
func NewKey() (key string, part uint32) {
	spaces := 1 + rand.IntN(12)
	max := uint64(4294967295) / uint64(spaces)
	part = uint32(rand.Uint64N(max + 1))
	k := []byte(strconv.FormatUint(uint64(part)*uint64(spaces), 10))
	// 1 to 12 random characters from U+0021-U+002F and U+003A-U+007E.
	for i, n := 0, 1+rand.IntN(12); i < n; i++ {
		var c byte
		if rand.IntN(2) == 0 {
			c = byte(0x21 + rand.IntN(0x2F-0x21+1))
		} else {
			c = byte(0x3A + rand.IntN(0x7E-0x3A+1))
		}
		k = insertAt(k, rand.IntN(len(k)+1), c)
	}
	// The spaces, never at the start or the end.
	for i := 0; i < spaces; i++ {
		k = insertAt(k, 1+rand.IntN(len(k)-1), ' ')
	}
	return string(k), part
}

func insertAt(b []byte, i int, c byte) []byte {
	b = append(b, 0)
	copy(b[i+1:], b[i:])
	b[i] = c
	return b
}

// NewKey3 returns 8 random bytes for key3.
func NewKey3() [8]byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], rand.Uint64())
	return k
}

// Answer returns the 16 bytes the server must answer with: MD5 of part1
// and part2 as big-endian 32-bit integers followed by key3.
func Answer(part1, part2 uint32, key3 [8]byte) [16]byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, part1)
	b = binary.BigEndian.AppendUint32(b, part2)
	b = append(b, key3[:]...)
	return md5.Sum(b)
}

// Options describe the opening handshake.
type Options struct {
	// Host is the Host header; empty means the address dialled.
	Host string
	// Path is the request-URI, query included; empty means "/".
	Path string
	// Origin is the Origin header; empty means "http://" + Host. Use
	// NoOrigin to send none.
	Origin   string
	NoOrigin bool
	// Protocol, when set, is sent as Sec-WebSocket-Protocol.
	Protocol string
	// Secure makes the expected Location start with wss://.
	Secure bool
	// ExtraHeader lines ("Name: value") are added to the request.
	ExtraHeader []string
	// Key3Delay, when positive, sends key3 in a separate write that long
	// after the request headers.
	Key3Delay time.Duration
	// Pipelined bytes are sent in the same write as key3.
	Pipelined []byte
	// Timeout bounds the handshake and, later, each read and write;
	// zero means DefaultTimeout.
	Timeout time.Duration
}

// Client is a hixie-76 connection after a successful handshake.
type Client struct {
	Conn net.Conn
	R    *bufio.Reader

	// Protocol is the Sec-WebSocket-Protocol the server answered with,
	// "" when it sent none.
	Protocol string
	// Header is the server's response header.
	Header textproto.MIMEHeader
	// Timeout bounds each read and write.
	Timeout time.Duration
}

// Dial connects to addr (host:port) and runs the handshake.
func Dial(addr string, o Options) (*Client, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if o.Host == "" {
		o.Host = addr
	}
	c, err := Handshake(nc, o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Handshake runs the opening handshake on nc and checks the response in
// full. On error nc is left open for the caller to inspect or close.
func Handshake(nc net.Conn, o Options) (*Client, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Path == "" {
		o.Path = "/"
	}
	if o.Origin == "" {
		o.Origin = "http://" + o.Host
	}
	key1, part1 := NewKey()
	key2, part2 := NewKey()
	key3 := NewKey3()

	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\n", o.Path)
	fmt.Fprintf(&req, "Upgrade: WebSocket\r\nConnection: Upgrade\r\nHost: %s\r\n", o.Host)
	if !o.NoOrigin {
		fmt.Fprintf(&req, "Origin: %s\r\n", o.Origin)
	}
	fmt.Fprintf(&req, "Sec-WebSocket-Key1: %s\r\n", key1)
	if o.Protocol != "" {
		fmt.Fprintf(&req, "Sec-WebSocket-Protocol: %s\r\n", o.Protocol)
	}
	fmt.Fprintf(&req, "Sec-WebSocket-Key2: %s\r\n", key2)
	for _, line := range o.ExtraHeader {
		req.WriteString(line + "\r\n")
	}
	req.WriteString("\r\n")
	tail := append(key3[:], o.Pipelined...)

	nc.SetDeadline(time.Now().Add(o.Timeout + o.Key3Delay))
	defer nc.SetDeadline(time.Time{})
	if o.Key3Delay > 0 {
		if _, err := nc.Write(req.Bytes()); err != nil {
			return nil, err
		}
		time.Sleep(o.Key3Delay)
		if _, err := nc.Write(tail); err != nil {
			return nil, err
		}
	} else {
		req.Write(tail)
		if _, err := nc.Write(req.Bytes()); err != nil {
			return nil, err
		}
	}

	br := bufio.NewReader(nc)
	tp := textproto.NewReader(br)
	status, err := tp.ReadLine()
	if err != nil {
		return nil, fmt.Errorf("hixieclient: reading the status line: %w", err)
	}
	if status != "HTTP/1.1 101 WebSocket Protocol Handshake" {
		return nil, &StatusError{Line: status}
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("hixieclient: reading the response header: %w", err)
	}
	// Strict clients (Safari 5.0, some embedded ones) compare these byte
	// for byte.
	if v := h.Values("Upgrade"); len(v) != 1 || v[0] != "WebSocket" {
		return nil, fmt.Errorf("hixieclient: Upgrade is %q, want exactly \"WebSocket\"", v)
	}
	if v := h.Values("Connection"); len(v) != 1 || v[0] != "Upgrade" {
		return nil, fmt.Errorf("hixieclient: Connection is %q, want \"Upgrade\"", v)
	}
	if !o.NoOrigin {
		if v := h.Values("Sec-Websocket-Origin"); len(v) != 1 || v[0] != o.Origin {
			return nil, fmt.Errorf("hixieclient: Sec-WebSocket-Origin is %q, want %q", v, o.Origin)
		}
	}
	scheme := "ws://"
	if o.Secure {
		scheme = "wss://"
	}
	if v, want := h.Values("Sec-Websocket-Location"), scheme+o.Host+o.Path; len(v) != 1 || v[0] != want {
		return nil, fmt.Errorf("hixieclient: Sec-WebSocket-Location is %q, want %q (location mismatch)", v, want)
	}
	protocol := ""
	if v := h.Values("Sec-Websocket-Protocol"); len(v) > 0 {
		if len(v) != 1 || v[0] != o.Protocol {
			return nil, fmt.Errorf("hixieclient: Sec-WebSocket-Protocol is %q, want %q", v, o.Protocol)
		}
		protocol = v[0]
	}
	var got [16]byte
	if _, err := io.ReadFull(br, got[:]); err != nil {
		return nil, fmt.Errorf("hixieclient: reading the 16-byte answer: %w", err)
	}
	if want := Answer(part1, part2, key3); got != want {
		return nil, fmt.Errorf("hixieclient: challenge answer %x, want %x (keys %q, %q, key3 %x)", got, want, key1, key2, key3)
	}
	return &Client{Conn: nc, R: br, Protocol: protocol, Header: h, Timeout: o.Timeout}, nil
}

// StatusError is returned by Handshake when the server answered with a
// status other than the hixie-76 101.
type StatusError struct{ Line string }

func (e *StatusError) Error() string { return "hixieclient: status line " + strconv.Quote(e.Line) }

// Code returns the HTTP status code of the line, or 0.
func (e *StatusError) Code() int {
	f := strings.Fields(e.Line)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// WriteRaw writes b as is.
func (c *Client) WriteRaw(b []byte) error {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout()))
	_, err := c.Conn.Write(b)
	return err
}

// WriteText writes one text frame: 0x00, s, 0xFF. s is not checked.
func (c *Client) WriteText(s string) error {
	return c.WriteRaw(append(append([]byte{0x00}, s...), 0xFF))
}

// WriteClose writes the closing frame 0xFF 0x00.
func (c *Client) WriteClose() error { return c.WriteRaw([]byte{0xFF, 0x00}) }

// Frame kinds returned by ReadFrame.
const (
	FrameText   = 0x00
	FrameClose  = 0xFF
	FrameLength = 0x80 // any other type with the high bit set
)

// ReadFrame reads one frame. For a text frame (type byte without the high
// bit) it returns the type and the bytes up to the 0xFF; for a frame with
// a length it returns the type and payload; the closing frame is type
// 0xFF with an empty payload.
func (c *Client) ReadFrame() (typ byte, payload []byte, err error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout()))
	typ, err = c.R.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	if typ&0x80 == 0 {
		payload, err = c.R.ReadBytes(0xFF)
		if err != nil {
			return typ, nil, err
		}
		return typ, payload[:len(payload)-1], nil
	}
	var n uint64
	for {
		b, err := c.R.ReadByte()
		if err != nil {
			return typ, nil, err
		}
		n = n<<7 | uint64(b&0x7F)
		if n > 1<<30 {
			return typ, nil, errors.New("hixieclient: frame length over 1 GiB")
		}
		if b&0x80 == 0 {
			break
		}
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(c.R, payload)
	return typ, payload, err
}

// ReadText reads the next frame and returns its text; any other frame is
// an error.
func (c *Client) ReadText() (string, error) {
	typ, p, err := c.ReadFrame()
	if err != nil {
		return "", err
	}
	if typ != FrameText {
		return "", fmt.Errorf("hixieclient: got a frame of type %#x (%q), want a text frame", typ, p)
	}
	return string(p), nil
}

// ExpectClose reads the server's closing frame 0xFF 0x00 and then the end
// of the connection.
func (c *Client) ExpectClose() error {
	typ, p, err := c.ReadFrame()
	if err != nil {
		return fmt.Errorf("hixieclient: waiting for 0xFF 0x00: %w", err)
	}
	if typ != FrameClose || len(p) != 0 {
		return fmt.Errorf("hixieclient: got a frame of type %#x (%q), want 0xFF 0x00", typ, p)
	}
	return c.ExpectEOF()
}

// ExpectEOF reads until the server closes the connection; any byte is an
// error.
func (c *Client) ExpectEOF() error {
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout()))
	b, err := c.R.ReadByte()
	if err == nil {
		return fmt.Errorf("hixieclient: byte %#x where the connection should have ended", b)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
		return nil
	}
	return fmt.Errorf("hixieclient: waiting for the server to close: %w", err)
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && !oe.Timeout() && strings.Contains(oe.Err.Error(), "reset")
}

// Close runs the client-initiated closing handshake (draft-76 §6): it
// sends 0xFF 0x00, expects 0xFF 0x00 back and the server to close the
// connection, then closes its end.
func (c *Client) Close() error {
	err := c.WriteClose()
	if err == nil {
		err = c.ExpectClose()
	}
	c.Conn.Close()
	return err
}
