package h2test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/browsertest"
)

// browserPage opens a wss:// WebSocket to its own origin, sends a text
// and a 70,000-byte binary message, closes with 1000 once both came back,
// and leaves what happened in window.result.
const browserPage = `<!doctype html><title>h2</title><script>
window.result = null;
const got = [];
const ws = new WebSocket("wss://" + location.host + "/ws", ["chat"]);
ws.binaryType = "arraybuffer";
ws.onopen = () => { ws.send("hello over h2"); ws.send(new Uint8Array(70000).fill(7)); };
ws.onmessage = (e) => {
  got.push(typeof e.data === "string" ? e.data : e.data.byteLength);
  if (got.length === 2) ws.close(1000, "done");
};
ws.onclose = (e) => {
  window.result = {code: e.code, got: got, protocol: ws.protocol, extensions: ws.extensions};
};
</script>`

type browserResult struct {
	Code       int           `json:"code"`
	Got        []interface{} `json:"got"`
	Protocol   string        `json:"protocol"`
	Extensions string        `json:"extensions"`
}

// browserServer serves browserPage at / and u at /ws over HTTPS/HTTP/2,
// recording the protocol and client address of each request.
func browserServer(t *testing.T, u *websocket.Upgrader) (url string, seen func() []string) {
	var mu sync.Mutex
	var log []string
	note := func(r *http.Request) {
		mu.Lock()
		log = append(log, r.Proto+" "+r.Method+" "+r.URL.Path+" from "+r.RemoteAddr)
		mu.Unlock()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		note(r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(browserPage))
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		note(r)
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		echo(c, r)
		<-c.Done()
	})
	s := NewServer(t, mux, nil)
	return s.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), log...)
	}
}

// launch starts Chromium with certificate errors ignored: the server's
// certificate is httptest's self-signed one.
func launch(t *testing.T) *browsertest.Browser {
	flags := browsertest.Flags
	browsertest.Flags = append(append([]string(nil), flags...), "--ignore-certificate-errors")
	defer func() { browsertest.Flags = flags }()
	return browsertest.Launch(t)
}

// TestH2_chromium: a page loaded over HTTPS/HTTP/2 opens wss:// to its own
// origin; Chromium sends it as an extended CONNECT on the connection it
// already has, once the server advertised SETTINGS_ENABLE_CONNECT_PROTOCOL.
func TestH2_chromium(t *testing.T) {
	b := launch(t)
	u := &websocket.Upgrader{EnableHTTP2: true, EnableCompression: true, Subprotocols: []string{"chat"}}
	url, seen := browserServer(t, u)
	p := b.NewPage("h2", url+"/")
	p.WaitFor("window.result !== null")
	var res browserResult
	p.Eval("window.result", &res)
	log := seen()
	t.Logf("server saw: %q; page: %+v", log, res)
	if res.Code != 1000 || len(res.Got) != 2 || res.Got[0] != "hello over h2" || res.Got[1] != float64(70000) {
		t.Errorf("page result %+v, want close 1000 after both echoes", res)
	}
	if res.Protocol != "chat" || !strings.Contains(res.Extensions, "permessage-deflate") {
		t.Errorf("negotiated %q / %q, want chat / permessage-deflate", res.Protocol, res.Extensions)
	}
	// The page first; the browser may ask for /favicon.ico in between.
	ws := -1
	for i, l := range log {
		if strings.HasPrefix(l, "HTTP/2.0 CONNECT /ws from ") {
			ws = i
			break
		}
	}
	if len(log) < 2 || !strings.HasPrefix(log[0], "HTTP/2.0 GET / from ") || ws < 1 {
		t.Fatalf("server saw %q, want the page and then the WebSocket over HTTP/2", log)
	}
	if from := func(s string) string { return s[strings.LastIndex(s, " ")+1:] }; from(log[0]) != from(log[ws]) {
		t.Errorf("the WebSocket came on another connection than the page: %q", log)
	}
}

// TestH2_chromium_refusedDoesNotFallBack records the cost of the default:
// with the setting advertised (GODEBUG) but EnableHTTP2 false, Chromium's
// WebSocket is refused (501) and fails with 1006; it does not retry over
// HTTP/1.1.
func TestH2_chromium_refusedDoesNotFallBack(t *testing.T) {
	b := launch(t)
	url, seen := browserServer(t, &websocket.Upgrader{})
	p := b.NewPage("h2-refused", url+"/")
	p.WaitFor("window.result !== null")
	var res browserResult
	p.Eval("window.result", &res)
	log := seen()
	t.Logf("server saw: %q; page: %+v", log, res)
	if res.Code != 1006 {
		t.Errorf("page's WebSocket closed with %d, want 1006", res.Code)
	}
	for _, l := range log {
		if strings.HasPrefix(l, "HTTP/1.1") {
			t.Errorf("Chromium fell back to HTTP/1.1 (%q): update EnableHTTP2's doc and the README", l)
		}
	}
}
