package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hybi/websocket/internal/hixieclient"
)

// clientConfig says what a set of client connections does.
type clientConfig struct {
	Addr     string        // the server
	First, N int           // connection ids First .. First+N-1
	Spread   int           // source addresses 127.0.0.2 .. 127.0.0.(1+Spread); 0: the default
	MinSize  int           // smallest message
	MaxSize  int           // largest message
	Pause    time.Duration // mean pause between bursts
	Timeout  time.Duration // bounds every read, write and handshake
	Dialers  int           // handshakes in progress at once
}

// clientStats is what the clients counted. It travels as JSON from a
// worker process.
type clientStats struct {
	Connected, Plain, Deflate, Hixie76   int64
	MessagesSent, MessagesVerified       int64
	SentByKind                           [3]int64 // plain, deflate, hixie-76
	BytesSent, BytesVerified             int64
	Pings, PongsVerified                 int64
	CompressedSent, CompressedReceived   int64
	ClientCloses, ServerCloses           int64
	Errors                               int64
	ErrorSamples                         []string
	MoreErrors                           int
	ConnectSeconds, ExchangeSeconds      float64
	CloseSeconds                         float64
	errs                                 errorLog
	connected, plain, deflate, hixie     atomic.Int64
	sent, verified, bytesSent, bytesVer  atomic.Int64
	pings, pongs, compSent, compRecv     atomic.Int64
	clientCloses, serverCloses, errCount atomic.Int64
	sentByKind                           [3]atomic.Int64
}

func (s *clientStats) fail(id int, format string, args ...any) {
	s.errCount.Add(1)
	s.errs.add("client conn " + strconv.Itoa(id) + ": " + fmt.Sprintf(format, args...))
}

// snapshot copies the atomic counters into the exported fields.
func (s *clientStats) snapshot() {
	s.Connected, s.Plain, s.Deflate, s.Hixie76 = s.connected.Load(), s.plain.Load(), s.deflate.Load(), s.hixie.Load()
	s.MessagesSent, s.MessagesVerified = s.sent.Load(), s.verified.Load()
	for k := range s.SentByKind {
		s.SentByKind[k] = s.sentByKind[k].Load()
	}
	s.BytesSent, s.BytesVerified = s.bytesSent.Load(), s.bytesVer.Load()
	s.Pings, s.PongsVerified = s.pings.Load(), s.pongs.Load()
	s.CompressedSent, s.CompressedReceived = s.compSent.Load(), s.compRecv.Load()
	s.ClientCloses, s.ServerCloses, s.Errors = s.clientCloses.Load(), s.serverCloses.Load(), s.errCount.Load()
	s.ErrorSamples, s.MoreErrors = s.errs.list()
}

// merge adds o's exported figures to s's.
func (s *clientStats) merge(o *clientStats) {
	s.Connected += o.Connected
	s.Plain += o.Plain
	s.Deflate += o.Deflate
	s.Hixie76 += o.Hixie76
	s.MessagesSent += o.MessagesSent
	s.MessagesVerified += o.MessagesVerified
	for k := range s.SentByKind {
		s.SentByKind[k] += o.SentByKind[k]
	}
	s.BytesSent += o.BytesSent
	s.BytesVerified += o.BytesVerified
	s.Pings += o.Pings
	s.PongsVerified += o.PongsVerified
	s.CompressedSent += o.CompressedSent
	s.CompressedReceived += o.CompressedReceived
	s.ClientCloses += o.ClientCloses
	s.ServerCloses += o.ServerCloses
	s.Errors += o.Errors
	for _, e := range o.ErrorSamples {
		if len(s.ErrorSamples) < keepErrors {
			s.ErrorSamples = append(s.ErrorSamples, e)
		} else {
			s.MoreErrors++
		}
	}
	s.MoreErrors += o.MoreErrors
	s.ConnectSeconds = max(s.ConnectSeconds, o.ConnectSeconds)
	s.ExchangeSeconds = max(s.ExchangeSeconds, o.ExchangeSeconds)
	s.CloseSeconds = max(s.CloseSeconds, o.CloseSeconds)
}

// Connection kinds, by id: RFC 6455 plain, RFC 6455 with
// permessage-deflate, hixie-76. Closing, by id/3: the client starts the
// closing handshake, or asks the server to (CloseHandshake).
func kindOf(id int) int        { return id % 3 }
func serverCloses(id int) bool { return (id/3)%2 == 1 }

// clientSet runs connections through three phases: connect (all of them),
// exchange (until a deadline given once all are connected), close.
type clientSet struct {
	cfg   clientConfig
	stats *clientStats
	conns []wsConn // nil where the connection failed
}

// connect opens and upgrades every connection, cfg.Dialers at a time.
func (cs *clientSet) connect() {
	cfg := cs.cfg
	start := time.Now()
	cs.conns = make([]wsConn, cfg.N)
	sem := make(chan struct{}, max(cfg.Dialers, 1))
	var wg sync.WaitGroup
	for i := 0; i < cfg.N; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			id := cfg.First + i
			c, err := dial(cfg, id)
			if err != nil {
				cs.stats.fail(id, "connect: %v", err)
				return
			}
			cs.conns[i] = c
			cs.stats.connected.Add(1)
			switch kindOf(id) {
			case 0:
				cs.stats.plain.Add(1)
			case 1:
				cs.stats.deflate.Add(1)
			default:
				cs.stats.hixie.Add(1)
			}
		}(i)
	}
	wg.Wait()
	cs.stats.ConnectSeconds = time.Since(start).Seconds()
}

// dial connects connection id from one of the spread source addresses,
// retrying a few times when the system runs short of ports or the listen
// queue overflows.
func dial(cfg clientConfig, id int) (wsConn, error) {
	spread := cfg.Spread
	if spread <= 0 {
		spread = 1
	}
	d := net.Dialer{
		Timeout:   cfg.Timeout,
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+id%spread))},
	}
	var nc net.Conn
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		nc, err = d.Dial("tcp", cfg.Addr)
		if err == nil || !(errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EADDRINUSE)) {
			break
		}
		time.Sleep(time.Duration(100<<attempt) * time.Millisecond)
	}
	if err != nil {
		return nil, err
	}
	path := "/soak?id=" + strconv.Itoa(id)
	switch kindOf(id) {
	case 0, 1:
		c, err := rfcHandshake(nc, cfg.Addr, path, kindOf(id) == 1, cfg.Timeout, uint64(id))
		if err != nil {
			nc.Close()
			return nil, err
		}
		return c, nil
	default:
		c, err := hixieclient.Handshake(nc, hixieclient.Options{Host: cfg.Addr, Path: path, Timeout: cfg.Timeout})
		if err != nil {
			nc.Close()
			return nil, err
		}
		return hixieConn{c}, nil
	}
}

// run exchanges messages on every connection until deadline, then closes
// them all.
func (cs *clientSet) run(deadline time.Time) {
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range cs.conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func(i int, c wsConn) {
			defer wg.Done()
			id := cs.cfg.First + i
			if err := cs.exchange(id, c, deadline); err != nil {
				cs.stats.fail(id, "%v", err)
			}
			c.close()
		}(i, c)
	}
	wg.Wait()
	end := time.Now()
	cs.stats.ExchangeSeconds = deadline.Sub(start).Seconds()
	cs.stats.CloseSeconds = end.Sub(deadline).Seconds()
}

// exchange is one connection's life after the handshake: bursts of one to
// four messages of mixed sizes and types (and, on RFC 6455 connections,
// a ping now and then, sometimes between two fragments of a message),
// each echo checked against what was sent, in order; then the close.
func (cs *clientSet) exchange(id int, c wsConn, deadline time.Time) error {
	cfg, st := cs.cfg, cs.stats
	rng := rand.New(rand.NewPCG(uint64(id), 0x50a4))
	hixie := kindOf(id) == 2
	dataQ := make(chan []byte, 8) // messages sent, in order, awaiting their echo
	pongQ := make(chan []byte, 8) // pings sent, awaiting their pong
	acks := make(chan struct{}, 16)
	readerDone := make(chan error, 1)
	var closing atomic.Bool
	serverClose := serverCloses(id)

	x := &echoState{dataQ: dataQ, pongQ: pongQ, acks: acks, closing: &closing, hixie: hixie, serverClose: serverClose}
	go func() { readerDone <- cs.readEchoes(c, x) }()

	wait := func(outstanding int) error {
		timer := time.NewTimer(cfg.Timeout)
		defer timer.Stop()
		for ; outstanding > 0; outstanding-- {
			select {
			case <-acks:
			case err := <-readerDone:
				if err == nil {
					err = errors.New("reader ended early")
				}
				return err
			case <-timer.C:
				return fmt.Errorf("%d echoes missing after %v", outstanding, cfg.Timeout)
			}
		}
		return nil
	}

	var seq uint32
	var nping int
	for time.Now().Before(deadline) {
		outstanding := 0
		var ping []byte
		if !hixie && rng.IntN(6) == 0 {
			nping++
			ping = []byte("ping " + strconv.Itoa(id) + "/" + strconv.Itoa(nping))
			pongQ <- ping
			st.pings.Add(1)
			outstanding++
		}
		for k := 1 + rng.IntN(4); k > 0; k-- {
			binary := !hixie && rng.IntN(2) == 0
			p := makeMessage(rng, nil, seq, messageSize(rng, cfg.MinSize, cfg.MaxSize), binary)
			dataQ <- p
			if err := c.writeMessage(!binary, p, ping); err != nil {
				return fmt.Errorf("write message %d: %w", seq, err)
			}
			ping = nil
			st.sent.Add(1)
			st.sentByKind[kindOf(id)].Add(1)
			st.bytesSent.Add(int64(len(p)))
			seq++
			outstanding++
		}
		if err := wait(outstanding); err != nil {
			return err
		}
		if cfg.Pause > 0 {
			time.Sleep(time.Duration(rng.Int64N(int64(2 * cfg.Pause))))
		}
	}

	closing.Store(true)
	var err error
	if serverClose {
		err = c.writeMessage(true, []byte(closeRequest), nil)
	} else {
		err = c.writeClose(1000, "")
	}
	if err != nil {
		return fmt.Errorf("starting the close: %w", err)
	}
	select {
	case err := <-readerDone:
		if rc, ok := c.(*rfcConn); ok {
			st.compSent.Add(rc.compressedSent)
			st.compRecv.Add(rc.compressedRecv)
		}
		return err
	case <-time.After(cfg.Timeout):
		return fmt.Errorf("close not completed within %v", cfg.Timeout)
	}
}

// echoState is what exchange's reader checks the server's frames against.
type echoState struct {
	dataQ, pongQ chan []byte   // messages and pings sent, in order, awaiting their answer
	acks         chan struct{} // one per answer verified
	closing      *atomic.Bool  // the close phase has begun
	hixie        bool
	serverClose  bool // the server starts the closing handshake
}

// readEchoes reads the server's frames until the close, checking each
// echo and pong against what was sent, and the close against the plan.
func (cs *clientSet) readEchoes(c wsConn, x *echoState) error {
	st := cs.stats
	for {
		ev, err := c.readEvent()
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		switch ev.kind {
		case evData:
			var want []byte
			select {
			case want = <-x.dataQ:
			default:
				return fmt.Errorf("unexpected message of %d bytes", len(ev.payload))
			}
			if !bytes.Equal(ev.payload, want) {
				seq, _, _ := parseHeader(want)
				detail := checkMessage(ev.payload, seq)
				return fmt.Errorf("echo of message %d (%d bytes) differs (%d bytes back): %v", seq, len(want), len(ev.payload), detail)
			}
			st.verified.Add(1)
			st.bytesVer.Add(int64(len(ev.payload)))
		case evPong:
			var want []byte
			select {
			case want = <-x.pongQ:
			default:
				return fmt.Errorf("unexpected pong %q", ev.payload)
			}
			if !bytes.Equal(ev.payload, want) {
				return fmt.Errorf("pong %q, want %q", ev.payload, want)
			}
			st.pongs.Add(1)
		case evClose:
			if !x.closing.Load() {
				return fmt.Errorf("close %d %q before the close phase", ev.code, ev.reason)
			}
			wantCode, wantReason := 1000, ""
			if x.hixie {
				wantCode = 1005
			} else if x.serverClose {
				wantReason = "soak done"
			}
			if ev.code != wantCode || ev.reason != wantReason {
				return fmt.Errorf("close %d %q, want %d %q", ev.code, ev.reason, wantCode, wantReason)
			}
			if x.serverClose {
				if err := c.writeClose(1000, ""); err != nil {
					return fmt.Errorf("answering the server's close: %w", err)
				}
			}
			if err := c.expectEOF(); err != nil {
				return err
			}
			if x.serverClose {
				st.serverCloses.Add(1)
			} else {
				st.clientCloses.Add(1)
			}
			return nil
		}
		x.acks <- struct{}{}
	}
}
