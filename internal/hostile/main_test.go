package hostile

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	websocket "github.com/hybi/websocket"
	"github.com/hybi/websocket/internal/leakcheck"
	"github.com/hybi/websocket/internal/wstest"
)

// Every test in this package calls leakcheck.Check and none calls
// t.Parallel: the memory figures must belong to the test that asserts them.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// server is an httptest server whose handler upgrades every request and
// hands the connection to a test's handler, then reports what it returned.
type server struct {
	addr string
	hs   *httptest.Server

	results    chan error // one per upgraded connection: what the handler returned
	upgradeErr chan error // one per refused or failed Upgrade
	handled    atomic.Int32

	mu    sync.Mutex
	conns []*websocket.Conn
	wg    sync.WaitGroup
}

// startServer starts a server on 127.0.0.1. configure, when not nil, may set
// fields of the http.Server before it starts (timeouts, header limits).
// Cleanup closes the listener and every upgraded socket and fails the test
// if a handler has not returned within 5 s of that.
func startServer(t *testing.T, up *websocket.Upgrader, configure func(*http.Server), handle func(*websocket.Conn) error) *server {
	t.Helper()
	s := &server{results: make(chan error, 64), upgradeErr: make(chan error, 64)}
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.wg.Add(1)
		defer s.wg.Done()
		s.handled.Add(1)
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			select {
			case s.upgradeErr <- err:
			default: // a test with many connections reads none
			}
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		err = handle(c)
		c.Close()
		select {
		case s.results <- err:
		default:
		}
	}))
	s.hs.Config.ErrorLog = nil
	if configure != nil {
		configure(s.hs.Config)
	}
	s.hs.Start()
	s.addr = s.hs.Listener.Addr().String()
	t.Cleanup(func() {
		s.hs.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.NetConn().Close()
		}
		s.mu.Unlock()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("a server handler did not return within 5s of its connection being closed")
		}
	})
	return s
}

// result waits for the handler of the next connection to return and
// returns its error.
func (s *server) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.results:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("the server handler did not return within 10s")
		return nil
	}
}

// upgradeError waits for a failed Upgrade and returns its error.
func (s *server) upgradeError(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.upgradeErr:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("Upgrade did not fail within 10s")
		return nil
	}
}

// readAll reads messages until the read fails, and returns that error.
func readAll(c *websocket.Conn) error {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return err
		}
	}
}

// echo echoes messages with ReadMessage and WriteMessage until an error,
// which it returns.
func echo(c *websocket.Conn) error {
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

// wantCloseCode fails the test unless err is a *websocket.CloseError with
// the given code.
func wantCloseCode(t *testing.T, err error, code int) {
	t.Helper()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code {
		t.Errorf("server read error = %v (%T), want a *CloseError with code %d", err, err, code)
	}
}

// wantProtocolError fails the test unless err is a *websocket.ProtocolError
// with the given close code.
func wantProtocolError(t *testing.T, err error, code int) {
	t.Helper()
	var pe *websocket.ProtocolError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Errorf("server read error = %v (%T), want a *ProtocolError with code %d", err, err, code)
	}
}

// isTimeout reports whether err is a net.Error that timed out.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// memProbe measures the heap while an attack runs: the peak of HeapInuse
// (sampled every 2 ms), the bytes allocated (TotalAlloc, which counts
// garbage too, so it bounds what the attack could have made the process
// hold), and the live heap after a GC at the end.
type memProbe struct {
	before runtime.MemStats
	peak   atomic.Uint64
	stop   chan struct{}
	done   chan struct{}
}

// memReport is what a memProbe measured, as differences from the start.
type memReport struct {
	PeakInuse int64 // peak HeapInuse minus HeapInuse at the start
	Allocated int64 // TotalAlloc difference
	Live      int64 // HeapAlloc after runtime.GC minus HeapAlloc at the start
}

func (r memReport) String() string {
	return fmt.Sprintf("peak heap in use +%s, allocated %s, live after GC %+d KiB",
		mib(r.PeakInuse), mib(r.Allocated), r.Live>>10)
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

func probeMemory() *memProbe {
	p := &memProbe{stop: make(chan struct{}), done: make(chan struct{})}
	runtime.GC()
	runtime.ReadMemStats(&p.before)
	p.peak.Store(p.before.HeapInuse)
	go func() {
		defer close(p.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > p.peak.Load() {
				p.peak.Store(ms.HeapInuse)
			}
		}
	}()
	return p
}

// finish stops the probe and returns its report.
func (p *memProbe) finish() memReport {
	close(p.stop)
	<-p.done
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	peak := max(p.peak.Load(), ms.HeapInuse)
	allocated := int64(ms.TotalAlloc - p.before.TotalAlloc)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return memReport{
		PeakInuse: int64(peak) - int64(p.before.HeapInuse),
		Allocated: allocated,
		Live:      int64(ms.HeapAlloc) - int64(p.before.HeapAlloc),
	}
}

// check logs the report and fails the test when a figure passes its bound
// (a bound of 0 is not checked).
func (r memReport) check(t *testing.T, maxPeak, maxAllocated, maxLive int64) {
	t.Helper()
	t.Logf("memory: %v", r)
	if maxPeak > 0 && r.PeakInuse > maxPeak {
		t.Errorf("peak heap in use grew by %s, want at most %s", mib(r.PeakInuse), mib(maxPeak))
	}
	if maxAllocated > 0 && r.Allocated > maxAllocated {
		t.Errorf("%s allocated, want at most %s", mib(r.Allocated), mib(maxAllocated))
	}
	if maxLive > 0 && r.Live > maxLive {
		t.Errorf("live heap after GC grew by %s, want at most %s", mib(r.Live), mib(maxLive))
	}
}

// Frame shorthands: masked, random key.

func text(s string) wstest.Frame { return wstest.Msg(wstest.OpText, []byte(s)) }

func closeFrame(code uint16, reason string) wstest.Frame {
	return wstest.Msg(wstest.OpClose, wstest.CloseBody(code, reason))
}

func frag(op byte, fin bool, p []byte) wstest.Frame { return wstest.Frag(op, fin, p) }

// encode concatenates the wire bytes of frames, for one write.
func encode(frames ...wstest.Frame) []byte {
	var b []byte
	for _, f := range frames {
		b = wstest.AppendFrame(b, f)
	}
	return b
}

// deflateMessage compresses p as one permessage-deflate message (RFC 7692
// §7.2.1: DEFLATE, sync flush, the final 0x00 0x00 0xff 0xff removed).
func deflateMessage(t *testing.T, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(p)
	fw.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

var (
	bombChunkOnce sync.Once
	bombChunk     []byte
)

// zeroBomb returns a permessage-deflate payload that inflates to mib MiB
// of zero bytes. It is one sync-flushed DEFLATE rendering of 1 MiB of
// zeros repeated: every block of it starts with a literal and otherwise
// copies from distance 1, so the copies decode as zeros wherever they
// start, and no block is final. 1 MiB costs about 1 KiB on the wire,
// and building a 1 GiB bomb costs no compression time.
func zeroBomb(t *testing.T, mib int) []byte {
	t.Helper()
	bombChunkOnce.Do(func() {
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, flate.BestCompression)
		fw.Write(make([]byte, 1<<20))
		fw.Flush()
		bombChunk = b.Bytes()
		// Check the construction with an independent inflater (two
		// copies, so the seam is covered), so that a 1009 cannot come
		// from a payload that was garbage to begin with.
		two := append(bytes.Repeat(bombChunk, 2), 1, 0, 0, 0xff, 0xff)
		n, err := io.Copy(io.Discard, flate.NewReader(bytes.NewReader(two)))
		if err != nil || n != 2<<20 {
			bombChunk = nil
			t.Errorf("zeroBomb: two chunks inflate to %d bytes (err %v), want %d", n, err, 2<<20)
		}
	})
	if bombChunk == nil {
		t.Fatal("zeroBomb: no valid chunk")
	}
	return bytes.TrimSuffix(bytes.Repeat(bombChunk, mib), []byte{0, 0, 0xff, 0xff})
}

// inflate decompresses a permessage-deflate payload with compress/flate.
func inflate(t *testing.T, p []byte) []byte {
	t.Helper()
	in := append(append([]byte(nil), p...), 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff)
	b, err := io.ReadAll(flate.NewReader(bytes.NewReader(in)))
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return b
}
