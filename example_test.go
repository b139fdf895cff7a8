package websocket_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/hybi/websocket"
)

// dialRaw opens a WebSocket connection the way any client does, with an
// HTTP/1.1 upgrade request, and returns the raw byte stream: the examples
// then speak frames by hand, so the server's side is all that is shown.
func dialRaw(url string) io.ReadWriteCloser {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		log.Fatal(resp.Status)
	}
	return resp.Body.(io.ReadWriteCloser)
}

// maskedHello is the frame of RFC 6455 §5.7: a masked text message "Hello",
// as a client sends it.
var maskedHello = []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}

// An echo server: every message goes back with its type.
func Example_echo() {
	var upgrader websocket.Upgrader // the zero value is ready to use

	echo := func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has answered the client with an HTTP error
		}
		defer conn.Close()
		for {
			mt, p, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if err := conn.WriteMessage(mt, p); err != nil {
				return
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(echo))
	defer srv.Close()

	client := dialRaw(srv.URL)
	defer client.Close()
	client.Write(maskedHello)
	reply := make([]byte, 7)
	io.ReadFull(client, reply)
	fmt.Printf("% x = %q\n", reply[:2], reply[2:])
	// Output: 81 05 = "Hello"
}

// Upgrade refuses what is not a WebSocket handshake with an HTTP error and
// a one-line reason.
func ExampleUpgrader_Upgrade_refused() {
	upgrader := websocket.Upgrader{Subprotocols: []string{"chat.v2", "chat.v1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := upgrader.Upgrade(w, r, nil)
		var he websocket.HandshakeError
		if errors.As(err, &he) {
			fmt.Println("server:", he.Status, err)
		}
	}))
	defer srv.Close()

	resp, err := http.Get(srv.URL) // a plain GET, no upgrade
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("client: %s: %s", resp.Status, body)
	// Output:
	// server: 400 websocket: not a websocket handshake: 'upgrade' token not found in 'Connection' header
	// client: 400 Bad Request: websocket: not a websocket handshake: 'upgrade' token not found in 'Connection' header
}

// CloseHandshake sends a close message, waits for the peer's answer and
// closes the socket.
func ExampleConn_CloseHandshake() {
	done := make(chan error)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{CloseTimeout: time.Second}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		done <- conn.CloseHandshake(websocket.CloseGoingAway, "restarting")
	}))
	defer srv.Close()

	client := dialRaw(srv.URL)
	defer client.Close()
	frame := make([]byte, 2+2+len("restarting"))
	io.ReadFull(client, frame)
	fmt.Printf("client got: % x %q\n", frame[:4], frame[4:])
	// The client answers with an empty close frame (masked, key 0).
	client.Write([]byte{0x88, 0x80, 0, 0, 0, 0})
	fmt.Println("CloseHandshake:", <-done)
	_, err := client.Read(frame)
	fmt.Println("then the server closed the connection:", err == io.EOF)
	// Output:
	// client got: 88 0c 03 e9 "restarting"
	// CloseHandshake: <nil>
	// then the server closed the connection: true
}

// A broadcast frames the message once for every connection.
func ExampleNewPreparedMessage() {
	conns := make(chan *websocket.Conn, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conns <- conn
		conn.ReadMessage() // serve until the client leaves
		conn.Close()
	}))
	defer srv.Close()

	a, b := dialRaw(srv.URL), dialRaw(srv.URL)
	defer a.Close()
	defer b.Close()
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte("news"))
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := (<-conns).WritePreparedMessage(pm); err != nil {
			log.Fatal(err)
		}
	}
	for _, client := range []io.Reader{a, b} {
		frame := make([]byte, 6)
		io.ReadFull(client, frame)
		fmt.Printf("% x %q\n", frame[:2], frame[2:])
	}
	// Output:
	// 81 04 "news"
	// 81 04 "news"
}

// A close message payload is the status code, big-endian, and a reason.
func ExampleFormatCloseMessage() {
	fmt.Printf("% x\n", websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	fmt.Printf("%d bytes for CloseNoStatusReceived\n", len(websocket.FormatCloseMessage(websocket.CloseNoStatusReceived, "")))
	// Output:
	// 03 e8 62 79 65
	// 0 bytes for CloseNoStatusReceived
}

// Read errors tell a clean goodbye from a dropped connection; wrapped
// errors match too.
func ExampleIsUnexpectedCloseError() {
	goingAway := fmt.Errorf("reading: %w", &websocket.CloseError{Code: websocket.CloseGoingAway})
	dropped := &websocket.CloseError{Code: websocket.CloseAbnormalClosure, Text: "unexpected EOF"}
	for _, err := range []error{goingAway, dropped} {
		fmt.Println(websocket.IsUnexpectedCloseError(err, websocket.CloseGoingAway, websocket.CloseNormalClosure))
	}
	// Output:
	// false
	// true
}

// A WebSocket-only listener served without net/http: Serve does the
// handshake on each accepted connection and runs the handler in its
// goroutine.
func ExampleUpgrader_Serve() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	upgrader := websocket.Upgrader{}
	go upgrader.Serve(ln, func(c *websocket.Conn, r *http.Request) {
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, append([]byte(r.URL.Path+": "), p...))
		}
	})

	c, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, p, _ := c.ReadMessage()
	fmt.Println(string(p))
	// Output: /echo: hello
}

// A broadcast: the message is framed once and queued on every
// connection; QueuePreparedMessage never waits for a reader.
func ExampleConn_QueuePreparedMessage() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	joined := make(chan *websocket.Conn)
	go (&websocket.Upgrader{}).Serve(ln, func(c *websocket.Conn, r *http.Request) {
		joined <- c
		c.ReadMessage() // until the client goes
	})

	var clients, subscribers []*websocket.Conn
	for i := 0; i < 3; i++ {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/", nil)
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
		subscribers = append(subscribers, <-joined)
	}

	for _, text := range []string{"first", "second"} {
		pm, _ := websocket.NewPreparedMessage(websocket.TextMessage, []byte(text))
		for _, s := range subscribers {
			if err := s.QueuePreparedMessage(pm); err != nil {
				s.Close() // too slow, or gone
			}
		}
	}
	for i, c := range clients {
		_, a, _ := c.ReadMessage()
		_, b, _ := c.ReadMessage()
		fmt.Printf("client %d: %s, %s\n", i, a, b)
	}
	// Output:
	// client 0: first, second
	// client 1: first, second
	// client 2: first, second
}
