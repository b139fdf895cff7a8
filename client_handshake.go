package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"time"
)

// errResponseHeadTooLarge reports a server (or proxy) whose response head
// went past maxResponseHead bytes: a hostile or broken peer streaming
// header lines, or one endless line.
var errResponseHeadTooLarge = errors.New("websocket: the response head is over 1 MiB")

// headLimitReader reads from r until n bytes have come, then fails with
// errResponseHeadTooLarge, so that reading a response head costs at most
// n bytes of memory whatever the peer sends.
type headLimitReader struct {
	r io.Reader
	n int64
}

func (l *headLimitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errResponseHeadTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// readResponseHead reads a response to req from nc through a reader
// capped at maxResponseHead bytes; the returned reader holds what came
// after the head.
func readResponseHead(nc net.Conn, req *http.Request, trace *httptrace.ClientTrace) (*http.Response, *bufio.Reader, error) {
	lr := &headLimitReader{r: nc, n: maxResponseHead}
	br := bufio.NewReaderSize(lr, 4096)
	if trace != nil && trace.GotFirstResponseByte != nil {
		if _, err := br.Peek(1); err == nil {
			trace.GotFirstResponseByte()
		}
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil && lr.n <= 0 {
		err = errResponseHeadTooLarge // whatever net/http made of the cut
	}
	return resp, br, err
}

// handshake sends the opening request on netConn and reads and checks the
// server's answer (RFC 6455 §4.1). netConn is closed on every failure.
func (d *Dialer) handshake(ctx context.Context, netConn net.Conn, hs *clientHandshake) (*Conn, *http.Response, error) {
	// Until the handshake is over, the context's end closes the socket.
	stop := context.AfterFunc(ctx, func() { netConn.Close() })
	fail := func(resp *http.Response, err error) (*Conn, *http.Response, error) {
		stop()
		netConn.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		} else if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			err = context.DeadlineExceeded // the socket deadline fired first
		}
		return nil, resp, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		netConn.SetDeadline(deadline)
	}
	if err := hs.req.Write(netConn); err != nil {
		return fail(nil, err)
	}
	resp, br, err := readResponseHead(netConn, hs.req, httptrace.ContextClientTrace(ctx))
	if err != nil {
		return fail(nil, err)
	}
	if d.Jar != nil {
		if rc := resp.Cookies(); len(rc) > 0 {
			d.Jar.SetCookies(hs.req.URL, rc)
		}
	}
	if err := checkServerResponse(resp, hs.key, hs.offered); err != nil {
		d.Hooks.handshakeRefused(hs.req, resp.StatusCode, err)
		// Let the caller see why the server refused: up to 1 KiB of body.
		body := make([]byte, 1024)
		n, _ := io.ReadFull(resp.Body, body)
		resp.Body = io.NopCloser(bytes.NewReader(body[:n]))
		return fail(resp, err)
	}
	var deflate deflateConfig
	if exts := resp.Header["Sec-Websocket-Extensions"]; len(exts) > 0 {
		if !d.EnableCompression {
			return fail(resp, errors.New("websocket: bad handshake: the server answered an extension that was not offered"))
		}
		deflate, err = clientAcceptDeflate(exts)
		if err != nil {
			return fail(resp, err)
		}
	}
	if !stop() {
		return fail(resp, ctx.Err())
	}
	netConn.SetDeadline(time.Time{})
	resp.Body = http.NoBody

	var pending []byte
	if n := br.Buffered(); n > 0 {
		pending, _ = br.Peek(n)
	}
	c := newConn(netConn, connConfig{
		client:          true,
		readBufferSize:  d.ReadBufferSize,
		writeBufferSize: d.WriteBufferSize,
		writeBufferPool: d.WriteBufferPool,
		subprotocol:     resp.Header.Get("Sec-Websocket-Protocol"),
		deflate:         deflate,
		hooks:           d.Hooks,
	}, pending)
	d.Hooks.handshakeAccepted(c, ProtocolRFC6455, resp.StatusCode, c.subprotocol, deflate.enabled)
	return c, resp, nil
}
