package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// keyGUID is appended to the client's key to form the accept key
// (RFC 6455 §1.3, §4.2.2).
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// computeAcceptKey returns the Sec-WebSocket-Accept value for a
// Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
func computeAcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(keyGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// handshakeRequest is what an RFC 6455 opening handshake yields once it has
// been checked.
type handshakeRequest struct {
	key string // Sec-WebSocket-Key, validated
}

// checkRequest applies RFC 6455 §4.2.1 to a client's opening handshake
// and returns the HTTP status to answer with when it is refused. The
// method, protocol version and Upgrade/Connection tokens were checked by
// checkUpgradeRequest.
func checkRequest(h http.Header) (req handshakeRequest, status int, err error) {
	versions := h.Values("Sec-Websocket-Version")
	if len(versions) != 1 || strings.TrimSpace(versions[0]) != "13" {
		return req, http.StatusUpgradeRequired, errors.New("websocket: unsupported version: Sec-WebSocket-Version must be 13")
	}
	keys := h.Values("Sec-Websocket-Key")
	if len(keys) != 1 {
		return req, http.StatusBadRequest, errors.New("websocket: exactly one Sec-WebSocket-Key header is required")
	}
	key := strings.TrimSpace(keys[0])
	// §4.1: the key is 16 random bytes, base64-encoded (24 characters).
	var raw [18]byte
	if len(key) != 24 {
		return req, http.StatusBadRequest, errors.New("websocket: Sec-WebSocket-Key is not 16 base64-encoded bytes")
	}
	if n, err := base64.StdEncoding.Decode(raw[:], []byte(key)); err != nil || n != 16 {
		return req, http.StatusBadRequest, errors.New("websocket: Sec-WebSocket-Key is not 16 base64-encoded bytes")
	}
	req.key = key
	return req, 0, nil
}

// checkUpgradeRequest checks what every WebSocket opening handshake shares,
// RFC 6455 and hixie-76 alike: a GET over HTTP/1.1 or later, without a
// body, asking to upgrade to websocket. Both Upgrade and UpgradeConn (whose
// parser fills ContentLength and TransferEncoding the same way) go through
// it.
func checkUpgradeRequest(r *http.Request) (status int, err error) {
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, errors.New("websocket: the opening handshake must use the GET method")
	}
	if !r.ProtoAtLeast(1, 1) {
		return http.StatusBadRequest, errors.New("websocket: the opening handshake requires HTTP/1.1 or later")
	}
	// A body would put the request's end where HTTP says (RFC 9112 §6.3)
	// and the first frame where the body starts: a proxy that follows HTTP
	// and this server would disagree on where the frames begin. The
	// handshake has no body (RFC 6455 §4.1), so one is refused, not read
	// as frames. The one exception is hixie-76's key3, the 8 bytes that
	// follow the request (draft-76 §5.1): some clients (Perl's
	// Protocol::WebSocket) declare them with Content-Length: 8, which puts
	// HTTP's end of the request exactly where the frames begin.
	if (r.ContentLength > 0 || len(r.TransferEncoding) > 0) &&
		(r.ContentLength != 8 || len(r.TransferEncoding) > 0 || !isHixie76(r.Header)) {
		return http.StatusBadRequest, errors.New("websocket: the opening handshake must not have a body (Content-Length or Transfer-Encoding)")
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return http.StatusBadRequest, errors.New("websocket: not a websocket handshake: 'upgrade' token not found in 'Connection' header")
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		return http.StatusBadRequest, errors.New("websocket: not a websocket handshake: 'websocket' token not found in 'Upgrade' header")
	}
	return 0, nil
}

// headerHasToken reports whether a comma-separated header, over all its
// lines, lists token (compared case-insensitively, RFC 7230 §3.2.6). For
// Upgrade, a protocol version ("websocket/13") is ignored.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[http.CanonicalHeaderKey(name)] {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			t = strings.Trim(t, " \t")
			if name == "Upgrade" {
				t, _, _ = strings.Cut(t, "/")
			}
			if equalASCIIFold(t, token) {
				return true
			}
		}
	}
	return false
}

// headerTokens returns the comma-separated tokens of every line of a
// header, trimmed, empties dropped.
func headerTokens(h http.Header, name string) []string {
	var out []string
	for _, v := range h[http.CanonicalHeaderKey(name)] {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if t = strings.Trim(t, " \t"); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// selectSubprotocol picks the first of the server's protocols, in the
// server's order of preference, that the client offered (RFC 6455 §4.2.2).
func selectSubprotocol(server, client []string) string {
	for _, s := range server {
		for _, c := range client {
			if c == s {
				return s
			}
		}
	}
	return ""
}

// sameOrigin is the default origin check: it reports whether the
// request's Origin header is absent or names the host the request was sent
// to. Of the origin's three parts (RFC 6454 §4: scheme, host, port), the
// host and port are compared, as one string, with the Host header, folding
// ASCII case only: strings.EqualFold's Unicode folding would take the
// Kelvin sign (U+212A) for "k" and the long s (U+017F) for "s", so that an
// Origin the browser would never build for this host could pass. The
// scheme is not compared, as gorilla does not: behind a proxy that
// terminates TLS the server cannot tell https from http, and a page on the
// same host and port under the other scheme is that host's own. An origin
// with userinfo, a path or a trailing dot, an opaque "null" origin and
// more than one Origin header are all refused.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Values("Origin")
	if len(origin) == 0 {
		return true
	}
	if len(origin) > 1 {
		return false
	}
	_, rest, ok := strings.Cut(origin[0], "://")
	if !ok {
		return false
	}
	host, _, _ := strings.Cut(rest, "/")
	return host != "" && equalASCIIFold(host, r.Host)
}

// equalASCIIFold reports whether s and t are equal when ASCII letters are
// compared without case; every other byte must match exactly.
func equalASCIIFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if a == b {
			continue
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// validHeaderName reports whether s is an HTTP token (RFC 7230 §3.2.6).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7F || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s can go on the wire as a header value:
// no CR, LF or other control bytes but tab, so that a caller's value
// cannot split the response (RFC 7230 §3.2).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7F {
			return false
		}
	}
	return true
}

// appendResponse appends the 101 response of RFC 6455 §4.2.2. extra holds
// the caller's headers, already validated; reserved names were removed.
func appendResponse(b []byte, acceptKey, subprotocol, extensions string, extra http.Header) []byte {
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"...)
	b = appendHeaderLine(b, "Sec-WebSocket-Accept", acceptKey)
	b = appendHeaderLine(b, "Sec-WebSocket-Protocol", subprotocol)
	b = appendHeaderLine(b, "Sec-WebSocket-Extensions", extensions)
	return appendHeaderBlockEnd(b, extra)
}

// appendHeaderLine appends "name: value\r\n", or nothing for an empty
// value.
func appendHeaderLine(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendField(b, name, value)
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// appendHeaderBlockEnd appends the caller's extra headers (validated by
// checkResponseHeader) and the blank line that ends the header block.
func appendHeaderBlockEnd(b []byte, extra http.Header) []byte {
	for k, vs := range extra {
		for _, v := range vs {
			b = appendField(b, k, v) // an empty value is the caller's choice
		}
	}
	return append(b, "\r\n"...)
}

// checkResponseHeader validates the caller's extra response headers and
// reports the names it must not set.
func checkResponseHeader(h http.Header) error {
	for k, vs := range h {
		if !validHeaderName(k) {
			return errors.New("websocket: invalid response header name " + quoteASCII(k))
		}
		switch http.CanonicalHeaderKey(k) {
		case "Sec-Websocket-Extensions":
			return errors.New("websocket: application-specific Sec-WebSocket-Extensions headers are unsupported")
		case "Upgrade", "Connection", "Sec-Websocket-Accept":
			return errors.New("websocket: response header " + k + " is set by the Upgrader")
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return errors.New("websocket: response header " + k + " has a control character (CR/LF) in its value")
			}
		}
	}
	return nil
}

func quoteASCII(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= ' ' && c < 0x7F && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else {
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
		}
	}
	b.WriteByte('"')
	return b.String()
}
