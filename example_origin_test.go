package websocket_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hybi/websocket"
)

// The default origin check accepts a page whose origin names the host the
// request was sent to. Under DNS rebinding that host is the attacker's own
// name, re-resolved to this server's address: the browser sends
// Origin: http://attacker.example:PORT with Host: attacker.example:PORT,
// and the same-origin rule holds. A server meant to be reached under a few
// names (a local development server, an intranet service) checks the Host
// against them first, then applies the same-origin rule, comparing exactly
// (browsers send the origin's host in lower case).
func ExampleUpgrader_checkOriginHostAllowlist() {
	names := map[string]bool{"localhost": true, "127.0.0.1": true}
	upgrader := websocket.Upgrader{
		CheckOrigin: func(r *http.Request) bool {
			host, _, err := net.SplitHostPort(r.Host)
			if err != nil {
				host = r.Host // no port
			}
			if !names[host] {
				return false // a name this server is not known by
			}
			origin := r.Header.Values("Origin")
			if len(origin) == 0 {
				return true // not a browser
			}
			return len(origin) == 1 &&
				(origin[0] == "http://"+r.Host || origin[0] == "https://"+r.Host)
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade answered 403
		}
		c.Close()
	}))
	defer srv.Close()
	hostPort := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := net.SplitHostPort(hostPort)

	for _, host := range []string{hostPort, "attacker.example:" + port} {
		h := http.Header{"Host": {host}, "Origin": {"http://" + host}}
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+hostPort+"/", h)
		name, _, _ := strings.Cut(host, ":")
		switch {
		case err == nil:
			fmt.Println(name, "upgraded")
			c.Close()
		case resp != nil:
			fmt.Println(name, "refused:", resp.Status)
		default:
			fmt.Println(name, err)
		}
	}
	// Output:
	// 127.0.0.1 upgraded
	// attacker.example refused: 403 Forbidden
}
