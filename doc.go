// Package websocket implements the WebSocket protocol (RFC 6455), server and
// client, with the permessage-deflate extension (RFC 7692), WebSockets over
// HTTP/2 (RFC 8441) and, on request, the legacy draft-hixie-76 protocol on
// the server. It uses nothing but the standard library.
//
// # Overview
//
// The API is gorilla/websocket's, extended. On the server, an [Upgrader]
// turns an HTTP request into a [*Conn]; call [Upgrader.Upgrade] from an
// ordinary net/http handler:
//
//	var upgrader websocket.Upgrader // the zero value is ready to use
//
//	func echo(w http.ResponseWriter, r *http.Request) {
//		conn, err := upgrader.Upgrade(w, r, nil)
//		if err != nil {
//			return // Upgrade already answered the client with an HTTP error
//		}
//		defer conn.Close()
//		for {
//			mt, p, err := conn.ReadMessage()
//			if err != nil {
//				return
//			}
//			if err := conn.WriteMessage(mt, p); err != nil {
//				return
//			}
//		}
//	}
//
// [Upgrader.Serve] and [Upgrader.UpgradeConn] do the same handshake on a
// bare net.Listener or net.Conn, without net/http (see "Serving without
// net/http"). On the client, [Dialer.Dial] and [Dialer.DialContext] (on
// [DefaultDialer] or a Dialer of one's own; [NewClient] is gorilla's
// deprecated form) open a connection and return the same *Conn.
//
// A gorilla program compiles against this package after changing only its
// import path. Where the two behave differently, this package refuses
// something gorilla let through or bounds something gorilla left unbounded;
// the README's "What behaves differently" lists every case, each with a
// test.
//
// Around the Conn, the package has what every service ends up writing:
// [ConnSet] tracks connections and closes them all with 1001 on shutdown
// (wire it to http.Server.RegisterOnShutdown), [StartHeartbeat] pings and
// fails a connection whose peer stops answering, [AsNetConn] turns a Conn
// into a net.Conn byte stream, and [Hooks] reports handshakes, messages,
// control frames and closes to metrics code.
//
// # Data messages
//
// A message is a text message ([TextMessage], UTF-8) or a binary message
// ([BinaryMessage]). [Conn.ReadMessage] and [Conn.WriteMessage] move whole
// messages; [Conn.NextReader] and [Conn.NextWriter] stream a message of any
// size through an [io.Reader] or [io.WriteCloser] without holding it in
// memory. The peer may split a message into frames; the reader hides the
// framing. [Conn.ReadJSON] and [Conn.WriteJSON] move one JSON value per
// message, and [JoinMessages] reads messages as one stream, as in gorilla.
//
// Incoming text is validated as UTF-8 while it streams: an invalid sequence
// fails the connection with close code 1007 as soon as the offending bytes
// arrive, not when the message ends (RFC 6455 §8.1).
//
// A server answering pipelined messages coalesces its answers: a small
// frame written while the peer's next message is already buffered is held
// back (for about a millisecond at most) and leaves with the next write, so
// the answers to one read share one system call. WriteMessage may therefore
// return nil before its frame is on the wire; a failure to send it is
// reported, sticky, by a later write, and [Conn.Close] first writes what is
// held (waiting at most 100 ms). A lone message is never held.
//
// # Control messages
//
// Close, ping and pong are control messages (RFC 6455 §5.5). They are
// handled by the goroutine that reads: call one of the read methods in a
// loop for as long as the connection lives, even if the application ignores
// what the peer sends, or pings will go unanswered and the closing
// handshake will not complete. The default ping handler answers each ping
// with a pong carrying the same payload without blocking the reader: the
// pong is held with the frames waiting to be written and goes out, in
// order, with the next write or within 1 ms; when the socket takes no more
// (a peer that pings and does not read), the pongs wait in a bounded
// buffer written by one goroutine once the socket is free, and only the
// most recent are kept (RFC 6455 §5.5.3), so no deadline ever cuts a pong
// and a ping flood costs no memory beyond that buffer (16 KiB). The
// default pong handler does nothing; the
// default close handler echoes the peer's close code, after which the
// server closes the TCP connection (RFC 6455 §7.1.1). Replace them with
// [Conn.SetPingHandler], [Conn.SetPongHandler] and [Conn.SetCloseHandler].
// [Conn.WriteControl] sends a control message; NextWriter accepts the
// control types too (the message is sent whole on Close, ≤ 125 bytes).
//
// [Conn.CloseHandshake] runs the whole closing handshake: it sends a close
// message, waits for the peer's (bounded by [Upgrader.CloseTimeout], 5 s by
// default), then closes the socket. [Conn.Close] closes the socket at once,
// as in gorilla. [Conn.Done] is closed when the Conn is.
//
// # Errors
//
// A close message from the peer reaches the reader as a [*CloseError]
// (its Text exactly as sent; Error quotes it, so that a peer cannot put
// newlines or terminal escapes into a log line). When the peer breaks the
// protocol the connection is failed: the reader gets a [*ProtocolError]
// carrying the close code that was sent (1002, 1007, ...), and every later
// read the same error; a message past the read limit gets 1009 and
// [ErrReadLimit]. Errors wrap with %w; [IsCloseError] and
// [IsUnexpectedCloseError] use errors.As, so wrapped errors match. A
// request Upgrade refuses yields a [HandshakeError] with its HTTP status; a
// Dialer whose server refuses returns [ErrBadHandshake], as gorilla's. Misuse
// returns an error; the package never panics on behalf of a peer or a
// caller (gorilla panics on concurrent writes and on the 1000th read of a
// failed connection).
//
// # Concurrency
//
// Every method of [Conn] may be called from any goroutine. Concurrent
// [Conn.WriteMessage], [Conn.NextWriter] and [Conn.WritePreparedMessage]
// calls are serialized so that messages never interleave: a writer
// obtained from NextWriter holds the connection's message slot until it is
// closed. Another goroutine's data message waits for that Close (bounded by
// the write deadline); the same goroutine's next NextWriter or WriteMessage
// closes the writer it left open first, as gorilla's NextWriter does.
// [Conn.WriteControl] never waits for a whole message: a ping or close may
// go out between two frames of a message being streamed. Reading is one
// goroutine's job (one message at a time); a second concurrent read returns
// [ErrConcurrentRead] instead of corrupting the stream.
//
// # Compression
//
// With [Upgrader.EnableCompression] (or [Dialer.EnableCompression]) the
// permessage-deflate extension (RFC 7692) is negotiated when the peer
// offers or accepts it, as every browser does. Compressed messages from the
// peer are inflated as they are read, their inflated size counting against
// the read limit, so a small frame that inflates past it ends in 1009
// without the memory. Messages of at least [Upgrader.CompressionThreshold]
// bytes ([DefaultCompressionThreshold] when zero) are compressed on the way
// out; [Conn.EnableWriteCompression] and [Conn.SetCompressionLevel] tune
// that per connection. By default compression contexts do not outlive a
// message and compressors are pooled between connections, so an idle
// connection holds none; see [Upgrader.CompressionContextTakeover] and
// [Upgrader.CompressionContextTakeoverLimit] for the trade-off. A peer that
// limits the LZ77 window (server_max_window_bits, client_max_window_bits)
// is honoured by compressing in segments that fit the window.
//
// # Limits
//
// Every connection starts with a read limit of [DefaultReadLimit] bytes (32
// MiB) per message, or [DefaultCompressedReadLimit] (4 MiB) when
// permessage-deflate was negotiated (see [Upgrader.ReadLimit] and
// [Conn.SetReadLimit]; gorilla has none). A message that would exceed it is
// refused from its frame header, before any of it is buffered: the peer
// gets close code 1009 and the read returns [ErrReadLimit]. The opening
// handshake is bounded by [Upgrader.HandshakeTimeout] (10 s when zero) and
// [Dialer.HandshakeTimeout] ([DefaultHandshakeTimeout] when zero), the
// closing handshake by [Upgrader.CloseTimeout], the send queue by
// [Conn.SetQueueLimit]. The request headers that net/http reads before
// Upgrade runs are bounded only by http.Server.ReadHeaderTimeout and
// MaxHeaderBytes, which a server on the open internet sets.
//
// # Origin considerations
//
// Browsers let any page open a WebSocket to any server, sending the page's
// origin in the Origin header. With a nil [Upgrader.CheckOrigin], Upgrade
// accepts a request only when Origin is absent or names the request's own
// host and port (ASCII case folded, the scheme not compared, userinfo
// refused), and answers 403 Forbidden otherwise. Set CheckOrigin to allow
// other origins deliberately; against DNS rebinding, check Host against an
// allowlist as well.
//
// # Buffers
//
// A Conn holds no read or write buffer while it is idle. It borrows one
// from a pool when bytes arrive or a message is written and returns it as
// soon as the buffer is drained, so ten thousand idle connections cost
// little memory. [Upgrader.ReadBufferSize] and [Upgrader.WriteBufferSize]
// set the size of the borrowed buffers; [Upgrader.WriteBufferPool] lets
// the application supply the pool for write buffers. Copying a large
// message from [Conn.NextReader] to [Conn.NextWriter] with io.Copy borrows
// a buffer as large as the incoming frame (up to 2 MiB) for that message
// only, so it goes out in a few large frames without allocating. The
// goroutine of an idle connection stays on Go's minimal 2 KiB stack when
// the handler keeps its own frame small (128 bytes of locals is what the
// tests hold it to; larger state belongs in a struct on the heap): the
// library's paths from a read or write down to the socket are kept shallow
// for that, since a stack that grew never shrinks back while the connection
// waits; answering a peer's ping with the default handler keeps it there
// too (the pong is written before the reader waits again, from a shallow
// frame). Slices returned by ReadMessage belong to the caller; slices
// passed to write methods are not retained after the method returns.
//
// # Broadcasting
//
// To send one message to many connections, frame it once with
// [NewPreparedMessage] and hand it to each connection's send queue with
// [Conn.QueuePreparedMessage], which never blocks: a small set of shared
// writer goroutines sends what each connection has queued, and the
// messages that pile up on a connection while it is being written go out
// together in one writev. A slow reader fills only its own queue
// ([Conn.SetQueueLimit], [DefaultQueueLimit] messages by default) and gets
// [ErrQueueFull]; a broadcaster usually closes it:
//
//	pm, _ := websocket.NewPreparedMessage(websocket.TextMessage, text)
//	for _, c := range subscribers {
//		if err := c.QueuePreparedMessage(pm); err != nil {
//			c.Close() // too slow, or gone
//		}
//	}
//
// [Conn.WritePreparedMessage] writes one prepared message synchronously, as
// in gorilla; [Conn.WritePreparedMessages] writes several with one system
// call.
//
// # Serving without net/http
//
// [Upgrader.Serve] accepts connections from a net.Listener (plain or TLS)
// and does the opening handshake itself ([Upgrader.UpgradeConn]: its own
// request parser refuses what net/http's server refuses, then the request
// is answered as Upgrade answers it, with the same checks and refusals),
// then runs the handler in the connection's own goroutine. Reading the
// request is bounded by [Upgrader.HandshakeTimeout]
// ([DefaultHandshakeReadTimeout] when zero) and 1 MiB;
// [Upgrader.MaxConns] bounds the connections open at once. Without
// net/http's per-connection server state, an upgrade costs less CPU and an
// idle connection less memory (about 5 KiB per connection for ten thousand,
// against about 6 KiB behind net/http, in the README's benchmark). It suits
// a listener that serves WebSocket only; next to other HTTP routes, use
// Upgrade in a handler.
//
//	ln, err := net.Listen("tcp", ":8080")
//	...
//	err = upgrader.Serve(ln, func(c *websocket.Conn, r *http.Request) {
//		for { ... } // read and write as in any handler
//	})
//
// # Client
//
// [Dialer] has gorilla's fields and methods. Every frame a client sends is
// masked with a fresh key from crypto/rand (RFC 6455 §5.3). It is stricter
// than gorilla's in a few places, each to bound what a server can make it
// do: a zero Dialer's handshake is bounded by [DefaultHandshakeTimeout]
// (gorilla's zero Dialer has no bound), the response head by 1 MiB, a
// subprotocol the client did not offer fails the handshake, and
// NetDialTLSContext together with a proxy is refused rather than skipped.
// Proxy accepts http://, socks5:// and socks5h:// URLs.
//
// # HTTP/2
//
// With [Upgrader.EnableHTTP2], Upgrade also accepts a WebSocket opened as
// an extended CONNECT on an HTTP/2 stream (RFC 8441), which net/http lets
// through when the process starts with GODEBUG=http2xconnect=1. The Conn
// then runs over that stream, which ends when the handler returns: the
// handler must wait for [Conn.Done], and calls on a Conn whose handler
// returned fail with [ErrHandlerReturned]. Off (the default), such a
// request gets 501 Not Implemented. The Dialer, UpgradeConn and Serve speak
// HTTP/1.1 only.
//
// # Legacy hixie-76
//
// Before RFC 6455, browsers spoke draft-hixie-thewebsocketprotocol-76
// (Chrome 6–13, Safari 5.0–5.1, iOS 4–5); kiosks and embedded clients
// built on them still do. With [Upgrader.EnableHixie76] the same Upgrade
// call recognises their handshake from its headers, answers its MD5
// challenge and returns the same [*Conn], which then carries text messages
// only: binary, ping and pong writes fail with [ErrUnsupportedMessage],
// and [Conn.Hixie76] tells a handler which protocol it speaks. Hixie-76
// frames are not masked, which can confuse proxies on the way, so the
// protocol is off by default and such requests get 426 Upgrade Required.
package websocket
