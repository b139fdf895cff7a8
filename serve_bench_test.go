package websocket

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// benchRequests are the opening handshakes BenchmarkUpgradeConn answers:
// the least a client sends, and what a browser sends.
var benchRequests = []struct{ name, req string }{
	{"minimal", "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
	{"browser", "GET /chat?room=7 HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nPragma: no-cache\r\n" +
		"Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n" +
		"Upgrade: websocket\r\nOrigin: http://example.com\r\nSec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\nCookie: session=0123456789abcdef\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"},
}

// BenchmarkUpgradeConn measures the server's side of one opening
// handshake through UpgradeConn (the path Serve takes): reading and
// parsing the request, the checks, the 101 response and the Conn. The
// connection is an in-memory one so that the figure is the handshake's
// own cost, without the kernel's; BenchmarkUpgrade measures a whole
// handshake over loopback.
func BenchmarkUpgradeConn(b *testing.B) {
	u := &Upgrader{EnableCompression: true}
	for _, br := range benchRequests {
		b.Run(br.name, func(b *testing.B) {
			nc := &memConn{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				nc.in.Reset(br.req)
				c, _, err := u.UpgradeConn(nc)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// memConn is a net.Conn for benchmarks: reads come from in, writes are
// dropped, deadlines are ignored.
type memConn struct {
	in strings.Reader
}

var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

func (m *memConn) Read(p []byte) (int, error) {
	n, err := m.in.Read(p)
	if err == io.EOF && n == 0 {
		return 0, io.EOF
	}
	return n, nil
}
func (m *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return memAddr }
func (m *memConn) RemoteAddr() net.Addr             { return memAddr }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }
