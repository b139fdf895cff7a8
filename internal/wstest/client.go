package wstest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unicode/utf8"
)

// NoStatus is the code [Client.ExpectClose] reports for a close frame with an
// empty payload (RFC 6455 §7.1.5: 1005, which never appears on the wire).
const NoStatus = 1005

// WriteRaw writes b as one Write call, bounded by the client's Timeout.
func (c *Client) WriteRaw(b []byte) error {
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout()))
	_, err := c.conn.Write(b)
	return err
}

// WriteFrame encodes f and writes it as one Write call.
func (c *Client) WriteFrame(f Frame) error { return c.WriteRaw(AppendFrame(nil, f)) }

// WriteChopped writes b in pieces of chop bytes (the last may be shorter),
// sleeping pause between pieces, so the server sees a frame arrive in parts.
func (c *Client) WriteChopped(b []byte, chop int, pause time.Duration) error {
	if chop <= 0 {
		chop = 1
	}
	for len(b) > 0 {
		n := min(chop, len(b))
		if err := c.WriteRaw(b[:n]); err != nil {
			return err
		}
		b = b[n:]
		if len(b) > 0 && pause > 0 {
			time.Sleep(pause)
		}
	}
	return nil
}

// SplitAt cuts b at the given increasing offsets: SplitAt(b, 3, 7) returns
// b[:3], b[3:7], b[7:].
func SplitAt(b []byte, offsets ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, o := range offsets {
		out = append(out, b[prev:o])
		prev = o
	}
	return append(out, b[prev:])
}

// Send writes the frames, each with its own Write call, and fails the test
// on a write error.
func (c *Client) Send(frames ...Frame) {
	c.t.Helper()
	for _, f := range frames {
		if err := c.WriteFrame(f); err != nil {
			c.t.Fatalf("wstest: write %v: %v", f, err)
		}
	}
}

// SendRaw writes b as one Write call and fails the test on error.
func (c *Client) SendRaw(b []byte) {
	c.t.Helper()
	if err := c.WriteRaw(b); err != nil {
		c.t.Fatalf("wstest: write %d raw bytes: %v", len(b), err)
	}
}

// ReadFrame reads the next frame, bounded by the client's Timeout. Bytes
// that arrived with the handshake response are read first. It does not judge
// the frame; the Expect helpers do.
func (c *Client) ReadFrame() (Frame, error) {
	c.conn.SetReadDeadline(time.Now().Add(c.timeout()))
	return readFrame(c.br)
}

// checkServerFrame reports, as test errors, the ways f breaks what RFC 6455
// asks of a server with no extension negotiated.
func (c *Client) checkServerFrame(f Frame) {
	c.t.Helper()
	if f.Masked {
		c.t.Errorf("wstest: server sent a masked frame (RFC 6455 §5.1): %v", f)
	}
	if f.Rsv != 0 {
		c.t.Errorf("wstest: server frame has RSV bits %03b set with no extension: %v", f.Rsv, f)
	}
	switch f.Opcode {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		c.t.Errorf("wstest: server sent reserved opcode %#x: %v", f.Opcode, f)
	}
	if IsControl(f.Opcode) && (!f.Fin || len(f.Payload) > 125) {
		c.t.Errorf("wstest: server sent a fragmented or over-long control frame (RFC 6455 §5.5): %v", f)
	}
	if want := minimalEncoding(len(f.Payload)); f.LenEncoding != want {
		c.t.Errorf("wstest: server used a %v length for %d bytes, want %v (RFC 6455 §5.2)", f.LenEncoding, len(f.Payload), want)
	}
}

// mustReadFrame is ReadFrame that fails the test on error and checks the
// frame.
func (c *Client) mustReadFrame(what string) Frame {
	c.t.Helper()
	f, err := c.ReadFrame()
	if err != nil {
		c.t.Fatalf("wstest: waiting for %s: read frame: %v", what, describeErr(err))
	}
	c.checkServerFrame(f)
	return f
}

// ReadMessage reads the next message: a single control frame (ping or pong),
// or a data frame and its continuations, reassembled. A close frame, or a
// control frame inside a fragmented message, fails the test.
func (c *Client) ReadMessage() (op byte, payload []byte) {
	c.t.Helper()
	f := c.mustReadFrame("a message")
	switch {
	case f.Opcode == OpClose:
		code, reason := parseClose(f.Payload)
		c.t.Fatalf("wstest: got close frame (code %d, reason %q), want a message", code, reason)
	case IsControl(f.Opcode):
		return f.Opcode, f.Payload
	case f.Opcode == OpContinuation:
		c.t.Fatalf("wstest: server sent a continuation frame with no message open: %v", f)
	}
	op, payload = f.Opcode, f.Payload
	for frames := 1; !f.Fin; frames++ {
		f = c.mustReadFrame(fmt.Sprintf("fragment %d of a message", frames+1))
		if f.Opcode != OpContinuation {
			c.t.Fatalf("wstest: fragment %d of a message: got %v, want a continuation frame", frames+1, f)
		}
		payload = append(payload, f.Payload...)
	}
	return op, payload
}

// ExpectMessage reads the next message (see [Client.ReadMessage]) and fails
// the test unless it has opcode op and exactly the payload want.
func (c *Client) ExpectMessage(op byte, want []byte) {
	c.t.Helper()
	gotOp, got := c.ReadMessage()
	if gotOp != op {
		c.t.Fatalf("wstest: got message opcode %#x (%d bytes), want %#x", gotOp, len(got), op)
	}
	if !bytes.Equal(got, want) {
		c.t.Fatalf("wstest: opcode %#x message differs: %s", op, diff(got, want))
	}
}

// ExpectClose reads frames until a close frame, skipping (and logging) data
// and pong frames, and fails the test unless its code is one of codes
// ([NoStatus] stands for an empty payload). It checks that the reason is
// valid UTF-8, and then, without answering the close, that the server ends
// the TCP connection (see [Client.ExpectConnClosed]). It returns the code.
func (c *Client) ExpectClose(codes ...int) int {
	c.t.Helper()
	return c.expectClose(false, codes)
}

// ExpectCloseNext is [Client.ExpectClose] for a server that must send
// nothing before its close frame: any other frame fails the test. Use it to
// check that frames after a protocol error were not answered.
func (c *Client) ExpectCloseNext(codes ...int) int {
	c.t.Helper()
	return c.expectClose(true, codes)
}

func (c *Client) expectClose(strict bool, codes []int) int {
	c.t.Helper()
	var f Frame
	for skipped := 0; ; skipped++ {
		f = c.mustReadFrame(fmt.Sprintf("close %v", codes))
		if f.Opcode == OpClose {
			break
		}
		if strict {
			c.t.Fatalf("wstest: got %v, want the close frame %v next", f, codes)
		}
		c.t.Logf("wstest: skipping %v while waiting for close %v", f, codes)
		if skipped > 1000 {
			c.t.Fatalf("wstest: no close frame after %d other frames", skipped)
		}
	}
	code, reason := parseClose(f.Payload)
	switch {
	case len(f.Payload) == 1:
		c.t.Errorf("wstest: server sent a 1-byte close payload %#x (RFC 6455 §5.5.1)", f.Payload)
	case !utf8.ValidString(reason):
		c.t.Errorf("wstest: server close reason is not valid UTF-8: %q", reason)
	case len(f.Payload) >= 2 && !sendableCloseCode(code):
		c.t.Errorf("wstest: server sent close code %d, which may not be sent (RFC 6455 §7.4)", code)
	}
	ok := false
	for _, want := range codes {
		ok = ok || code == want
	}
	if !ok {
		c.t.Errorf("wstest: got close code %d (reason %q), want one of %v", code, reason, codes)
	}
	c.ExpectConnClosed()
	return code
}

// ExpectConnClosed fails the test unless the server ends the TCP connection
// (a read sees EOF or a reset) within the client's Timeout, without sending
// any further byte.
func (c *Client) ExpectConnClosed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(c.timeout()))
	var extra []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.br.Read(buf)
		extra = append(extra, buf[:n]...)
		if err == nil {
			if len(extra) > 64<<10 {
				break
			}
			continue
		}
		if len(extra) > 0 {
			f, _, perr := ParseFrame(extra)
			c.t.Errorf("wstest: server sent %d bytes after its close frame (first frame %v, parse error %v)", len(extra), f, perr)
		}
		if !isConnEnd(err) {
			c.t.Errorf("wstest: server did not end the TCP connection: read: %v", describeErr(err))
		}
		return
	}
	c.t.Errorf("wstest: server kept sending after its close frame (%d bytes)", len(extra))
}

// ExpectNoFrame fails the test if a frame (or the connection's end) arrives
// within d. It consumes nothing when the check passes.
func (c *Client) ExpectNoFrame(d time.Duration) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(d))
	_, err := c.br.Peek(1)
	c.conn.SetReadDeadline(time.Time{})
	if err == nil {
		f, _ := c.ReadFrame()
		c.t.Fatalf("wstest: got %v, want nothing for %v", f, d)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("wstest: want nothing for %v, got read error %v", d, describeErr(err))
	}
}

// parseClose splits a close payload into code and reason; an empty payload
// gives NoStatus.
func parseClose(p []byte) (code int, reason string) {
	if len(p) < 2 {
		return NoStatus, string(p)
	}
	return int(binary.BigEndian.Uint16(p)), string(p[2:])
}

// sendableCloseCode reports whether an endpoint may put code in a close frame
// (RFC 6455 §7.4.1 and the IANA registry).
func sendableCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// isConnEnd reports whether err means the peer ended the connection: EOF or
// a reset.
func isConnEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// describeErr makes a timeout readable in a failure message.
func describeErr(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("timed out (%v): the server sent nothing", err)
	}
	return err.Error()
}

// diff describes how got differs from want without printing megabytes.
func diff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	clip := func(b []byte) []byte {
		if len(b) > i+16 {
			b = b[:i+16]
		}
		return b[min(i, len(b)):]
	}
	return fmt.Sprintf("got %d bytes, want %d; first difference at offset %d: got % x, want % x",
		len(got), len(want), i, clip(got), clip(want))
}
