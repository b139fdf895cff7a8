package websocket

import (
	"errors"
	"strconv"
	"strings"
)

// The Sec-WebSocket-Extensions header (RFC 6455 §9.1) and the
// permessage-deflate negotiation of RFC 7692 §5 and §7.1, as pure
// functions of the request's header lines.
//
//	extension-list = 1#extension
//	extension      = extension-token *( ";" extension-param )
//	extension-param = token [ "=" (token | quoted-string) ]
//
// A quoted value must unescape to a token. An offer that breaks the grammar
// is declined on its own (the parser skips to the next comma outside
// quotes); a header that cannot be split into offers at all (a quote that
// never closes) declines every offer. Neither fails the handshake: the
// connection simply goes on without the extension.

// extParam is one parameter of an extension offer.
type extParam struct {
	name     string
	value    string
	hasValue bool
}

// maxExtParams bounds the parameters kept per offer; an offer with more is
// malformed for every extension this package knows.
const maxExtParams = 8

// extensionOffer is one element of the extension list.
type extensionOffer struct {
	name   string
	params []extParam
	ok     bool // the offer follows the grammar
}

// forEachExtension calls fn for each offer of the header lines, in order,
// until fn returns false. It reports false when the lines are syntactically
// hopeless, in which case the offers already passed to fn must be
// forgotten too.
func forEachExtension(lines []string, fn func(o *extensionOffer) bool) bool {
	var o extensionOffer
	var buf [maxExtParams]extParam
	// First make sure every quote closes, so no offer is acted upon from
	// a header that turns out to be garbage.
	for _, s := range lines {
		if !quotesBalanced(s) {
			return false
		}
	}
	for _, s := range lines {
		i := 0
		for {
			// Empty list elements are allowed (RFC 7230 §7).
			for i < len(s) && (s[i] == ',' || isOWS(s[i])) {
				i++
			}
			if i == len(s) {
				break
			}
			o = extensionOffer{params: buf[:0]}
			i = parseOffer(s, i, &o)
			if !fn(&o) {
				return true
			}
		}
	}
	return true
}

// parseOffer parses the offer at s[i:] into o and returns the index of the
// comma that ends it (or len(s)).
func parseOffer(s string, i int, o *extensionOffer) int {
	o.name, i = scanToken(s, i)
	o.ok = o.name != ""
	for o.ok {
		i = skipOWS(s, i)
		if i == len(s) || s[i] == ',' {
			return i
		}
		if s[i] != ';' {
			break
		}
		var p extParam
		p.name, i = scanToken(s, skipOWS(s, i+1))
		if p.name == "" {
			break
		}
		i = skipOWS(s, i)
		if i < len(s) && s[i] == '=' {
			p.hasValue = true
			i = skipOWS(s, i+1)
			if i < len(s) && s[i] == '"' {
				var ok bool
				p.value, i, ok = scanQuoted(s, i)
				if !ok || !isToken(p.value) {
					break
				}
			} else if p.value, i = scanToken(s, i); p.value == "" {
				break
			}
		}
		if len(o.params) == maxExtParams {
			break
		}
		o.params = append(o.params, p)
	}
	o.ok = false
	return skipElement(s, i)
}

// skipElement returns the index of the next comma outside quotes at or
// after i, or len(s).
func skipElement(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ',':
			return i
		case '"':
			_, j, _ := scanQuoted(s, i)
			i = j
			continue
		}
		i++
	}
	return i
}

// quotesBalanced reports whether every quoted-string of s is closed.
func quotesBalanced(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			_, j, ok := scanQuoted(s, i)
			if !ok {
				return false
			}
			i = j - 1
		}
	}
	return true
}

// scanQuoted reads the quoted-string that starts at s[i] == '"' and
// returns its unescaped content and the index after the closing quote.
func scanQuoted(s string, i int) (value string, next int, ok bool) {
	var b strings.Builder
	plain := true // no escapes so far: the value is a substring
	start := i + 1
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			if plain {
				return s[start:j], j + 1, true
			}
			return b.String(), j + 1, true
		case c == '\\':
			if j+1 == len(s) {
				return "", len(s), false
			}
			if plain {
				b.WriteString(s[start:j])
				plain = false
			}
			j++
			b.WriteByte(s[j])
		case !plain:
			b.WriteByte(c)
		}
	}
	return "", len(s), false
}

func scanToken(s string, i int) (string, int) {
	j := i
	for j < len(s) && isTokenChar(s[j]) {
		j++
	}
	return s[i:j], j
}

func skipOWS(s string, i int) int {
	for i < len(s) && isOWS(s[i]) {
		i++
	}
	return i
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// isTokenChar reports whether c is a tchar (RFC 7230 §3.2.6).
func isTokenChar(c byte) bool {
	return c > ' ' && c < 0x7F && strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) < 0
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// deflateParams are the permessage-deflate parameters in force on a
// connection (RFC 7692 §7.1), from the server's point of view.
type deflateParams struct {
	// serverNoTakeover: each message the server sends is compressed with
	// an empty history (§7.1.1.1).
	serverNoTakeover bool
	// clientNoTakeover: the client compresses each message with an empty
	// history, so the server keeps no inflate window (§7.1.1.2).
	clientNoTakeover bool
	// serverBits is the LZ77 window the server's messages must stay within
	// (§7.1.2.1); 15 when the client set no limit.
	serverBits int
	// clientBits is the LZ77 window the client compresses with (§7.1.2.2).
	clientBits int
}

const extPermessageDeflate = "permessage-deflate"

// negotiateDeflate picks the first permessage-deflate offer of the
// Sec-WebSocket-Extensions header lines that the server can honour and
// returns its parameters and the response's extension element. ok is false
// when no offer is acceptable; the handshake then goes on without
// compression.
//
// takeover says whether the server is willing to keep compression context
// between messages; when it is not, the answer carries both
// server_no_context_takeover and client_no_context_takeover, which RFC 7692
// §7.1.1 lets a server add to any offer.
func negotiateDeflate(lines []string, takeover bool) (p deflateParams, answer string, ok bool) {
	found := false
	if !forEachExtension(lines, func(o *extensionOffer) bool {
		if !o.ok || !strings.EqualFold(o.name, extPermessageDeflate) {
			return true
		}
		p, answer, found = acceptDeflateOffer(o.params, takeover)
		return !found
	}) {
		return deflateParams{}, "", false
	}
	return p, answer, found
}

// acceptDeflateOffer applies RFC 7692 §5 and §7.1 to one offer's
// parameters: an unknown parameter, a repeated one, or a value that is
// missing, present where none is allowed, or out of range declines the
// offer. The answer echoes the offer's parameters, which is always an
// acceptable answer:
//
//   - server_no_context_takeover is answered when offered (§7.1.1.1), and
//     also when takeover is false or the window is limited;
//   - client_no_context_takeover is answered when offered (the client
//     announced it will not take over anyway, and saying so lets the
//     server drop the inflate window) and when takeover is false;
//   - server_max_window_bits=N is answered with the same N (§7.1.2.1); for
//     N from 9 to 14 the server compresses in segments whose
//     back-references stay within 2^N bytes (windowedDeflate), for N = 8
//     without back-references (Huffman-only), and in both cases without
//     context takeover;
//   - client_max_window_bits is answered only when it came with a value,
//     with that value (§7.1.2.2); the inflater accepts any window up to 15.
func acceptDeflateOffer(params []extParam, takeover bool) (p deflateParams, answer string, ok bool) {
	p.serverBits, p.clientBits = 15, 15
	var seen [4]bool
	serverBits, clientBits := false, false
	for _, x := range params {
		var k int
		switch strings.ToLower(x.name) {
		case "server_no_context_takeover":
			k = 0
			if x.hasValue {
				return p, "", false
			}
			p.serverNoTakeover = true
		case "client_no_context_takeover":
			k = 1
			if x.hasValue {
				return p, "", false
			}
			p.clientNoTakeover = true
		case "server_max_window_bits":
			k = 2
			bits, ok := windowBits(x.value)
			if !x.hasValue || !ok {
				return p, "", false
			}
			p.serverBits, serverBits = bits, true
		case "client_max_window_bits":
			k = 3
			if x.hasValue {
				bits, ok := windowBits(x.value)
				if !ok {
					return p, "", false
				}
				p.clientBits, clientBits = bits, true
			}
		default:
			return p, "", false
		}
		if seen[k] {
			return p, "", false
		}
		seen[k] = true
	}
	if !takeover || p.serverBits < 15 {
		p.serverNoTakeover = true
	}
	if !takeover {
		p.clientNoTakeover = true
	}
	var b strings.Builder
	b.WriteString(extPermessageDeflate)
	if p.serverNoTakeover {
		b.WriteString("; server_no_context_takeover")
	}
	if p.clientNoTakeover {
		b.WriteString("; client_no_context_takeover")
	}
	if serverBits {
		b.WriteString("; server_max_window_bits=")
		b.WriteString(strconv.Itoa(p.serverBits))
	}
	if clientBits {
		b.WriteString("; client_max_window_bits=")
		b.WriteString(strconv.Itoa(p.clientBits))
	}
	return p, b.String(), true
}

// windowBits parses a window size parameter: a decimal integer from 8 to
// 15 without leading zeros (RFC 7692 §7.1.2.1).
func windowBits(s string) (int, bool) {
	switch {
	case len(s) == 1 && s[0] >= '8' && s[0] <= '9':
		return int(s[0] - '0'), true
	case len(s) == 2 && s[0] == '1' && s[1] >= '0' && s[1] <= '5':
		return 10 + int(s[1]-'0'), true
	}
	return 0, false
}

// clientDeflateOffer is what a Dialer with EnableCompression offers: no
// context takeover in either direction, so neither side keeps a window
// between messages, and client_max_window_bits, so the server may limit
// the client's window (as browsers offer; some servers always answer it).
const clientDeflateOffer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits"

// clientAcceptDeflate checks the server's answer to clientDeflateOffer
// (RFC 7692 §7.1) and returns the connection's parameters. deflateParams
// is written from the server's point of view (server* = what the
// connection sends, client* = what it receives), so a client swaps the
// roles: the server's parameters govern what the client inflates, the
// client's what it compresses.
func clientAcceptDeflate(lines []string) (deflateConfig, error) {
	bad := func(why string) (deflateConfig, error) {
		return deflateConfig{}, errors.New("websocket: bad handshake: Sec-WebSocket-Extensions: " + why)
	}
	var answers []extensionOffer
	if !forEachExtension(lines, func(o *extensionOffer) bool {
		answers = append(answers, extensionOffer{name: o.name, params: append([]extParam(nil), o.params...), ok: o.ok})
		return true
	}) || len(answers) != 1 || !answers[0].ok || !strings.EqualFold(answers[0].name, extPermessageDeflate) {
		return bad("the server answered something other than one permessage-deflate")
	}
	p := deflateParams{serverBits: 15, clientBits: 15}
	var seen [4]bool
	for _, x := range answers[0].params {
		var k int
		switch strings.ToLower(x.name) {
		case "server_no_context_takeover": // the server's messages: what we inflate
			k, p.clientNoTakeover = 0, true
		case "client_no_context_takeover": // our messages
			k, p.serverNoTakeover = 1, true
		case "server_max_window_bits":
			k = 2
			bits, ok := windowBits(x.value)
			if !ok {
				return bad("bad server_max_window_bits")
			}
			p.clientBits = bits
		case "client_max_window_bits": // the window of our messages
			k = 3
			bits, ok := windowBits(x.value)
			if !ok {
				return bad("bad client_max_window_bits")
			}
			p.serverBits = bits
		default:
			return bad("unknown parameter " + quoteASCII(x.name))
		}
		if (k < 2 && x.hasValue) || (k >= 2 && !x.hasValue) || seen[k] {
			return bad("malformed parameter " + quoteASCII(x.name))
		}
		seen[k] = true
	}
	// We offered client_no_context_takeover: we compress each message
	// afresh whatever the answer says.
	p.serverNoTakeover = true
	return deflateConfig{enabled: true, params: p, threshold: DefaultCompressionThreshold}, nil
}
