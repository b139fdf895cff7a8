package websocket

// This file holds everything specific to the legacy protocol of
// draft-hixie-thewebsocketprotocol-76 (published again unchanged as
// draft-ietf-hybi-thewebsocketprotocol-00), served when
// [Upgrader.EnableHixie76] is set: the opening handshake with its MD5
// challenge (draft-76 §5.1, §5.2), the 0x00 ... 0xFF framing (§5.3) and the
// 0xFF 0x00 closing handshake (§6). The rest of the package reaches it
// through one-line hooks guarded by Conn.hixie != nil, so a hixie-76
// connection is an ordinary *Conn with the same locks, buffers, limits and
// error rules as an RFC 6455 one.

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// defaultHixieHandshakeTimeout bounds a hixie-76 handshake when
// [Upgrader.HandshakeTimeout] is zero. Unlike RFC 6455, the draft makes the
// server wait for 8 more bytes (key3) after the request, and a client that
// never sends them must not hold the handler's goroutine forever.
const defaultHixieHandshakeTimeout = 10 * time.Second

var (
	// errHixieUnsupported is returned for binary, ping and pong writes on a
	// hixie-76 connection; errors.Is(err, ErrUnsupportedMessage) holds.
	errHixieUnsupported = fmt.Errorf("%w: a hixie-76 connection sends text messages only", ErrUnsupportedMessage)

	// errHixieInvalidUTF8 is returned for outgoing text that is not UTF-8:
	// a hixie-76 text frame cannot carry it (a 0xFF byte would end the
	// frame), so it is refused instead of sent.
	errHixieInvalidUTF8 = errors.New("websocket: text message is not valid UTF-8 (hixie-76 frames carry UTF-8 only)")

	errHixieDisabled = errors.New("websocket: legacy draft-hixie-76 handshake (Sec-WebSocket-Key1/Key2) refused: hixie-76 support is disabled (Upgrader.EnableHixie76); use RFC 6455, Sec-WebSocket-Version: 13")
)

// Frame bytes of draft-76 §5.3 and §6, never modified.
var (
	hixieOpen        = []byte{0x00}
	hixieEnd         = []byte{0xFF}
	hixieClose       = []byte{0xFF, 0x00}
	hixieEndAndClose = []byte{0xFF, 0xFF, 0x00} // ends an open text frame first
)

// hixieState is the draft-76 part of a Conn, present only on hixie-76
// connections.
type hixieState struct {
	// frameOpen is set while a text frame streamed by NextWriter is open
	// on the wire (its 0x00 went out, its 0xFF not yet), so that a close
	// written meanwhile ends it first. Guarded by frameSem.
	frameOpen bool
}

// Hixie76 reports whether c speaks the legacy draft-hixie-76 protocol
// (accepted only with [Upgrader.EnableHixie76]) rather than RFC 6455.
//
// A hixie-76 connection carries text messages only. Writing a binary,
// ping or pong message returns an error that matches
// [ErrUnsupportedMessage] (errors.Is), text that is not valid UTF-8 is
// refused before any of it is sent, and no ping, pong or close codes exist:
// [Conn.CloseHandshake] and a close message from [Conn.WriteControl] send
// the draft's 0xFF 0x00 closing frame whatever the code, and the peer's
// closing frame is reported to the reader as a [*CloseError] with code
// [CloseNoStatusReceived], as an empty RFC 6455 close would be. Everything
// else (read limits, deadlines, concurrency, NextReader and NextWriter
// streaming, PreparedMessage) works as on an RFC 6455 connection.
func (c *Conn) Hixie76() bool { return c.hixie != nil }

// isHixie76 reports whether an upgrade request is a draft-76 opening
// handshake: it has Sec-WebSocket-Key1 or Sec-WebSocket-Key2, and neither
// the Sec-WebSocket-Version nor the Sec-WebSocket-Key of RFC 6455. Only
// headers are looked at, never the body.
func isHixie76(h http.Header) bool {
	if len(h.Values("Sec-Websocket-Version")) > 0 || len(h.Values("Sec-Websocket-Key")) > 0 {
		return false
	}
	return len(h.Values("Sec-Websocket-Key1")) > 0 || len(h.Values("Sec-Websocket-Key2")) > 0
}

// hixieKeyPart computes part = key-number / spaces for a Sec-WebSocket-Key1
// or Key2 value (draft-76 §5.2 steps on key_1 and key_2): key-number is all
// the key's decimal digits read as one number, other characters ignored,
// and spaces the count of U+0020. The key is refused when it has no digits,
// its number exceeds 4294967295 (accumulated in a uint64, stopping at the
// first digit that overflows), it has no spaces (§5.2: "a symptom of a
// cross-protocol attack") or its number is not an exact multiple of the
// spaces. Keys over 2^31 are normal (Safari sends them): the arithmetic is
// unsigned.
func hixieKeyPart(key string) (uint32, error) {
	var n uint64
	digits, spaces := 0, 0
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c >= '0' && c <= '9':
			n = n*10 + uint64(c-'0')
			if n > math.MaxUint32 {
				return 0, errors.New("key number exceeds 4294967295")
			}
			digits++
		case c == ' ':
			spaces++
		}
	}
	switch {
	case digits == 0:
		return 0, errors.New("key has no digits")
	case spaces == 0:
		return 0, errors.New("key has no spaces")
	case n%uint64(spaces) != 0:
		return 0, errors.New("key number is not a multiple of its number of spaces")
	}
	return uint32(n / uint64(spaces)), nil
}

// hixieChallenge returns the 16-byte answer to the handshake's challenge
// (draft-76 §5.2): MD5 of part1 and part2 as big-endian 32-bit integers
// followed by the 8 bytes of key3.
func hixieChallenge(part1, part2 uint32, key3 [8]byte) [md5.Size]byte {
	var b [16]byte
	binary.BigEndian.PutUint32(b[0:], part1)
	binary.BigEndian.PutUint32(b[4:], part2)
	copy(b[8:], key3[:])
	return md5.Sum(b[:])
}

// checkHixieRequest applies draft-76 §5.1 to a request that isHixie76
// picked (the method, HTTP version and Upgrade/Connection tokens were
// checked by checkUpgradeRequest) and returns the two key parts, or the
// HTTP status to refuse it with.
func checkHixieRequest(r *http.Request) (part1, part2 uint32, status int, err error) {
	if r.Host == "" || !validHeaderValue(r.Host) {
		return 0, 0, http.StatusBadRequest, errors.New("websocket: hixie-76 handshake without a valid Host header")
	}
	if len(r.Header.Values("Origin")) > 1 {
		return 0, 0, http.StatusBadRequest, errors.New("websocket: hixie-76 handshake with more than one Origin header")
	}
	for i, name := range [2]string{"Sec-Websocket-Key1", "Sec-Websocket-Key2"} {
		keys := r.Header.Values(name)
		if len(keys) != 1 {
			return 0, 0, http.StatusBadRequest, errors.New("websocket: hixie-76 handshake needs exactly one " + name + " header")
		}
		part, kerr := hixieKeyPart(keys[0])
		if kerr != nil {
			return 0, 0, http.StatusBadRequest, errors.New("websocket: invalid hixie-76 " + name + ": " + kerr.Error())
		}
		if i == 0 {
			part1 = part
		} else {
			part2 = part
		}
	}
	if len(r.Header.Values("Sec-Websocket-Protocol")) > 1 {
		return 0, 0, http.StatusBadRequest, errors.New("websocket: hixie-76 handshake with more than one Sec-WebSocket-Protocol header")
	}
	return part1, part2, 0, nil
}

// hixieLocation returns the default Sec-WebSocket-Location: the URL the
// client opened, rebuilt from the request as the server sees it (draft-76
// §5.2): wss:// when the request came over TLS, else ws://, then Host and
// the request-URI with its query.
func hixieLocation(r *http.Request) string {
	scheme := "ws://"
	if r.TLS != nil {
		scheme = "wss://"
	}
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		// absolute-form ("GET ws://host/path"), or a request built
		// without RequestURI
		uri = r.URL.RequestURI()
	}
	return scheme + r.Host + uri
}

// appendHixieResponse appends the draft-76 §5.2 response header block, up
// to and including the blank line, without the 16-byte challenge answer.
// "Upgrade: WebSocket" keeps the draft's spelling: strict clients compare it
// byte for byte. origin and subprotocol are left out when empty.
func appendHixieResponse(b []byte, origin, location, subprotocol string, extra http.Header) []byte {
	b = append(b, "HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"...)
	if origin != "" {
		b = append(b, "Sec-WebSocket-Origin: "...)
		b = append(b, origin...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Sec-WebSocket-Location: "...)
	b = append(b, location...)
	b = append(b, "\r\n"...)
	if subprotocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, subprotocol...)
		b = append(b, "\r\n"...)
	}
	for k, vs := range extra {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// upgradeHixie76 is Upgrade for a request that isHixie76 picked.
func (u *Upgrader) upgradeHixie76(w http.ResponseWriter, r *http.Request, responseHeader http.Header) (*Conn, error) {
	if !u.EnableHixie76 {
		return nil, u.refuse(w, r, http.StatusUpgradeRequired, errHixieDisabled)
	}
	part1, part2, status, err := checkHixieRequest(r)
	if err != nil {
		return nil, u.refuse(w, r, status, err)
	}
	checkOrigin := u.CheckOrigin
	if checkOrigin == nil {
		checkOrigin = sameOrigin
	}
	if !checkOrigin(r) {
		return nil, u.refuse(w, r, http.StatusForbidden, errors.New("websocket: request origin not allowed by Upgrader.CheckOrigin"))
	}

	// The draft's client offers one subprotocol and accepts only the same
	// string back, so it is echoed verbatim when the server accepts it.
	var subprotocol string
	if offered := r.Header.Get("Sec-Websocket-Protocol"); u.Subprotocols != nil {
		if offered != "" && slices.Contains(u.Subprotocols, offered) {
			subprotocol = offered
		}
	} else if responseHeader != nil {
		subprotocol = responseHeader.Get("Sec-Websocket-Protocol")
	}
	extra := responseHeader
	if responseHeader != nil {
		extra = responseHeader.Clone()
		delete(extra, "Sec-Websocket-Protocol")
		if err := checkResponseHeader(extra); err != nil {
			return nil, u.refuse(w, r, http.StatusInternalServerError, err)
		}
		for _, name := range [...]string{"Sec-Websocket-Origin", "Sec-Websocket-Location"} {
			if _, ok := extra[name]; ok {
				return nil, u.refuse(w, r, http.StatusInternalServerError, errors.New("websocket: response header "+name+" is set by the Upgrader"))
			}
		}
	}
	origin := r.Header.Get("Origin")
	location := hixieLocation(r)
	if u.Hixie76Location != nil {
		location = u.Hixie76Location(r)
	}
	if !validHeaderValue(subprotocol) || !validHeaderValue(origin) || !validHeaderValue(location) || location == "" {
		return nil, u.refuse(w, r, http.StatusInternalServerError, errors.New("websocket: invalid hixie-76 subprotocol, origin or location value"))
	}

	netConn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, u.refuse(w, r, http.StatusInternalServerError, errors.New("websocket: cannot take over the connection: "+err.Error()))
	}
	// The whole rest of the handshake, writes and the wait for key3, is
	// bounded: key3 comes after the request, and a client that never sends
	// it must not hold this goroutine.
	timeout := u.HandshakeTimeout
	if timeout <= 0 {
		timeout = defaultHixieHandshakeTimeout
	}
	netConn.SetDeadline(time.Now().Add(timeout))

	bufp := getBuf(sizeClass(1024, 0))
	resp := appendHixieResponse((*bufp)[:0], origin, location, subprotocol, extra)
	// key3 is the 8 bytes after the blank line (§5.1). It is no HTTP body
	// (there is no Content-Length), so net/http left it in, or will let it
	// arrive through, the hijacked reader. Write order (HIXIE76.md): when
	// key3 is already here, headers and answer go out in one write (some
	// clients take the blank line as the end of the handshake); when it is
	// not, the headers go first, since a proxy such as HAProxy forwards
	// key3 only after it has seen the 101.
	var key3 [8]byte
	if brw.Reader.Buffered() >= len(key3) {
		io.ReadFull(brw.Reader, key3[:]) // cannot fail: the bytes are buffered
		sum := hixieChallenge(part1, part2, key3)
		resp = append(resp, sum[:]...)
		_, err = netConn.Write(resp)
	} else if _, err = netConn.Write(resp); err == nil {
		if _, err = io.ReadFull(brw.Reader, key3[:]); err != nil {
			err = fmt.Errorf("websocket: hixie-76 handshake: reading the 8 key3 bytes: %w", err)
		} else {
			sum := hixieChallenge(part1, part2, key3)
			_, err = netConn.Write(sum[:])
		}
	}
	if cap(resp) == cap(*bufp) {
		putBuf(sizeClass(1024, 0), bufp)
	}
	if err != nil {
		netConn.Close()
		return nil, err
	}
	netConn.SetDeadline(time.Time{})
	// Frames the client sent right behind key3 are delivered first.
	var pending []byte
	if n := brw.Reader.Buffered(); n > 0 {
		pending, _ = brw.Reader.Peek(n)
	}
	c := newConn(netConn, connConfig{
		readBufferSize:  u.ReadBufferSize,
		writeBufferSize: u.WriteBufferSize,
		writeBufferPool: u.WriteBufferPool,
		readLimit:       u.ReadLimit,
		closeTimeout:    u.CloseTimeout,
		subprotocol:     subprotocol,
	}, pending)
	c.hixie = new(hixieState)
	return c, nil
}

// --- Reading (draft-76 §5.3) ---

// hixieNextReader is nextReader for a hixie-76 conn: it discards the rest
// of the current message, then reads frames until a text frame (type 0x00)
// begins. Frames with the type's high bit set are skipped by their length,
// except 0xFF 0x00, the closing frame; frames of another low type are read
// to their 0xFF and dropped. The read limit bounds every frame and every
// length. The caller holds the read lock.
func (c *Conn) hixieNextReader() (*messageReader, error) {
	if c.readErr != nil {
		return nil, c.readErr
	}
	c.readers[c.curRd].active = false
	if c.msgOpen {
		if err := c.hixieSkipText(true); err != nil {
			return nil, err
		}
		var r messageReader
		if err := c.endMessage(&r); err != nil {
			return nil, err
		}
	}
	for {
		t, err := c.hixieReadByte()
		if err != nil {
			return nil, err
		}
		if t&0x80 != 0 {
			n, err := c.hixieReadLength()
			if err != nil {
				return nil, err
			}
			if t == 0xFF && n == 0 {
				return nil, c.hixieCloseReceived()
			}
			if err := c.hixieSkip(n); err != nil {
				return nil, err
			}
			continue
		}
		c.msgLen = 0
		if t != 0x00 {
			if err := c.hixieSkipText(false); err != nil {
				return nil, err
			}
			continue
		}
		c.msgOpen, c.msgType = true, TextMessage
		c.fRemain, c.fFin = 0, false // no length known: ReadMessage grows as bytes come
		break
	}
	c.curRd ^= 1
	rd := &c.readers[c.curRd]
	rd.active, rd.eof = true, false
	return rd, nil
}

// hixieReadMessageData is readMessageData for a hixie-76 conn: it returns
// the text bytes that are there, up to the frame's 0xFF (which valid UTF-8
// never contains), validated as UTF-8 as they arrive. Invalid UTF-8 fails
// the connection: the draft leaves the server's behaviour undefined
// (§5.4), and closing is the safest choice. The caller holds the read lock.
func (c *Conn) hixieReadMessageData(r *messageReader, p []byte) (int, error) {
	if !r.active {
		return 0, ErrReaderReplaced
	}
	if r.eof {
		return 0, io.EOF
	}
	if c.readErr != nil {
		return 0, c.readErr
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.rr == c.rw {
		if err := c.fill(1); err != nil {
			return 0, err
		}
	}
	buf := c.rbuf[c.rr:c.rw]
	i := bytes.IndexByte(buf, 0xFF)
	end := i >= 0
	if !end {
		i = len(buf)
	}
	if limit := c.readLimit.Load(); limit > 0 && int64(i) > limit-c.msgLen {
		return 0, c.failLimit()
	}
	n := copy(p, buf[:i])
	if !c.utf8.feed(p[:n]) {
		return 0, c.fail(protocolError(CloseInvalidFramePayloadData, "invalid UTF-8 in text message"))
	}
	c.msgLen += int64(n)
	if end && n == i {
		c.consume(n + 1)
		if err := c.endMessage(r); err != nil {
			return 0, err
		}
		return n, io.EOF
	}
	c.consume(n)
	return n, nil
}

// hixieReadByte reads one byte.
func (c *Conn) hixieReadByte() (byte, error) {
	if c.rr == c.rw {
		if err := c.fill(1); err != nil {
			return 0, err
		}
	}
	b := c.rbuf[c.rr]
	c.consume(1)
	return b, nil
}

// hixieReadLength reads the length of a frame whose type has the high bit
// set: 7-bit groups, most significant first, while a byte has 0x80 set.
// The accumulator is bounded by the read limit, and by int64 when there is
// none.
func (c *Conn) hixieReadLength() (int64, error) {
	limit := c.readLimit.Load()
	var n int64
	for {
		b, err := c.hixieReadByte()
		if err != nil {
			return 0, err
		}
		if n > math.MaxInt64>>7 {
			return 0, c.fail(protocolError(CloseMessageTooBig, "hixie-76 frame length overflows"))
		}
		n = n<<7 | int64(b&0x7F)
		if limit > 0 && n > limit {
			return 0, c.failLimit()
		}
		if b&0x80 == 0 {
			return n, nil
		}
	}
}

// hixieSkip discards n bytes.
func (c *Conn) hixieSkip(n int64) error {
	for n > 0 {
		if c.rr == c.rw {
			if err := c.fill(1); err != nil {
				return err
			}
		}
		k := min(int64(c.rw-c.rr), n)
		c.consume(int(k))
		n -= k
	}
	return nil
}

// hixieSkipText discards bytes up to and including the 0xFF that ends the
// current text frame, within the read limit, validating them as UTF-8 when
// they belong to a message.
func (c *Conn) hixieSkipText(validate bool) error {
	limit := c.readLimit.Load()
	for {
		if c.rr == c.rw {
			if err := c.fill(1); err != nil {
				return err
			}
		}
		buf := c.rbuf[c.rr:c.rw]
		i := bytes.IndexByte(buf, 0xFF)
		end := i >= 0
		if !end {
			i = len(buf)
		}
		if limit > 0 && int64(i) > limit-c.msgLen {
			return c.failLimit()
		}
		if validate && !c.utf8.feed(buf[:i]) {
			return c.fail(protocolError(CloseInvalidFramePayloadData, "invalid UTF-8 in text message"))
		}
		c.msgLen += int64(i)
		if end {
			c.consume(i + 1)
			return nil
		}
		c.consume(i)
	}
}

// hixieCloseReceived handles the peer's 0xFF 0x00 (draft-76 §6): the close
// handler runs with CloseNoStatusReceived (the draft's close carries no
// code), the server answers 0xFF 0x00 unless it sent its own already,
// discards whatever follows and closes the TCP connection.
func (c *Conn) hixieCloseReceived() error {
	c.closeReceived.Store(true)
	var err error = &CloseError{Code: CloseNoStatusReceived}
	if herr := c.CloseHandler()(CloseNoStatusReceived, ""); herr != nil {
		err = herr
	}
	c.setReadErr(err)
	c.hixieWriteClose(time.Now().Add(controlWriteWait)) // ErrCloseSent when ours went out
	c.Close()
	return err
}

// --- Writing (draft-76 §5.3, §6) ---

// hixieWrite writes b then extra (see writeLocked) as part of a text frame:
// opens says the bytes start the frame (0x00), ends that they end it
// (0xFF).
func (c *Conn) hixieWrite(b, extra []byte, opens, ends bool) error {
	if err := c.lockFrame(c.currentWriteDeadline()); err != nil {
		return err
	}
	defer func() { <-c.frameSem }()
	if c.closeSent.Load() {
		return ErrCloseSent
	}
	err := c.writeLocked(b, extra)
	if err == nil {
		switch {
		case ends:
			c.hixie.frameOpen = false
		case opens:
			c.hixie.frameOpen = true
		}
	}
	return err
}

// hixieWriteClose sends the closing frame 0xFF 0x00, after a 0xFF that ends
// a text frame NextWriter left open, and then nothing more.
func (c *Conn) hixieWriteClose(deadline time.Time) error {
	if err := c.lockFrame(deadline); err != nil {
		return err
	}
	defer func() { <-c.frameSem }()
	if c.closeSent.Load() {
		return ErrCloseSent
	}
	b := hixieClose
	if c.hixie.frameOpen {
		b = hixieEndAndClose
	}
	if !deadline.Equal(c.currentWriteDeadline()) {
		c.conn.SetWriteDeadline(deadline)
		defer func() { c.conn.SetWriteDeadline(c.currentWriteDeadline()) }()
	}
	err := c.writeLocked(b, nil)
	if err == nil {
		c.hixie.frameOpen = false
		c.closeSent.Store(true)
		c.finishCloseLocked()
	}
	return err
}

// hixieWriteControl is WriteControl for a hixie-76 conn: a close message
// becomes 0xFF 0x00 (its code and reason have no place on the wire); ping
// and pong do not exist.
func (c *Conn) hixieWriteControl(messageType int, data []byte, deadline time.Time) error {
	switch messageType {
	case CloseMessage:
	case PingMessage, PongMessage:
		return errHixieUnsupported
	default:
		return errBadWriteType
	}
	if len(data) > maxControlPayload {
		return errControlTooLong
	}
	return c.hixieWriteClose(deadline)
}

// hixieWriteMessage is WriteMessage for a hixie-76 conn: text goes out as
// 0x00 data 0xFF once it is known to be valid UTF-8.
func (c *Conn) hixieWriteMessage(messageType int, data []byte) error {
	switch messageType {
	case TextMessage:
	case CloseMessage:
		return c.hixieWriteControl(messageType, data, c.currentWriteDeadline())
	case BinaryMessage, PingMessage, PongMessage:
		return errHixieUnsupported
	default:
		return errBadWriteType
	}
	if !utf8.Valid(data) {
		return errHixieInvalidUTF8
	}
	if err := c.acquireMsg(); err != nil {
		return err
	}
	defer func() { <-c.msgSem }()
	if len(data)+2 <= 1<<(c.wclass+minClassShift) {
		bufp := c.getWriteBuf()
		b := append((*bufp)[:0], 0x00)
		b = append(b, data...)
		b = append(b, 0xFF)
		err := c.hixieWrite(b, nil, true, true)
		c.putWriteBuf(bufp)
		return err
	}
	if err := c.hixieWrite(hixieOpen, data, true, false); err != nil {
		return err
	}
	return c.hixieWrite(hixieEnd, nil, false, true)
}

// hixieWriterType is NextWriter's check of the message type on a hixie-76
// conn; it accepts everything on an RFC 6455 conn.
func (c *Conn) hixieWriterType(messageType int) error {
	if c.hixie != nil && messageType == BinaryMessage {
		return errHixieUnsupported
	}
	return nil
}

// hixieWritePrepared is WritePreparedMessage for a hixie-76 conn.
func (c *Conn) hixieWritePrepared(pm *PreparedMessage) error {
	switch pm.messageType {
	case TextMessage:
	case CloseMessage:
		return c.hixieWriteControl(CloseMessage, nil, c.currentWriteDeadline())
	default:
		return errHixieUnsupported
	}
	frame, err := pm.hixieFrame()
	if err != nil {
		return err
	}
	if err := c.acquireMsg(); err != nil {
		return err
	}
	defer func() { <-c.msgSem }()
	return c.hixieWrite(frame, nil, true, true)
}

// hixieFrame returns pm as a hixie-76 text frame, 0x00 data 0xFF, built on
// first use and shared by every hixie-76 conn it is written to.
func (pm *PreparedMessage) hixieFrame() ([]byte, error) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.hixie == nil {
		if !utf8.Valid(pm.data) {
			return nil, errHixieInvalidUTF8
		}
		b := make([]byte, 0, len(pm.data)+2)
		b = append(b, 0x00)
		b = append(b, pm.data...)
		pm.hixie = append(b, 0xFF)
	}
	return pm.hixie, nil
}

// hixieFlush is messageWriter.flush for a hixie-76 conn. The first flush
// opens the frame with 0x00 (in the reserve in front of the payload), the
// final one ends it with 0xFF. Only whole UTF-8 sequences go out: a
// sequence cut by the end of the buffer stays in it for the next Write, so
// the bytes on the wire are valid UTF-8 even if a close ends the frame
// early.
func (w *messageWriter) hixieFlush(fin bool) error {
	data := w.buf[writeReserve:w.n]
	send, ok := len(data), utf8.Valid(data)
	if !fin {
		send, ok = splitUTF8(data)
	}
	if !ok {
		return w.hixieAbort()
	}
	opens := w.op != opContinuation
	start, end := writeReserve, writeReserve+send
	if opens {
		start--
		w.buf[start] = 0x00
	}
	var extra []byte
	if fin {
		if end < len(w.buf) {
			w.buf[end] = 0xFF
			end++
		} else {
			extra = hixieEnd
		}
	}
	err := w.c.hixieWrite(w.buf[start:end], extra, opens, fin)
	w.op = opContinuation
	w.n = writeReserve + copy(w.buf[writeReserve:], data[send:])
	if err != nil {
		w.release()
	}
	return err
}

// hixieFlushDirect is messageWriter.flushDirect for a hixie-76 conn: p
// goes out without a copy, but for an incomplete UTF-8 sequence at its
// end, which is kept in the buffer.
func (w *messageWriter) hixieFlushDirect(p []byte) error {
	send, ok := splitUTF8(p)
	if !ok {
		return w.hixieAbort()
	}
	var err error
	if opens := w.op != opContinuation; opens {
		err = w.c.hixieWrite(hixieOpen, p[:send], true, false)
	} else {
		err = w.c.hixieWrite(p[:send], nil, false, false)
	}
	w.op = opContinuation
	w.n = writeReserve + copy(w.buf[writeReserve:], p[send:])
	if err != nil {
		w.release()
	}
	return err
}

// hixieAbort ends a streamed message whose text is not valid UTF-8. None
// of the invalid bytes is sent; a frame already open on the wire is ended
// with 0xFF, so the peer receives the text written so far and the
// connection stays usable. The writer is released and the error returned.
func (w *messageWriter) hixieAbort() error {
	if w.op == opContinuation {
		w.c.hixieWrite(hixieEnd, nil, false, true)
	}
	w.release()
	return errHixieInvalidUTF8
}

// splitUTF8 returns how many bytes of p may be sent now: all of p but an
// incomplete UTF-8 sequence at its end, which must wait for the bytes that
// complete it. ok is false when p is not valid UTF-8 up to there, or its
// incomplete tail cannot begin a valid sequence.
func splitUTF8(p []byte) (n int, ok bool) {
	n = len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		if c := p[i]; c < 0x80 || c >= 0xC0 {
			if c >= 0xC0 && len(p)-i < seqLen(c) {
				n = i
			}
			break
		}
	}
	if n < len(p) && !validPrefix(p[n:]) {
		return 0, false
	}
	return n, utf8.Valid(p[:n])
}
