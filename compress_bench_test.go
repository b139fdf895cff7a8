package websocket

import (
	"compress/flate"
	"math/rand/v2"
	"runtime"
	"testing"
)

// ---- benchmarks ----

// pmdLoopConn is a net.Conn whose peer sends the same bytes over and over
// and discards what it is sent.
type pmdLoopConn struct {
	fuzzNetConn
	in  []byte
	off int
}

func (l *pmdLoopConn) Read(p []byte) (int, error) {
	n := copy(p, l.in[l.off:])
	l.off = (l.off + n) % len(l.in)
	return n, nil
}

func pmdLoopServer(frame []byte, p *deflateParams) *Conn {
	cfg := connConfig{}
	if p != nil {
		cfg.deflate = deflateConfig{enabled: true, params: *p, threshold: DefaultCompressionThreshold}
	}
	return newConn(&pmdLoopConn{in: frame}, cfg, nil)
}

var pmdModes = []struct {
	name string
	p    *deflateParams
}{
	{"plain", nil},
	{"no-takeover", &pmdNoTakeover},
	{"client-takeover", &deflateParams{serverNoTakeover: true, serverBits: 15, clientBits: 15}},
	{"takeover", &pmdTakeover},
}

// BenchmarkCompressEcho reads a compressed text message and writes it
// back compressed, on a connection over an in-memory peer, so the figures
// are the server's alone ("plain": the same text uncompressed).
func BenchmarkCompressEcho(b *testing.B) {
	for _, mode := range pmdModes {
		for _, n := range []int{256, 4 << 10, 64 << 10} {
			b.Run(mode.name+"/"+sizeName(n), func(b *testing.B) {
				msg := pmdText(rand.New(rand.NewPCG(1, 1)), n)
				frame := pmdFrame(true, 0, opText, msg)
				if mode.p != nil {
					frame = pmdFrame(true, bitRsv1, opText, (&pmdDeflater{}).compress(msg))
				}
				c := pmdLoopServer(frame, mode.p)
				echo := func() {
					mt, p, err := c.ReadMessage()
					if err != nil || len(p) != len(msg) {
						b.Fatalf("read %d bytes: %v", len(p), err)
					}
					if err := c.WriteMessage(mt, p); err != nil {
						b.Fatal(err)
					}
				}
				echo() // warm the pools
				b.SetBytes(int64(n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					echo()
				}
			})
		}
	}
}

// BenchmarkCompressPreparedBroadcast sends one 4 KiB text message to 64
// compressing connections per iteration: as a PreparedMessage (compressed
// once) and, as the baseline, with WriteMessage (compressed per
// connection).
func BenchmarkCompressPreparedBroadcast(b *testing.B) {
	const conns = 64
	msg := pmdText(rand.New(rand.NewPCG(2, 2)), 4<<10)
	var cs []*Conn
	for range conns {
		cs = append(cs, pmdLoopServer([]byte{0}, &pmdNoTakeover))
	}
	b.Run("prepared", func(b *testing.B) {
		b.SetBytes(int64(len(msg) * conns))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			pm, _ := NewPreparedMessage(TextMessage, msg)
			for _, c := range cs {
				if err := c.WritePreparedMessage(pm); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("per-conn", func(b *testing.B) {
		b.SetBytes(int64(len(msg) * conns))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			for _, c := range cs {
				if err := c.WriteMessage(TextMessage, msg); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkCompressConnMemory measures what an idle connection keeps after
// it has read and written one compressed 1 KiB message, in each
// negotiation mode, reported as B/conn (live heap after GC, pools
// emptied, divided by the connections). The figures are quoted in the
// documentation of compress.go and Upgrader.CompressionContextTakeover.
func BenchmarkCompressConnMemory(b *testing.B) {
	const conns = 50
	msg := pmdText(rand.New(rand.NewPCG(3, 3)), 1<<10)
	for _, mode := range pmdModes {
		b.Run(mode.name, func(b *testing.B) {
			frame := pmdFrame(true, 0, opText, msg)
			if mode.p != nil {
				frame = pmdFrame(true, bitRsv1, opText, (&pmdDeflater{}).compress(msg))
			}
			var perConn float64
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				before := pmdLiveHeap()
				cs := make([]*Conn, conns)
				for j := range cs {
					cs[j] = pmdLoopServer(frame, mode.p)
					mt, p, err := cs[j].ReadMessage()
					if err != nil {
						b.Fatal(err)
					}
					cs[j].WriteMessage(mt, p)
				}
				after := pmdLiveHeap()
				perConn += float64(after-before) / conns
				runtime.KeepAlive(cs)
			}
			b.ReportMetric(perConn/float64(b.N), "B/conn")
		})
	}
}

func pmdLiveHeap() int64 {
	var s runtime.MemStats
	runtime.GC()
	runtime.GC() // the second cycle empties the sync.Pools' victim caches
	runtime.ReadMemStats(&s)
	return int64(s.HeapAlloc)
}

// BenchmarkCompressWindow: the CPU of compressing 64 KiB of JSON lines
// within a limited window (segments, see windowedDeflate) beside the full
// window and Huffman-only, at level 1.
func BenchmarkCompressWindow(b *testing.B) {
	data := pmdJSONLines(rand.New(rand.NewPCG(5, 6)), 64<<10)
	for _, bc := range []struct {
		name        string
		level, bits int
	}{{"huffman-only", flate.HuffmanOnly, 15}, {"bits=9", 1, 9}, {"bits=12", 1, 12}, {"bits=14", 1, 14}, {"bits=15", 1, 15}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			dst := make([]byte, 0, 2*len(data))
			for i := 0; i < b.N; i++ {
				dst = appendDeflate(dst[:0], data, bc.level, bc.bits)
			}
			b.ReportMetric(float64(len(dst)), "wire-bytes")
		})
	}
}
