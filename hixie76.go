package websocket

// This file and hixie76_frame.go hold everything specific to the legacy
// protocol of draft-hixie-thewebsocketprotocol-76 (published again
// unchanged as draft-ietf-hybi-thewebsocketprotocol-00), served when
// [Upgrader.EnableHixie76] is set: here the opening handshake with its MD5
// challenge (draft-76 §5.1, §5.2); in hixie76_frame.go the 0x00 ... 0xFF
// framing (§5.3) and the 0xFF 0x00 closing handshake (§6), behind the
// framing interface (framing.go), so a hixie-76 connection is an ordinary
// *Conn with the same locks, buffers, limits and error rules as an RFC 6455
// one, and the RFC 6455 paths never ask which protocol they serve.

import (
	"bufio"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"time"
)

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
func (c *Conn) Hixie76() bool {
	_, ok := c.fr.(*hixie76)
	return ok
}

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
	b = appendHeaderLine(b, "Sec-WebSocket-Origin", origin)
	b = appendHeaderLine(b, "Sec-WebSocket-Location", location)
	b = appendHeaderLine(b, "Sec-WebSocket-Protocol", subprotocol)
	return appendHeaderBlockEnd(b, extra)
}

// hixieParams is what a hixie-76 handshake settles before the connection
// is taken over: the two key parts of the challenge and the two header
// values the draft's response adds.
type hixieParams struct {
	part1, part2     uint32
	origin, location string
}

// checkHixie76 applies hixie-76's own checks to a request isHixie76
// picked (the part Upgrader.prepare runs before the shared negotiation).
func (u *Upgrader) checkHixie76(r *http.Request, p *upgradeParams) (status int, err error) {
	if !u.EnableHixie76 {
		return http.StatusUpgradeRequired, errHixieDisabled
	}
	part1, part2, status, err := checkHixieRequest(r)
	if err != nil {
		return status, err
	}
	p.hixie = &hixieParams{part1: part1, part2: part2}
	return 0, nil
}

// hixieResponse settles the header values only a hixie-76 response has
// (draft-76 §5.2: Sec-WebSocket-Origin echoes the client's Origin;
// Sec-WebSocket-Location is the URL the client opened) and refuses
// caller headers that would repeat them. It ends Upgrader.negotiate for
// hixie-76, in place of the RFC 6455 extensions.
func (u *Upgrader) hixieResponse(r *http.Request, p *upgradeParams) (status int, err error) {
	for _, name := range [...]string{"Sec-Websocket-Origin", "Sec-Websocket-Location"} {
		if _, ok := p.extra[name]; ok {
			return http.StatusInternalServerError, errors.New("websocket: response header " + name + " is set by the Upgrader")
		}
	}
	h := p.hixie
	h.origin = r.Header.Get("Origin")
	h.location = hixieLocation(r)
	if u.Hixie76Location != nil {
		h.location = u.Hixie76Location(r)
	}
	if !validHeaderValue(h.origin) || !validHeaderValue(h.location) || h.location == "" {
		return http.StatusInternalServerError, errors.New("websocket: invalid hixie-76 subprotocol, origin or location value")
	}
	return 0, nil
}

// finishHixie76 answers a hixie-76 handshake on the hijacked connection
// and makes the Conn. The whole answer, writes and the wait for key3, is
// bounded by the handshake timeout: key3 comes after the request, and a
// client that never sends it must not hold this goroutine.
func (u *Upgrader) finishHixie76(netConn net.Conn, brw *bufio.ReadWriter, p *upgradeParams) (*Conn, error) {
	netConn.SetDeadline(time.Now().Add(u.handshakeTimeout()))
	bufp := getBuf(sizeClass(1024, 0))
	h := p.hixie
	resp := appendHixieResponse((*bufp)[:0], h.origin, h.location, p.subprotocol, p.extra)
	err := answerHixie76(netConn, brw.Reader, resp, h)
	if cap(resp) == cap(*bufp) {
		putBuf(sizeClass(1024, 0), bufp)
	}
	if err != nil {
		netConn.Close()
		return nil, err
	}
	netConn.SetDeadline(time.Time{})
	return u.newServerConn(netConn, brw, p), nil
}

// answerHixie76 writes resp, the response header block, and the 16-byte
// answer to the challenge, which needs key3: the 8 bytes after the blank
// line of the request (§5.1). They are no HTTP body (there is no
// Content-Length), so net/http left them in, or will let them arrive
// through, the hijacked reader br. Write order: when key3 is already
// here, headers and answer go out in one write (some clients take the
// blank line as the end of the handshake); when it is not, the headers go
// first, since a proxy such as HAProxy forwards key3 only after it has
// seen the 101.
func answerHixie76(nc net.Conn, br *bufio.Reader, resp []byte, h *hixieParams) error {
	var key3 [8]byte
	if br.Buffered() >= len(key3) {
		io.ReadFull(br, key3[:]) // cannot fail: the bytes are buffered
		sum := hixieChallenge(h.part1, h.part2, key3)
		_, err := nc.Write(append(resp, sum[:]...))
		return err
	}
	if _, err := nc.Write(resp); err != nil {
		return err
	}
	if _, err := io.ReadFull(br, key3[:]); err != nil {
		return fmt.Errorf("websocket: hixie-76 handshake: reading the 8 key3 bytes: %w", err)
	}
	sum := hixieChallenge(h.part1, h.part2, key3)
	_, err := nc.Write(sum[:])
	return err
}
