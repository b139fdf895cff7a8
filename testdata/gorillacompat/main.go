// Command gorillacompat is a WebSocket server written the way the
// gorilla/websocket documentation describes its server API, to prove that
// moving from gorilla to this package is an import-path change.
//
// Followed: gorilla/websocket v1.5.3 (published 2024-06-14), the package
// documentation at pkg.go.dev/github.com/gorilla/websocket@v1.5.3, its
// doc.go, example_test.go and examples/{chat,echo,filewatch}.
//
// It uses every identifier gorilla exports for the server side: the message
// types and close codes, Upgrader and all its fields, the deprecated
// package-level Upgrade, ReadJSON and WriteJSON, every server-side Conn
// method, PreparedMessage, CloseError, HandshakeError (a value type in
// gorilla), the Err* sentinels, BufferPool and JoinMessages; client.go
// uses the client side (Dialer with all its fields, DefaultDialer,
// NewClient).
//
// Written against gorilla this file would say
//
//	import "github.com/gorilla/websocket"
//
// and nothing else would differ. compat_test.go builds and vets it.
package main

import (
	"compress/flate"
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	websocket "github.com/hybi/websocket"
)

// Timing constants, as in gorilla's examples/chat.
const (
	writeWait      = 10 * time.Second
	pongWait       = 60 * time.Second
	pingPeriod     = (pongWait * 9) / 10
	maxMessageSize = 512
)

// The signatures a gorilla program may rely on, checked exactly: each
// method expression must have gorilla's type, not merely a compatible one.
var (
	_ func(*websocket.Upgrader, http.ResponseWriter, *http.Request, http.Header) (*websocket.Conn, error) = (*websocket.Upgrader).Upgrade
	_ func(http.ResponseWriter, *http.Request, http.Header, int, int) (*websocket.Conn, error)            = websocket.Upgrade
	_ func(*http.Request) bool                                                                            = websocket.IsWebSocketUpgrade
	_ func(*http.Request) []string                                                                        = websocket.Subprotocols

	_ func(*websocket.Conn) (int, []byte, error)                                     = (*websocket.Conn).ReadMessage
	_ func(*websocket.Conn, int, []byte) error                                       = (*websocket.Conn).WriteMessage
	_ func(*websocket.Conn) (int, io.Reader, error)                                  = (*websocket.Conn).NextReader
	_ func(*websocket.Conn, int) (io.WriteCloser, error)                             = (*websocket.Conn).NextWriter
	_ func(*websocket.Conn, int, []byte, time.Time) error                            = (*websocket.Conn).WriteControl
	_ func(*websocket.Conn, *websocket.PreparedMessage) error                        = (*websocket.Conn).WritePreparedMessage
	_ func(*websocket.Conn, time.Time) error                                         = (*websocket.Conn).SetReadDeadline
	_ func(*websocket.Conn, time.Time) error                                         = (*websocket.Conn).SetWriteDeadline
	_ func(*websocket.Conn, int64)                                                   = (*websocket.Conn).SetReadLimit
	_ func(*websocket.Conn, func(appData string) error)                              = (*websocket.Conn).SetPingHandler
	_ func(*websocket.Conn) func(appData string) error                               = (*websocket.Conn).PingHandler
	_ func(*websocket.Conn, func(appData string) error)                              = (*websocket.Conn).SetPongHandler
	_ func(*websocket.Conn) func(appData string) error                               = (*websocket.Conn).PongHandler
	_ func(*websocket.Conn, func(code int, text string) error)                       = (*websocket.Conn).SetCloseHandler
	_ func(*websocket.Conn) func(code int, text string) error                        = (*websocket.Conn).CloseHandler
	_ func(*websocket.Conn) string                                                   = (*websocket.Conn).Subprotocol
	_ func(*websocket.Conn) net.Addr                                                 = (*websocket.Conn).LocalAddr
	_ func(*websocket.Conn) net.Addr                                                 = (*websocket.Conn).RemoteAddr
	_ func(*websocket.Conn) net.Conn                                                 = (*websocket.Conn).NetConn
	_ func(*websocket.Conn) net.Conn                                                 = (*websocket.Conn).UnderlyingConn
	_ func(*websocket.Conn) error                                                    = (*websocket.Conn).Close
	_ func(*websocket.Conn, bool)                                                    = (*websocket.Conn).EnableWriteCompression
	_ func(*websocket.Conn, int) error                                               = (*websocket.Conn).SetCompressionLevel
	_ func(*websocket.Conn, interface{}) error                                       = (*websocket.Conn).ReadJSON
	_ func(*websocket.Conn, interface{}) error                                       = (*websocket.Conn).WriteJSON
	_ func(*websocket.Conn, interface{}) error                                       = websocket.ReadJSON
	_ func(*websocket.Conn, interface{}) error                                       = websocket.WriteJSON
	_ func(*websocket.Conn, string) io.Reader                                        = websocket.JoinMessages
	_ func(int, []byte) (*websocket.PreparedMessage, error)                          = websocket.NewPreparedMessage
	_ func(int, string) []byte                                                       = websocket.FormatCloseMessage
	_ func(error, ...int) bool                                                       = websocket.IsCloseError
	_ func(error, ...int) bool                                                       = websocket.IsUnexpectedCloseError
	_ func(*websocket.CloseError) string                                             = (*websocket.CloseError).Error
	_ func(websocket.HandshakeError) string                                          = websocket.HandshakeError.Error
	_ error                                                                          = websocket.HandshakeError{}
	_ error                                                                          = &websocket.CloseError{Code: websocket.CloseNormalClosure, Text: ""}
	_ websocket.BufferPool                                                           = &sync.Pool{}
	_ interface{ Get() interface{} }                                                 = websocket.BufferPool(nil)
	_ interface{ Put(interface{}) }                                                  = websocket.BufferPool(nil)
	_ func(*websocket.Upgrader) func(*http.Request) bool                             = func(u *websocket.Upgrader) func(*http.Request) bool { return u.CheckOrigin }
	_ func(*websocket.Upgrader) func(http.ResponseWriter, *http.Request, int, error) = func(u *websocket.Upgrader) func(http.ResponseWriter, *http.Request, int, error) { return u.Error }
)

// The message types and close codes are untyped constants in gorilla, so
// they mix with plain ints.
var (
	messageTypes = []int{
		websocket.TextMessage,
		websocket.BinaryMessage,
		websocket.CloseMessage,
		websocket.PingMessage,
		websocket.PongMessage,
	}
	closeCodes = []int{
		websocket.CloseNormalClosure,
		websocket.CloseGoingAway,
		websocket.CloseProtocolError,
		websocket.CloseUnsupportedData,
		websocket.CloseNoStatusReceived,
		websocket.CloseAbnormalClosure,
		websocket.CloseInvalidFramePayloadData,
		websocket.ClosePolicyViolation,
		websocket.CloseMessageTooBig,
		websocket.CloseMandatoryExtension,
		websocket.CloseInternalServerErr,
		websocket.CloseServiceRestart,
		websocket.CloseTryAgainLater,
		websocket.CloseTLSHandshake,
	}
	sentinels = []error{
		websocket.ErrCloseSent,
		websocket.ErrReadLimit,
		websocket.ErrBadHandshake,
	}
)

// writeBufferPool is shared by every connection with the same
// WriteBufferSize, as the Upgrader.WriteBufferPool documentation asks.
var writeBufferPool websocket.BufferPool = &sync.Pool{}

var upgrader = websocket.Upgrader{
	HandshakeTimeout:  5 * time.Second,
	ReadBufferSize:    1024,
	WriteBufferSize:   1024,
	WriteBufferPool:   writeBufferPool,
	Subprotocols:      []string{"chat.v2", "chat.v1"},
	EnableCompression: true,
	Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
		http.Error(w, http.StatusText(status)+": "+reason.Error(), status)
	},
	CheckOrigin: func(r *http.Request) bool {
		return r.Header.Get("Origin") == "" || r.Header.Get("Origin") == "http://"+r.Host
	},
}

var (
	mu      sync.Mutex
	clients = make(map[*websocket.Conn]bool)
)

func main() {
	addr := flag.String("addr", "localhost:8080", "http service address")
	flag.Parse()
	log.Printf("%d message types, %d close codes, %d sentinel errors", len(messageTypes), len(closeCodes), len(sentinels))

	http.HandleFunc("/echo", echo)
	http.HandleFunc("/stream", stream)
	http.HandleFunc("/json", jsonHandler)
	http.HandleFunc("/broadcast", broadcastHandler)
	http.HandleFunc("/lines", lines)
	http.HandleFunc("/legacy", legacy)
	log.Fatal(http.ListenAndServe(*addr, nil))
}

// upgrade calls Upgrader.Upgrade after the checks a gorilla program might
// make first, and reports a handshake failure the way gorilla's filewatch
// example does.
func upgrade(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "not a websocket handshake", http.StatusBadRequest)
		return nil
	}
	log.Printf("client offers subprotocols %q", websocket.Subprotocols(r))
	responseHeader := http.Header{"Set-Cookie": {"session=1"}}
	c, err := upgrader.Upgrade(w, r, responseHeader)
	if err != nil {
		switch e := err.(type) {
		case websocket.HandshakeError:
			log.Printf("handshake error: %v", e)
		default:
			log.Printf("upgrade: %v", err)
		}
		if _, ok := err.(websocket.HandshakeError); !ok {
			log.Println("not a HandshakeError")
		}
		var he websocket.HandshakeError
		if errors.As(err, &he) {
			log.Printf("handshake error (errors.As): %s", he.Error())
		}
		return nil
	}
	log.Printf("%s -> %s subprotocol %q", c.RemoteAddr(), c.LocalAddr(), c.Subprotocol())
	return c
}

// echo is gorilla's documented ReadMessage/WriteMessage loop, with the
// read limit, deadlines and handlers of its chat example.
func echo(w http.ResponseWriter, r *http.Request) {
	c := upgrade(w, r)
	if c == nil {
		return
	}
	defer c.Close()

	c.SetReadLimit(maxMessageSize)
	c.SetReadDeadline(time.Now().Add(pongWait))
	c.SetPongHandler(func(string) error { c.SetReadDeadline(time.Now().Add(pongWait)); return nil })

	defaultPing := c.PingHandler()
	c.SetPingHandler(func(appData string) error {
		log.Printf("ping %q", appData)
		return defaultPing(appData)
	})
	_ = c.PongHandler()
	defaultClose := c.CloseHandler()
	c.SetCloseHandler(func(code int, text string) error {
		log.Printf("peer closed: %d %q", code, text)
		return defaultClose(code, text)
	})

	c.EnableWriteCompression(true)
	if err := c.SetCompressionLevel(flate.BestSpeed); err != nil {
		log.Println("compression level:", err)
	}

	done := make(chan struct{})
	defer close(done)
	go ping(c, done)

	for {
		mt, message, err := c.ReadMessage()
		if err != nil {
			if websocket.IsUnexpectedCloseError(err, websocket.CloseGoingAway, websocket.CloseAbnormalClosure) {
				log.Printf("error: %v", err)
			}
			if err == websocket.ErrReadLimit {
				log.Println("message too big")
			}
			if ce, ok := err.(*websocket.CloseError); ok {
				log.Printf("close %d %q", ce.Code, ce.Text)
			}
			return
		}
		c.SetWriteDeadline(time.Now().Add(writeWait))
		if err := c.WriteMessage(mt, message); err != nil {
			if err == websocket.ErrCloseSent {
				log.Println("close already sent")
			}
			return
		}
	}
}

func ping(c *websocket.Conn, done <-chan struct{}) {
	ticker := time.NewTicker(pingPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			if err := c.WriteControl(websocket.PingMessage, []byte{}, time.Now().Add(writeWait)); err != nil {
				return
			}
		case <-done:
			return
		}
	}
}

// stream is gorilla's documented NextReader/NextWriter echo.
func stream(w http.ResponseWriter, r *http.Request) {
	c := upgrade(w, r)
	if c == nil {
		return
	}
	defer c.NetConn().Close()
	_ = c.UnderlyingConn().LocalAddr()
	for {
		mt, rd, err := c.NextReader()
		if err != nil {
			return
		}
		wr, err := c.NextWriter(mt)
		if err != nil {
			return
		}
		if _, err := io.Copy(wr, rd); err != nil {
			return
		}
		if err := wr.Close(); err != nil {
			return
		}
	}
}

type message struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

func jsonHandler(w http.ResponseWriter, r *http.Request) {
	c := upgrade(w, r)
	if c == nil {
		return
	}
	defer c.Close()
	for {
		var m message
		if err := c.ReadJSON(&m); err != nil {
			break
		}
		if err := c.WriteJSON(m); err != nil {
			break
		}
		// The deprecated package-level forms.
		if err := websocket.ReadJSON(c, &m); err != nil {
			break
		}
		if err := websocket.WriteJSON(c, &m); err != nil {
			break
		}
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait)); err != nil {
		log.Println("write close:", err)
	}
}

// broadcastHandler sends each received message to every client as a
// PreparedMessage, encoded once.
func broadcastHandler(w http.ResponseWriter, r *http.Request) {
	c := upgrade(w, r)
	if c == nil {
		return
	}
	mu.Lock()
	clients[c] = true
	mu.Unlock()
	defer func() {
		mu.Lock()
		delete(clients, c)
		mu.Unlock()
		c.Close()
	}()
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
				return
			}
			log.Println("read:", err)
			return
		}
		var pm *websocket.PreparedMessage
		pm, err = websocket.NewPreparedMessage(websocket.TextMessage, p)
		if err != nil {
			log.Println("prepare:", err)
			return
		}
		mu.Lock()
		for client := range clients {
			if err := client.WritePreparedMessage(pm); err != nil {
				log.Println("broadcast:", err)
			}
		}
		mu.Unlock()
	}
}

// lines reads newline-terminated records spanning messages.
func lines(w http.ResponseWriter, r *http.Request) {
	c := upgrade(w, r)
	if c == nil {
		return
	}
	defer c.Close()
	n, err := io.Copy(io.Discard, websocket.JoinMessages(c, "\n"))
	log.Printf("read %d bytes: %v", n, err)
}

// legacy uses the deprecated package-level Upgrade, which checks no origin.
func legacy(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Upgrade(w, r, nil, 1024, 1024)
	if _, ok := err.(websocket.HandshakeError); ok {
		http.Error(w, "Not a websocket handshake", http.StatusBadRequest)
		return
	} else if err != nil {
		log.Println(err)
		return
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{0x01}); err != nil {
		log.Println(err)
	}
	if err := c.WriteMessage(websocket.PongMessage, nil); err != nil {
		log.Println(err)
	}
}
