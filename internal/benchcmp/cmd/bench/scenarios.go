package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// A scenario is one row group of the report.
type scenario struct {
	kind   string // echo, pipeline, deflate, broadcast, upgrade, idle
	conns  int    // connections (receivers for broadcast)
	asked  int    // connections asked for, if capped
	size   int    // payload bytes
	window int    // messages in flight per connection
}

func (s scenario) rows() []string {
	switch s.kind {
	case "echo":
		return []string{fmt.Sprintf("echo %s×%s", s.connLabel(), sizeLabel(s.size))}
	case "deflate":
		return []string{fmt.Sprintf("deflate echo %s×%s text", s.connLabel(), sizeLabel(s.size))}
	case "pipeline":
		return []string{fmt.Sprintf("pipelined %s×%s, %d in flight", s.connLabel(), sizeLabel(s.size), s.window)}
	case "broadcast":
		if s.window > 1 {
			return []string{fmt.Sprintf("broadcast 1→%d, %s, %d in flight", s.conns, sizeLabel(s.size), s.window)}
		}
		return []string{fmt.Sprintf("broadcast 1→%d, %s", s.conns, sizeLabel(s.size))}
	case "upgrade":
		return []string{"upgrade (handshake + close)"}
	case "idle":
		return []string{
			fmt.Sprintf("idle %d conns, after upgrade", s.conns),
			fmt.Sprintf("idle %d conns, after one %s msg", s.conns, sizeLabel(s.size)),
		}
	}
	return nil
}

func (s scenario) units() []string {
	switch s.kind {
	case "echo", "pipeline", "deflate":
		return []string{"µs/msg"}
	case "broadcast":
		return []string{"µs/delivery"}
	case "upgrade":
		return []string{"µs/upgrade"}
	case "idle":
		return []string{"KiB/conn", "KiB/conn"}
	}
	return nil
}

func (s scenario) connLabel() string {
	if s.asked > s.conns {
		return fmt.Sprintf("%d(of %d)", s.conns, s.asked)
	}
	return fmt.Sprint(s.conns)
}

func sizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// outcome is one run of one scenario against one server.
type outcome struct {
	values []float64     // one per row
	cpu    time.Duration // server CPU in the measured phase
	ops    int64         // operations in the measured phase
	wall   time.Duration
	hwm    int64 // server peak RSS at the end
	faults int64 // server minor page faults in the measured phase
}

// runner holds what every run needs.
type runner struct {
	cfg  *config
	proc *serverProc
	d    *dialer
}

// deadline bounds every client connection of a run so that a stuck server
// fails the run instead of hanging the benchmark.
const runTimeout = 3 * time.Minute

// firstErr keeps the first error reported; safe for concurrent use.
type firstErr struct {
	mu  sync.Mutex
	err error
}

func (f *firstErr) set(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstErr) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// dialMany opens n connections with a bounded number of concurrent dials.
func (r *runner) dialMany(n, readBuf int) ([]*wsConn, error) {
	conns := make([]*wsConn, n)
	var fe firstErr
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := r.d.dialWS(readBuf)
			if err != nil {
				fe.set(fmt.Errorf("dial %d: %w", i, err))
				return
			}
			c.nc.SetDeadline(time.Now().Add(runTimeout))
			conns[i] = c
		}()
		if fe.get() != nil {
			break
		}
	}
	wg.Wait()
	if fe.get() != nil {
		closeAll(conns)
		return nil, fe.get()
	}
	return conns, nil
}

func closeAll(conns []*wsConn) {
	for _, c := range conns {
		if c != nil {
			c.close()
		}
	}
}

// measure samples the server's CPU around f, which returns the number of
// operations it completed.
func (r *runner) measure(f func() (int64, error)) (outcome, error) {
	pid := r.proc.pid()
	c0, err := readCPU(pid)
	if err != nil {
		return outcome{}, err
	}
	t0 := time.Now()
	ops, err := f()
	wall := time.Since(t0)
	c1, cerr := readCPU(pid)
	if err != nil {
		return outcome{}, err
	}
	if cerr != nil {
		return outcome{}, cerr
	}
	_, hwm, _ := procStatus(pid)
	o := outcome{cpu: cpuDelta(c0, c1), ops: ops, wall: wall, hwm: hwm, faults: c1.minflt - c0.minflt}
	if ops > 0 {
		o.values = []float64{float64(o.cpu.Nanoseconds()) / 1e3 / float64(ops)}
	}
	return o, nil
}

// perConn is how many messages each of conns connections sends in the
// measured phase: msgCap messages or byteCap bytes in all, at least minPer
// each.
func (r *runner) perConn(conns, size int) int {
	total := min(r.cfg.msgCap, max(r.cfg.byteCap/int64(size), 1))
	return max(int(total)/conns, 4)
}

// runEcho is the echo and pipelined-echo scenario: every connection keeps
// window messages in flight; after a warm-up all connections meet at a
// barrier, the server's CPU is sampled, and each sends perConn messages.
func (r *runner) runEcho(s scenario) (outcome, error) {
	readBuf := min(max(s.size+16, 4<<10), 64<<10)
	conns, err := r.dialMany(s.conns, readBuf)
	if err != nil {
		return outcome{}, err
	}
	defer closeAll(conns)

	n := r.perConn(s.conns, s.size)
	warm := max(s.window, min(n/8, 64))
	var (
		fe        firstErr
		warmed    sync.WaitGroup
		finished  sync.WaitGroup
		start     = make(chan struct{})
		abandoned = make(chan struct{})
	)
	warmed.Add(len(conns))
	finished.Add(len(conns))
	for _, c := range conns {
		go func() {
			defer finished.Done()
			m, op := newMessage(r.cfg.opcode, s.size), r.cfg.opcode
			if s.kind == "deflate" {
				m, op = newDeflateMessage(s.size), opText
			}
			e := &echoer{c: c, m: m, op: op, window: s.window}
			err := e.run(warm)
			warmed.Done()
			select {
			case <-start:
			case <-abandoned:
				return
			}
			if err == nil {
				err = e.run(n)
			}
			fe.set(err)
		}()
	}
	warmed.Wait()
	if fe.get() != nil {
		close(abandoned)
		return outcome{}, fe.get()
	}
	o, err := r.measure(func() (int64, error) {
		close(start)
		finished.Wait()
		return int64(n) * int64(len(conns)), fe.get()
	})
	return o, err
}

// echoer drives one echo connection.
type echoer struct {
	c      *wsConn
	m      *message
	op     byte
	window int
	seq    uint64
	out    []byte
	in     []byte
}

// largeFrame is the frame size above which the client writes from a second
// goroutine while it reads, so that neither side can fill both socket
// buffers and deadlock.
const largeFrame = 64 << 10

// run sends n messages, keeping up to window in flight, and verifies each
// echo in order.
func (e *echoer) run(n int) error {
	sent, recvd := 0, 0
	base := e.seq
	e.out = e.out[:0]
	for sent < n && sent < e.window {
		e.out = e.m.appendFrame(e.out, base+uint64(sent))
		sent++
	}
	var werr chan error
	if len(e.out) > largeFrame {
		werr = make(chan error, 1)
	}
	write := func() error {
		if werr == nil {
			_, err := e.c.nc.Write(e.out)
			return err
		}
		go func() {
			_, err := e.c.nc.Write(e.out)
			werr <- err
		}()
		return nil
	}
	if err := write(); err != nil {
		return err
	}
	for recvd < n {
		op, in, err := e.c.readMessage(e.in)
		e.in = in
		if err != nil {
			return err
		}
		if e.c.compressed {
			if in, err = e.c.inf.inflate(in); err != nil {
				return err
			}
		}
		if err := e.m.verify(e.op, op, in, base+uint64(recvd)); err != nil {
			return err
		}
		recvd++
		if werr != nil {
			if err := <-werr; err != nil {
				return err
			}
		}
		if sent < n {
			e.out = e.m.appendFrame(e.out[:0], base+uint64(sent))
			sent++
			if err := write(); err != nil {
				return err
			}
		}
	}
	e.seq = base + uint64(n)
	return nil
}

// runBroadcast is the broadcast scenario: s.conns receivers and one sender.
// With a window of 1 the sender sends one message at a time and waits
// until every receiver has it, so nothing ever queues on the server. With
// a window of w the sender keeps going while the receivers as a whole are
// at most w messages behind (as a chat or market-data feed does), so
// messages can queue per connection on the server. Receivers check each
// message's length, payload and that sequence numbers arrive in order
// without gaps.
func (r *runner) runBroadcast(s scenario) (outcome, error) {
	conns, err := r.dialMany(s.conns+1, 4<<10)
	if err != nil {
		return outcome{}, err
	}
	sender, receivers := conns[len(conns)-1], conns[:len(conns)-1]
	m := newMessage(r.cfg.opcode, s.size)

	var (
		fe        firstErr
		delivered atomic.Int64
		target    atomic.Int64
		reached   = make(chan struct{}, 1)
		last      = make([]atomic.Uint64, len(receivers))
		wg        sync.WaitGroup
	)
	target.Store(-1)
	for i, c := range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for {
				op, in, err := c.readMessage(buf)
				buf = in
				if err != nil {
					return // closed at the end of the run
				}
				if op != r.cfg.opcode || len(in) != len(m.payload) || !bytes.Equal(in[seqLen:], m.payload[seqLen:]) {
					fe.set(fmt.Errorf("%w: receiver %d: opcode %d, %d bytes", errVerify, i, op, len(in)))
					return
				}
				seq := binary.LittleEndian.Uint64(in)
				if prev := last[i].Load(); prev != 0 && seq != prev+1 {
					fe.set(fmt.Errorf("%w: receiver %d: sequence %d after %d", errVerify, i, seq, prev))
					return
				}
				last[i].Store(seq)
				if delivered.Add(1) == target.Load() {
					select {
					case reached <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	defer wg.Wait()
	defer closeAll(conns)

	seq := uint64(0)
	send := func() error {
		seq++
		_, err := sender.nc.Write(m.appendFrame(nil, seq))
		return err
	}
	if err := warmUpBroadcast(send, func() uint64 { return seq }, last, &fe); err != nil {
		return outcome{}, err
	}

	count := max(r.cfg.deliveries/int64(len(receivers)), 20)
	return r.measure(func() (int64, error) {
		base := delivered.Load()
		window := int64(max(s.window, 1))
		// wait returns once the receivers have k messages each in total
		// (counted over all of them) since base.
		wait := func(k int64) error {
			want := base + k*int64(len(receivers))
			target.Store(want)
			for give := time.Now().Add(10 * time.Second); delivered.Load() < want; {
				select {
				case <-reached:
				case <-time.After(time.Millisecond): // a signal for an older target was taken
				}
				if fe.get() != nil {
					return fe.get()
				}
				if time.Now().After(give) {
					return fmt.Errorf("broadcast: %d of %d deliveries of message %d", delivered.Load()-base-(k-1)*int64(len(receivers)), len(receivers), seq)
				}
			}
			return nil
		}
		for k := int64(1); k <= count; k++ {
			if k > window {
				if err := wait(k - window); err != nil {
					return 0, err
				}
			}
			if err := send(); err != nil {
				return 0, err
			}
		}
		if err := wait(count); err != nil {
			return 0, err
		}
		return count * int64(len(receivers)), fe.get()
	})
}

// runUpgrade is the upgrade scenario: 8 workers each dial, handshake and
// reset connections until cfg.upgrades handshakes are done. The CPU sample
// ends 50 ms after the last one so that the server has torn them down.
func (r *runner) runUpgrade(s scenario) (outcome, error) {
	const workers = 8
	do := func(n int64) error {
		var next atomic.Int64
		var fe firstErr
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= n && fe.get() == nil {
					c, err := r.d.dialWS(512)
					if err != nil {
						fe.set(err)
						return
					}
					c.close()
				}
			}()
		}
		wg.Wait()
		return fe.get()
	}
	if err := do(50); err != nil {
		return outcome{}, err
	}
	time.Sleep(50 * time.Millisecond)
	return r.measure(func() (int64, error) {
		err := do(r.cfg.upgrades)
		time.Sleep(50 * time.Millisecond)
		return r.cfg.upgrades, err
	})
}

// runIdle is the memory scenario: the server's RSS is read after a short
// warm-up (8 connections opened, used and closed), after s.conns upgrades,
// and after each of them echoed one s.size message. Each reading follows a
// settling pause.
func (r *runner) runIdle(s scenario) (outcome, error) {
	pid := r.proc.pid()
	const settle = 500 * time.Millisecond
	warm, err := r.dialMany(8, 4<<10)
	if err != nil {
		return outcome{}, err
	}
	for _, c := range warm {
		e := &echoer{c: c, m: newMessage(r.cfg.opcode, s.size), op: r.cfg.opcode, window: 1}
		if err := e.run(1); err != nil {
			closeAll(warm)
			return outcome{}, err
		}
	}
	closeAll(warm)
	time.Sleep(settle)
	rss0, _, err := procStatus(pid)
	if err != nil {
		return outcome{}, err
	}

	t0 := time.Now()
	conns, err := r.dialMany(s.conns, 4<<10)
	if err != nil {
		return outcome{}, err
	}
	defer closeAll(conns)
	time.Sleep(settle)
	rss1, _, err := procStatus(pid)
	if err != nil {
		return outcome{}, err
	}

	var fe firstErr
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(conns) || fe.get() != nil {
					return
				}
				e := &echoer{c: conns[i], m: newMessage(r.cfg.opcode, s.size), op: r.cfg.opcode, window: 1}
				fe.set(e.run(1))
			}
		}()
	}
	wg.Wait()
	if fe.get() != nil {
		return outcome{}, fe.get()
	}
	time.Sleep(settle)
	rss2, hwm, err := procStatus(pid)
	if err != nil {
		return outcome{}, err
	}
	n := float64(s.conns)
	return outcome{
		values: []float64{float64(rss1-rss0) / 1024 / n, float64(rss2-rss0) / 1024 / n},
		wall:   time.Since(t0),
		hwm:    hwm,
	}, nil
}

// warmUpBroadcast sends until every receiver is registered and has the
// latest message (at least three sent).
func warmUpBroadcast(send func() error, cur func() uint64, last []atomic.Uint64, fe *firstErr) error {
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := send(); err != nil {
			return err
		}
		seq := cur()
		all := true
		for wait := time.Now().Add(200 * time.Millisecond); time.Now().Before(wait); time.Sleep(2 * time.Millisecond) {
			all = true
			for i := range last {
				if last[i].Load() != seq {
					all = false
					break
				}
			}
			if all || fe.get() != nil {
				break
			}
		}
		if fe.get() != nil {
			return fe.get()
		}
		if all && seq >= 3 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("broadcast: receivers never all received a message")
		}
	}
}
