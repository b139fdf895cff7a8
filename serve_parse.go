package websocket

// The request parser behind UpgradeConn. It reads the request head (RFC
// 9112 §2.1: request-line, header lines, blank line) from the pooled
// bufio.Reader into one buffer, checks it, and cuts every string of the
// *http.Request from a single copy of that buffer: one string, one
// header map sized once, and one allocation holding the Request, its URL
// and the header values. net/http's server (http.ReadRequest and the
// checks of its conn.readRequest) is the reference for what is refused
// and with which status, so that UpgradeConn's "the same checks as
// Upgrade" holds for the request itself; the differential tests in
// serve_parse_test.go hold the two side by side. Deliberately stricter
// than net/http: obsolete line folding is refused (RFC 9112 §5.2 lets a
// server do so; net/http joins the lines).
//
// Refusals carry fixed reasons, never the parser's view of the request:
// the body of an error response must not echo what a client sent.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// requestError is a request UpgradeConn refuses before Upgrade sees it:
// the status to answer with and a fixed reason.
type requestError struct {
	status int
	reason string
}

func (e *requestError) Error() string { return e.reason }

var (
	errMalformedRequest = &requestError{http.StatusBadRequest, "websocket: malformed HTTP request"}
	errHeadTooLarge     = &requestError{http.StatusRequestHeaderFieldsTooLarge, "websocket: request headers too large"}
	errMissingHost      = &requestError{http.StatusBadRequest, "websocket: missing required Host header"}
	errBadHost          = &requestError{http.StatusBadRequest, "websocket: malformed Host header"}
	errTooManyHosts     = &requestError{http.StatusBadRequest, "websocket: too many Host headers"}
	errBadHeaderName    = &requestError{http.StatusBadRequest, "websocket: malformed HTTP request: invalid header name"}
	errBadLength        = &requestError{http.StatusBadRequest, "websocket: malformed HTTP request: bad Content-Length"}
	errBadEncoding      = &requestError{http.StatusNotImplemented, "websocket: unsupported transfer encoding"}
	errBadVersion       = &requestError{http.StatusHTTPVersionNotSupported, "websocket: unsupported HTTP version"}
	errBadExpect        = &requestError{http.StatusExpectationFailed, "websocket: unsupported Expect header"}
)

// requestParser is UpgradeConn's pooled per-handshake state: the reader,
// the head being parsed, and the ResponseWriter handed to Upgrade with
// the reader it hijacks. Nothing in it outlives UpgradeConn's call.
type requestParser struct {
	lr     io.LimitedReader
	br     *bufio.Reader
	head   []byte
	fields []fieldPos
	resp   connResponse
	// bw is the writer Hijack hands out, copied from here each time
	// (Upgrade empties the one it is given): its 16-byte buffer is made
	// once per pooled parser.
	bw bufio.Writer
}

// fieldPos locates one header line's name and value in the head.
type fieldPos struct{ k0, k1, v0, v1 int32 }

// maxPooledHead is the largest head buffer kept in the pool; a larger one
// (a request with huge headers) is left to the garbage collector.
const maxPooledHead = 16 << 10

var requestParsers = sync.Pool{New: func() any {
	return &requestParser{br: bufio.NewReaderSize(nil, 4096), bw: *bufio.NewWriterSize(nil, 16)}
}}

func (p *requestParser) release() {
	p.br.Reset(nil)
	p.lr.R = nil
	p.resp = connResponse{}
	if cap(p.head) > maxPooledHead {
		p.head = nil
	}
	requestParsers.Put(p)
}

// readRequest reads and parses one request head from p.br. Errors are a
// *requestError to answer, or the read error (the client went away or
// timed out) to close on without an answer, as net/http does.
func (p *requestParser) readRequest() (*http.Request, error) {
	if err := p.readHead(); err != nil {
		return nil, err
	}
	return parseHead(p.head, &p.fields)
}

// readHead reads up to and including the blank line that ends the header
// block into p.head. A lone LF ends a line, as RFC 9112 §2.2 allows and
// net/http does.
func (p *requestParser) readHead() error {
	p.head = p.head[:0]
	start := 0
	for {
		frag, err := p.br.ReadSlice('\n')
		p.head = append(p.head, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			switch {
			case p.lr.R != nil && p.lr.N <= 0:
				return errHeadTooLarge
			case len(p.head) > 0 && errors.Is(err, io.EOF):
				return errMalformedRequest // the client stopped mid-request
			}
			return err
		}
		if start == 0 {
			// The request line: refused at once when malformed, as
			// net/http does, without waiting for the headers.
			if _, _, _, _, ok := scanRequestLine(trimCR(p.head[:len(p.head)-1])); !ok {
				return errMalformedRequest
			}
		} else if line := p.head[start:]; len(line) == 1 || len(line) == 2 && line[0] == '\r' {
			return nil
		}
		start = len(p.head)
	}
}

// trimCR drops one trailing CR.
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// nextLine returns the line of head that starts at off, without its CRLF
// or LF, and the offset of the next line.
func nextLine(head []byte, off int) (line []byte, next int) {
	i := bytes.IndexByte(head[off:], '\n')
	if i < 0 {
		i = len(head) - off
	}
	return trimCR(head[off : off+i]), off + i + 1
}

// parseHead parses a request head that readHead read: the request line
// (RFC 9112 §3), the header lines (§5), then what net/http's server
// checks on top (Host §3.2, framing §6). Header names are made canonical
// in place in head; fields is scratch kept between calls.
func parseHead(head []byte, fields *[]fieldPos) (*http.Request, error) {
	rl, off := nextLine(head, 0)
	mEnd, uEnd, major, minor, ok := scanRequestLine(rl)
	if !ok {
		return nil, errMalformedRequest
	}
	fs, spaceInName, err := scanFields(head, off, (*fields)[:0])
	*fields = fs
	if err != nil {
		return nil, err
	}

	s := string(head) // every string of the request is cut from this one
	ra := new(requestAlloc)
	r := &ra.req
	r.Method = s[:mEnd]
	r.RequestURI = s[mEnd+1 : uEnd]
	r.Proto = s[uEnd+1 : len(rl)]
	r.ProtoMajor, r.ProtoMinor = major, minor
	r.Header = buildHeader(s, fs, ra.vals[:])
	r.Body = http.NoBody
	if err := parseTarget(r, &ra.url); err != nil {
		return nil, err
	}
	if err := checkHead(r, spaceInName); err != nil {
		return nil, err
	}
	return r, nil
}

// requestAlloc puts a request, its URL and the values of its header lines
// (up to 16 of them) in one allocation.
type requestAlloc struct {
	req  http.Request
	url  url.URL
	vals [16]string
}

// scanRequestLine checks a request-line, "method SP request-target SP
// HTTP-version" (RFC 9112 §3), as http.ReadRequest does: a token method,
// single spaces, "HTTP/d.d". It returns where the method and the target
// end.
func scanRequestLine(rl []byte) (mEnd, uEnd, major, minor int, ok bool) {
	mEnd = indexByte(rl, 0, ' ')
	if mEnd < 0 {
		return
	}
	uEnd = indexByte(rl, mEnd+1, ' ')
	if uEnd < 0 || !isTokenBytes(rl[:mEnd]) {
		return
	}
	v := rl[uEnd+1:]
	if len(v) != len("HTTP/1.1") || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return
	}
	return mEnd, uEnd, int(v[5] - '0'), int(v[7] - '0'), true
}

func indexByte(b []byte, from int, c byte) int {
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
	}
	return -1
}

// scanFields checks the header lines from off to the blank line (RFC 9112
// §5: "field-name: OWS field-value OWS") and makes each name canonical in
// place. A name with a space before the colon (§5.1) is reported for
// checkHead to refuse at the point net/http's server does.
func scanFields(head []byte, off int, fs []fieldPos) (_ []fieldPos, spaceInName bool, _ error) {
	for {
		line, next := nextLine(head, off)
		if len(line) == 0 {
			return fs, spaceInName, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			// A first line that starts with white space, or obsolete line
			// folding (RFC 9112 §5.2), which net/http joins and we refuse.
			return fs, false, errMalformedRequest
		}
		colon := indexByte(line, 0, ':')
		if colon <= 0 {
			return fs, false, errMalformedRequest
		}
		name := line[:colon]
		for _, c := range name {
			if c == ' ' {
				spaceInName = true
			} else if !tokenBytes[c] {
				return fs, false, errMalformedRequest
			}
		}
		v0, v1 := colon+1, len(line)
		for v1 > v0 && (line[v1-1] == ' ' || line[v1-1] == '\t') {
			v1--
		}
		for v0 < v1 && (line[v0] == ' ' || line[v0] == '\t') {
			v0++
		}
		for _, c := range line[v0:v1] {
			if (c < ' ' && c != '\t') || c == 0x7F {
				return fs, false, errMalformedRequest
			}
		}
		if !spaceInName {
			canonicalizeName(name)
		}
		at := int32(off)
		fs = append(fs, fieldPos{at, at + int32(colon), at + int32(v0), at + int32(v1)})
		off = next
	}
}

// canonicalizeName rewrites a header name as textproto.CanonicalMIMEHeaderKey
// would (upper case first and after each hyphen, lower case elsewhere).
func canonicalizeName(b []byte) {
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		} else if !upper && 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
}

// buildHeader makes the header map, its keys and values cut from s, one
// line's value in each slice (capacity 1, so that an append by the caller
// does not run into the next line's).
func buildHeader(s string, fs []fieldPos, vals []string) http.Header {
	if len(fs) > len(vals) {
		vals = make([]string, len(fs))
	}
	h := make(http.Header, len(fs))
	for _, f := range fs {
		k, v := s[f.k0:f.k1], s[f.v0:f.v1]
		if vv, ok := h[k]; ok {
			h[k] = append(vv, v)
			continue
		}
		vals[0] = v
		h[k] = vals[:1:1]
		vals = vals[1:]
	}
	return h
}

// parseTarget sets r.URL from r.RequestURI as http.ReadRequest does (RFC
// 9112 §3.2: origin-form, absolute-form, authority-form for CONNECT,
// asterisk-form). The common origin-form without escapes is built
// directly into u, exactly as url.ParseRequestURI would build it.
func parseTarget(r *http.Request, u *url.URL) error {
	raw := r.RequestURI
	if simpleOriginForm(raw) {
		r.URL = u
		path, query, hasQuery := strings.Cut(raw, "?")
		u.Path, u.RawQuery = path, query
		u.ForceQuery = hasQuery && query == ""
		return nil
	}
	authority := r.Method == http.MethodConnect && !strings.HasPrefix(raw, "/")
	if authority {
		raw = "http://" + raw
	}
	pu, err := url.ParseRequestURI(raw)
	if err != nil {
		return errMalformedRequest
	}
	if authority {
		pu.Scheme = ""
	}
	r.URL = pu
	return nil
}

// simpleOriginForm reports whether uri is "/path[?query]" with a path that
// needs no unescaping and would not be escaped again (so that URL.RawPath
// stays empty) and no control bytes anywhere.
func simpleOriginForm(uri string) bool {
	if len(uri) == 0 || uri[0] != '/' {
		return false
	}
	i := 0
	for ; i < len(uri) && uri[i] != '?'; i++ {
		c := uri[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~$&+,/:;=@", c) >= 0:
		default:
			return false
		}
	}
	for ; i < len(uri); i++ {
		if c := uri[i]; c < ' ' || c == 0x7F {
			return false
		}
	}
	return true
}

// checkHead applies, in net/http's order, the checks http.ReadRequest and
// net/http's server make once the lines are read: one Host at most, the
// framing headers (RFC 9112 §6.1, §6.3), the HTTP major version, a valid
// Host on HTTP/1.1 (§3.2), token header names (§5.1) and Expect (RFC 9110
// §10.1.1). It sets Host, Close, ContentLength and TransferEncoding as
// net/http does, and removes Host from the header map.
func checkHead(r *http.Request, spaceInName bool) error {
	hosts, haveHost := r.Header["Host"]
	if len(hosts) > 1 {
		return errTooManyHosts
	}
	if r.Host = r.URL.Host; r.Host == "" && haveHost {
		r.Host = hosts[0]
	}
	if hp := r.Header["Pragma"]; len(hp) > 0 && hp[0] == "no-cache" {
		if _, ok := r.Header["Cache-Control"]; !ok {
			r.Header["Cache-Control"] = []string{"no-cache"}
		}
	}
	conn := r.Header["Connection"]
	r.Close = valuesHaveToken(conn, "close") ||
		r.ProtoMajor == 1 && r.ProtoMinor == 0 && !valuesHaveToken(conn, "keep-alive")
	if err := setFraming(r); err != nil {
		return err
	}
	h2Preface := r.Method == "PRI" && len(r.Header) == 0 && r.URL.Path == "*" && r.Proto == "HTTP/2.0"
	if h2Preface { // as http.ReadRequest marks it (Upgrade refuses the method)
		r.ContentLength, r.Close = -1, true
	}
	switch {
	case r.ProtoMajor != 1 && !h2Preface:
		return errBadVersion
	case r.ProtoAtLeast(1, 1) && !haveHost && !h2Preface && r.Method != http.MethodConnect:
		return errMissingHost
	case len(hosts) == 1 && !validHost(hosts[0]):
		return errBadHost
	case spaceInName:
		return errBadHeaderName
	}
	delete(r.Header, "Host")
	if e := r.Header["Expect"]; len(e) > 0 && e[0] != "" && !valuesHaveToken(e[:1], "100-continue") {
		return errBadExpect
	}
	return nil
}

// setFraming reads the request's message framing as net/http does (RFC
// 9112 §6.1, §6.3): Transfer-Encoding is "chunked" alone or refused with
// 501 (ignored on HTTP/1.0) and wins over Content-Length; Content-Length
// lines must agree and be a decimal number. Transfer-Encoding leaves the
// header map for r.TransferEncoding, as in net/http.
func setFraming(r *http.Request) error {
	chunked := false
	if te, ok := r.Header["Transfer-Encoding"]; ok {
		delete(r.Header, "Transfer-Encoding")
		if r.ProtoAtLeast(1, 1) {
			if len(te) != 1 || !asciiEqualFold(te[0], "chunked") {
				return errBadEncoding
			}
			chunked = true
		}
	}
	cl := r.Header["Content-Length"]
	if len(cl) > 1 {
		first := strings.Trim(cl[0], " \t\r\n")
		for _, v := range cl[1:] {
			if strings.Trim(v, " \t\r\n") != first {
				return errBadLength
			}
		}
		cl = []string{first}
		r.Header["Content-Length"] = cl
	}
	var n uint64
	if len(cl) == 1 {
		var err error
		if n, err = strconv.ParseUint(strings.Trim(cl[0], " \t\r\n"), 10, 63); err != nil {
			return errBadLength
		}
	}
	switch {
	case chunked:
		delete(r.Header, "Content-Length")
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
	default:
		r.ContentLength = int64(n)
	}
	return nil
}

// valuesHaveToken reports whether a comma-separated header lists token,
// compared as ASCII case-insensitively (RFC 9110 §5.6.1).
func valuesHaveToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if asciiEqualFold(strings.Trim(t, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// asciiEqualFold is strings.EqualFold for ASCII only: "K" (U+212A) is no
// "k" in a protocol token.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// isTokenBytes is isToken for a byte slice.
func isTokenBytes(b []byte) bool {
	for _, c := range b {
		if !tokenBytes[c] {
			return false
		}
	}
	return len(b) > 0
}

// tokenBytes and hostBytes are isTokenChar and the bytes validHost
// accepts, as tables: the parser looks up every byte of a header name.
var tokenBytes, hostBytes = func() (tok, host [256]bool) {
	for c := range tok {
		tok[c] = isTokenChar(byte(c))
		host[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!$%&'()*+,-.:;=[]_~", byte(c)) >= 0
	}
	return
}()

// validHost reports whether h holds only the bytes net/http's server
// accepts in a Host header (httpguts.ValidHostHeader): those of a host
// name, an IP literal with its brackets and zone, and a port. Not '@':
// "evil.example@victim.example" is no host (RFC 9110 §7.2, RFC 3986
// §3.2.2).
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostBytes[h[i]] {
			return false
		}
	}
	return true
}
