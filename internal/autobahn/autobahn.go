// Package autobahn holds the agents that the Autobahn|Testsuite runs
// against in CI (.github/workflows/ci.yml): four echo servers, one per way
// a program uses this package, for the suite's fuzzingclient, and a client
// driver for its fuzzingserver that runs every case through the Dialer.
// The programs in ./server and ./client are thin flag wrappers; the logic
// is here so that autobahn_test.go can run it over loopback.
package autobahn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hybi/websocket"
)

// ReadLimit is the read limit of every agent: above the suite's largest
// message (16 MiB, cases 9.1.6 and 9.2.6), whatever the package default.
const ReadLimit = 64 << 20

// queueLimit lets the queue agent hold every message of a burst (the suite
// sends up to 1,000 before it reads the echoes).
const queueLimit = 1 << 16

// Modes are the server agents, each a way of using the package:
//
//   - message: an http.Handler calling Upgrade, then ReadMessage/WriteMessage;
//   - stream:  an http.Handler calling Upgrade, then NextReader/NextWriter
//     with io.Copy, so that fragments stream through;
//   - serve:   Upgrader.Serve on the bare listener, then ReadMessage/WriteMessage;
//   - queue:   an http.Handler calling Upgrade, then ReadMessage,
//     NewPreparedMessage and QueuePreparedMessage.
var Modes = []string{"message", "stream", "serve", "queue"}

// upgrader is shared by every agent: compression on (sections 12 and 13),
// any Origin (the suite is not a browser).
var upgrader = websocket.Upgrader{
	EnableCompression: true,
	CheckOrigin:       func(*http.Request) bool { return true },
}

// Serve runs the echo agent named mode on ln until ln is closed, which
// it then reports as an error (net.ErrClosed for a plain close). It
// blocks; each connection runs in its own goroutine.
func Serve(ln net.Listener, mode string) error {
	var echo func(*websocket.Conn) error
	switch mode {
	case "message", "serve":
		echo = echoMessages
	case "stream":
		echo = echoStreams
	case "queue":
		echo = echoQueued
	default:
		return fmt.Errorf("autobahn: unknown mode %q (want one of %v)", mode, Modes)
	}
	handler := func(c *websocket.Conn) {
		defer c.Close()
		c.SetReadLimit(ReadLimit)
		echo(c)
	}
	if mode == "serve" {
		return upgrader.Serve(ln, func(c *websocket.Conn, _ *http.Request) { handler(c) })
	}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return // Upgrade answered the client
			}
			handler(c)
		}),
	}
	err := srv.Serve(ln)
	srv.Close()
	return err
}

// echoMessages sends every message back whole, with its type, until the
// connection fails or closes.
func echoMessages(c *websocket.Conn) error {
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if err := c.WriteMessage(mt, p); err != nil {
			return err
		}
	}
}

// echoStreams copies each message from its reader into a writer of the
// same type as it arrives.
func echoStreams(c *websocket.Conn) error {
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return err
		}
		w, err := c.NextWriter(mt)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, r); err != nil {
			w.Close()
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

// echoQueued sends every message back through the send queue as a
// PreparedMessage.
func echoQueued(c *websocket.Conn) error {
	c.SetQueueLimit(queueLimit)
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		pm, err := websocket.NewPreparedMessage(mt, p)
		if err != nil {
			return err
		}
		if err := c.QueuePreparedMessage(pm); err != nil {
			return err
		}
	}
}

// Client drives the suite's fuzzingserver at base (ws://host:port) as
// agent: it asks for the number of cases, runs each one as an echo
// client through a Dialer with compression offered, and asks the server
// to write its reports. logf, when not nil, gets one line per case that
// ended with a local error other than the peer's close. Client blocks
// until the reports are written or ctx is done. A case whose echo fails
// is the report's business, not an error here; failing to reach the
// server is.
func Client(ctx context.Context, base, agent string, logf func(format string, args ...any)) (cases int, err error) {
	n, err := caseCount(ctx, base)
	if err != nil {
		return 0, err
	}
	for i := 1; i <= n; i++ {
		if err := ctx.Err(); err != nil {
			return i - 1, err
		}
		u := base + "/runCase?case=" + strconv.Itoa(i) + "&agent=" + url.QueryEscape(agent)
		if err := runCase(ctx, u); err != nil && logf != nil {
			logf("case %d: %v", i, err)
		}
	}
	c, _, err := dialer.DialContext(ctx, base+"/updateReports?agent="+url.QueryEscape(agent), nil)
	if err != nil {
		return n, fmt.Errorf("autobahn: updateReports: %w", err)
	}
	defer c.Close()
	for { // the server closes once the reports are written
		if _, _, err := c.ReadMessage(); err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return n, nil
			}
			return n, fmt.Errorf("autobahn: updateReports: %w", err)
		}
	}
}

// dialer is the client agent's Dialer: compression offered for sections
// 12 and 13, a bounded handshake.
var dialer = &websocket.Dialer{EnableCompression: true, HandshakeTimeout: 30 * time.Second}

// caseCount asks the fuzzingserver how many cases it has.
func caseCount(ctx context.Context, base string) (int, error) {
	c, _, err := dialer.DialContext(ctx, base+"/getCaseCount", nil)
	if err != nil {
		return 0, fmt.Errorf("autobahn: getCaseCount: %w", err)
	}
	defer c.Close()
	_, p, err := c.ReadMessage()
	if err != nil {
		return 0, fmt.Errorf("autobahn: getCaseCount: %w", err)
	}
	n, err := strconv.Atoi(string(p))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("autobahn: getCaseCount answered %q", p)
	}
	return n, nil
}

// caseTimeout bounds one case, so that a case the client gets wrong
// cannot hang the whole run (the suite's own timeouts are shorter).
const caseTimeout = 2 * time.Minute

// runCase echoes every message of one case until the connection ends. It
// returns nil when the case ended with a close from either side, and the
// error otherwise.
func runCase(ctx context.Context, u string) error {
	c, _, err := dialer.DialContext(ctx, u, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadLimit(ReadLimit)
	c.SetReadDeadline(time.Now().Add(caseTimeout))
	err = echoMessages(c)
	var ce *websocket.CloseError
	var pe *websocket.ProtocolError
	if errors.As(err, &ce) || errors.As(err, &pe) || errors.Is(err, websocket.ErrReadLimit) {
		return nil // the case ended by a close, ours or the server's
	}
	return err
}
