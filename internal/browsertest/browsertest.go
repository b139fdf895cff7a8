// Package browsertest drives a real headless Chromium from Go tests, with
// nothing but the standard library: it speaks the Chrome DevTools Protocol
// (CDP) over --remote-debugging-pipe, where Chromium reads JSON commands,
// each ended by a NUL byte, from file descriptor 3 and writes its answers
// and events the same way to file descriptor 4. No WebSocket client, no
// third-party driver, no browser download: it uses the Chromium the
// machine has (Debian's chromium package, or Google Chrome).
//
// [Launch] starts a browser for a test and stops it when the test ends;
// [Browser.NewPage] opens a tab; [Page.Eval], [Page.WaitFor],
// [Page.Type] and [Page.Press] run script, wait for the page to reach a
// state, and type as a user would. Helpers fail the test themselves and
// must be called from the test's goroutine.
//
// When no browser is found the test is skipped, except under CI=true,
// where it fails: CI must not go green without having run it.
package browsertest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultTimeout bounds each CDP command and each [Page.WaitFor].
const DefaultTimeout = 15 * time.Second

// Flags are the command-line flags every browser is started with, besides
// --user-data-dir (a fresh directory per browser) and
// --remote-debugging-pipe. The first eight keep a headless Chromium off
// the network beyond loopback; the rest stop it from throttling the
// timers of tabs it considers in the background, since a test drives
// several tabs at once.
var Flags = []string{
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-background-timer-throttling",
	"--disable-backgrounding-occluded-windows",
	"--disable-renderer-backgrounding",
	"--disable-dev-shm-usage",
	"--window-size=800,600",
}

// candidates are the names the browser is looked up by, in order, after
// the CHROMIUM environment variable.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Find returns the path of the browser to use: $CHROMIUM if set, else the
// first of chromium, chromium-browser, google-chrome and
// google-chrome-stable found in $PATH.
func Find() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("none of %s in $PATH and $CHROMIUM not set", strings.Join(candidates, ", "))
}

// Browser is a running Chromium and the CDP connection to it.
type Browser struct {
	t    testing.TB
	cmd  *exec.Cmd
	out  *lockedBuffer // the browser's stdout and stderr, for failures
	w    *os.File      // CDP commands to the browser (its fd 3)
	r    *os.File      // CDP messages from the browser (its fd 4)
	wmu  sync.Mutex
	done chan struct{} // closed when the reading goroutine has ended

	mu      sync.Mutex
	nextID  int
	pending map[int]chan message
	pages   map[string]*Page // by session ID
	readErr error
}

// message is any CDP message: a response (ID set) or an event (Method set).
type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// Launch starts a headless browser with a fresh profile and returns it;
// it is stopped, and its profile removed, when the test ends. Without a
// browser the test is skipped, or fails when CI=true.
func Launch(t testing.TB) *Browser {
	t.Helper()
	bin, err := Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browsertest: no Chromium (CI=true, so this fails instead of skipping; "+
				"install it with apt-get install chromium, or set CHROMIUM): %v", err)
		}
		t.Skipf("browsertest: no Chromium, skipping (apt-get install chromium, or set CHROMIUM): %v", err)
	}
	profile := t.TempDir()

	// toBrowser: we write, the browser reads on fd 3.
	// fromBrowser: the browser writes on fd 4, we read.
	toBrowserR, toBrowserW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromBrowserR, fromBrowserW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]string(nil), Flags...),
		"--user-data-dir="+profile,
		"--remote-debugging-pipe",
		"about:blank")
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = []*os.File{toBrowserR, fromBrowserW} // fds 3 and 4
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 2 * time.Second // helpers that keep stdout open
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("browsertest: start %s: %v", bin, err)
	}
	// The browser has its own copies now.
	toBrowserR.Close()
	fromBrowserW.Close()

	b := &Browser{
		t:       t,
		cmd:     cmd,
		out:     out,
		w:       toBrowserW,
		r:       fromBrowserR,
		done:    make(chan struct{}),
		pending: make(map[int]chan message),
		pages:   make(map[string]*Page),
	}
	go b.readLoop()
	t.Cleanup(b.close)

	var v struct {
		Product string `json:"product"`
	}
	if err := b.call("", "Browser.getVersion", nil, &v); err != nil {
		t.Fatalf("browsertest: %s did not answer on the DevTools pipe: %v\n%s", bin, err, out.tail())
	}
	t.Logf("browsertest: %s (%s)", v.Product, bin)
	return b
}

// readLoop reads NUL-terminated messages from the browser until the pipe
// ends, handing responses to their callers and events to their pages.
func (b *Browser) readLoop() {
	defer close(b.done)
	br := bufio.NewReaderSize(b.r, 1<<16)
	var err error
	for {
		var raw []byte
		raw, err = br.ReadBytes(0)
		if err != nil {
			break
		}
		var m message
		if jerr := json.Unmarshal(raw[:len(raw)-1], &m); jerr != nil {
			err = fmt.Errorf("bad CDP message %.200q: %w", raw, jerr)
			break
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch := b.pending[m.ID]; ch != nil {
				delete(b.pending, m.ID)
				ch <- m
			}
		} else if p := b.pages[m.SessionID]; p != nil {
			p.event(m)
		}
		b.mu.Unlock()
	}
	b.mu.Lock()
	if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
		err = errors.New("the browser closed the DevTools pipe")
	}
	b.readErr = err
	for id, ch := range b.pending {
		delete(b.pending, id)
		close(ch)
	}
	b.mu.Unlock()
}

// call sends a CDP command (to a page's session when sessionID is set),
// waits for its response and decodes the result into out, if not nil.
func (b *Browser) call(sessionID, method string, params, out interface{}) error {
	b.mu.Lock()
	if b.readErr != nil {
		err := b.readErr
		b.mu.Unlock()
		return fmt.Errorf("%s: %w", method, err)
	}
	b.nextID++
	id := b.nextID
	ch := make(chan message, 1)
	b.pending[id] = ch
	b.mu.Unlock()

	req := map[string]interface{}{"id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	if sessionID != "" {
		req["sessionId"] = sessionID
	}
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	b.wmu.Lock()
	b.w.SetWriteDeadline(time.Now().Add(DefaultTimeout))
	_, err = b.w.Write(append(data, 0))
	b.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: write to the DevTools pipe: %w", method, err)
	}

	timer := time.NewTimer(DefaultTimeout)
	defer timer.Stop()
	var m message
	var ok bool
	select {
	case m, ok = <-ch:
	case <-timer.C:
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return fmt.Errorf("%s: no answer within %v", method, DefaultTimeout)
	}
	if !ok {
		b.mu.Lock()
		err := b.readErr
		b.mu.Unlock()
		return fmt.Errorf("%s: %w", method, err)
	}
	if m.Error != nil {
		return fmt.Errorf("%s: CDP error %d: %s", method, m.Error.Code, m.Error.Message)
	}
	if out != nil {
		return json.Unmarshal(m.Result, out)
	}
	return nil
}

// close asks the browser to quit, kills it if it has not after a few
// seconds, and waits until it and the reading goroutine are gone.
func (b *Browser) close() {
	exited := make(chan error, 1)
	go func() { exited <- b.cmd.Wait() }()
	quit := make(chan error, 1)
	go func() { quit <- b.call("", "Browser.close", nil, nil) }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		killProcessGroup(b.cmd)
		<-exited
	}
	b.w.Close()
	b.r.Close() // ends readLoop even if a child process kept fd 4 open
	<-b.done
	<-quit
	if b.t.Failed() {
		b.t.Logf("browsertest: browser output:\n%s", b.out.tail())
	}
}

// Page is a browser tab with a CDP session attached to it.
type Page struct {
	b         *Browser
	t         testing.TB
	targetID  string
	sessionID string
	name      string

	mu      sync.Mutex
	console []string // console messages and uncaught exceptions
}

// NewPage opens a tab, attaches to it and navigates it to url, waiting
// until the document has loaded. name labels the page's console lines in
// the test log. The page is closed when the test ends, if not before.
func (b *Browser) NewPage(name, url string) *Page {
	b.t.Helper()
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call("", "Target.createTarget", map[string]interface{}{"url": "about:blank"}, &target); err != nil {
		b.t.Fatalf("browsertest: %v", err)
	}
	var attach struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call("", "Target.attachToTarget", map[string]interface{}{"targetId": target.TargetID, "flatten": true}, &attach); err != nil {
		b.t.Fatalf("browsertest: %v", err)
	}
	p := &Page{b: b, t: b.t, targetID: target.TargetID, sessionID: attach.SessionID, name: name}
	b.mu.Lock()
	b.pages[p.sessionID] = p
	b.mu.Unlock()
	b.t.Cleanup(func() {
		if b.t.Failed() {
			p.logConsole()
		}
	})
	p.do("Runtime.enable", nil, nil)
	p.do("Page.enable", nil, nil)
	p.do("Page.navigate", map[string]interface{}{"url": url}, nil)
	p.WaitFor(`document.readyState === "complete" && location.href !== "about:blank"`)
	return p
}

// event records what a page logs. b.mu is held.
func (p *Page) event(m message) {
	var line string
	switch m.Method {
	case "Runtime.consoleAPICalled":
		var ev struct {
			Type string `json:"type"`
			Args []struct {
				Value       interface{} `json:"value"`
				Description string      `json:"description"`
			} `json:"args"`
		}
		json.Unmarshal(m.Params, &ev)
		parts := []string{ev.Type + ":"}
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, fmt.Sprint(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		line = strings.Join(parts, " ")
	case "Runtime.exceptionThrown":
		var ev struct {
			Details struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		json.Unmarshal(m.Params, &ev)
		line = "exception: " + ev.Details.Text + " " + ev.Details.Exception.Description
	default:
		return
	}
	p.mu.Lock()
	p.console = append(p.console, line)
	p.mu.Unlock()
}

func (p *Page) logConsole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.console {
		p.t.Logf("browsertest: %s console: %s", p.name, l)
	}
}

// do runs a CDP command in the page's session and fails the test on error.
func (p *Page) do(method string, params, out interface{}) {
	p.t.Helper()
	if err := p.b.call(p.sessionID, method, params, out); err != nil {
		p.t.Fatalf("browsertest: %s: %v", p.name, err)
	}
}

// Eval evaluates the JavaScript expression expr in the page (awaiting it
// if it is a promise) and decodes its value, which must be JSON, into
// out, if not nil. A thrown exception fails the test.
func (p *Page) Eval(expr string, out interface{}) {
	p.t.Helper()
	if err := p.eval(expr, out); err != nil {
		p.t.Fatalf("browsertest: %s: %v", p.name, err)
	}
}

func (p *Page) eval(expr string, out interface{}) error {
	var res struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.b.call(p.sessionID, "Runtime.evaluate", map[string]interface{}{
		"expression":    expr,
		"returnByValue": true,
		"awaitPromise":  true,
	}, &res)
	if err != nil {
		return err
	}
	if d := res.ExceptionDetails; d != nil {
		return fmt.Errorf("eval %q: %s %s", expr, d.Text, d.Exception.Description)
	}
	if out != nil && len(res.Result.Value) > 0 {
		return json.Unmarshal(res.Result.Value, out)
	}
	return nil
}

// WaitFor evaluates expr every 25ms until it is true, and fails the test
// if that takes longer than DefaultTimeout.
func (p *Page) WaitFor(expr string) {
	p.t.Helper()
	deadline := time.Now().Add(DefaultTimeout)
	for {
		var ok bool
		err := p.eval("Boolean("+expr+")", &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			var text string
			p.eval(`document.body ? document.body.innerText : ""`, &text)
			p.t.Fatalf("browsertest: %s: still not %s after %v (last error: %v); page text:\n%s",
				p.name, expr, DefaultTimeout, err, text)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Text returns the rendered text of the first element matching the CSS
// selector, or "" when none does.
func (p *Page) Text(selector string) string {
	p.t.Helper()
	var s string
	p.Eval(fmt.Sprintf(`(e => e ? e.innerText : "")(document.querySelector(%s))`, jsString(selector)), &s)
	return s
}

// Type focuses the element matching the CSS selector and types text into
// it as the keyboard would (Input.insertText: input events, no key codes).
func (p *Page) Type(selector, text string) {
	p.t.Helper()
	var found bool
	p.Eval(fmt.Sprintf(`(e => { if (!e) return false; e.focus(); return true })(document.querySelector(%s))`, jsString(selector)), &found)
	if !found {
		p.t.Fatalf("browsertest: %s: no element matches %s", p.name, selector)
	}
	p.do("Input.insertText", map[string]interface{}{"text": text}, nil)
}

// Press presses and releases a key on the focused element; "Enter" is the
// one a form needs.
func (p *Page) Press(key string) {
	p.t.Helper()
	codes := map[string]int{"Enter": 13, "Tab": 9, "Escape": 27, "Backspace": 8}
	code, ok := codes[key]
	if !ok {
		p.t.Fatalf("browsertest: Press: unknown key %q", key)
	}
	down := map[string]interface{}{
		"type": "keyDown", "key": key, "code": key,
		"windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code,
	}
	if key == "Enter" {
		down["text"] = "\r"
	}
	p.do("Input.dispatchKeyEvent", down, nil)
	p.do("Input.dispatchKeyEvent", map[string]interface{}{
		"type": "keyUp", "key": key, "code": key,
		"windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code,
	}, nil)
}

// Screenshot saves a PNG of the page's viewport to path.
func (p *Page) Screenshot(path string) {
	p.t.Helper()
	var res struct {
		Data string `json:"data"`
	}
	p.do("Page.captureScreenshot", map[string]interface{}{"format": "png"}, &res)
	png, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		p.t.Fatalf("browsertest: screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// Close closes the tab, as a user closing it would: the page unloads, and
// its WebSockets are closed by the browser with 1001 (going away).
func (p *Page) Close() {
	p.t.Helper()
	if err := p.b.call("", "Target.closeTarget", map[string]interface{}{"targetId": p.targetID}, nil); err != nil {
		p.t.Fatalf("browsertest: close %s: %v", p.name, err)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// lockedBuffer collects the browser's output; it is written by exec's
// copying goroutines and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 1<<20 {
		return len(p), nil // enough to diagnose; drop the rest
	}
	return l.buf.Write(p)
}

// tail returns the last 4 KiB of the output.
func (l *lockedBuffer) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf.Bytes()
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
