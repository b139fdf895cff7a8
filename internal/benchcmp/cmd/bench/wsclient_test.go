package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAcceptKey(t *testing.T) {
	// RFC 6455 §1.3.
	if got, want := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("acceptKey = %q, want %q", got, want)
	}
}

func TestMessage_frameUnmasksToPayload(t *testing.T) {
	for _, size := range []int{8, 16, 125, 126, 1000, 65535, 65536, 70000} {
		m := newMessage(opBinary, size)
		m.setSeq(42)
		f := bytes.Clone(m.frame)
		if f[0] != 0x80|opBinary || f[1]&0x80 == 0 {
			t.Fatalf("size %d: header %x", size, f[:2])
		}
		got := f[m.off:]
		maskBytes(m.key, 0, got)
		if !bytes.Equal(got, m.payload) {
			t.Fatalf("size %d: unmasked frame differs from payload", size)
		}
		if binary.LittleEndian.Uint64(got) != 42 {
			t.Fatalf("size %d: seq not patched", size)
		}
	}
}

// serverFrame is an unmasked server frame.
func serverFrame(op byte, fin bool, p []byte) []byte {
	h := appendHeader(nil, op, fin, len(p))
	h[1] &^= 0x80
	return append(h, p...)
}

func TestReadMessage(t *testing.T) {
	m := newMessage(opBinary, 300)
	m.setSeq(7)
	p := m.payload
	tests := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"one frame", serverFrame(opBinary, true, p), nil},
		{"fragments and a ping", bytes.Join([][]byte{
			serverFrame(opBinary, false, p[:100]),
			serverFrame(opPing, true, []byte("x")),
			serverFrame(opContinuation, false, p[100:200]),
			serverFrame(opContinuation, true, p[200:]),
		}, nil), nil},
		{"masked", func() []byte { f := serverFrame(opBinary, true, p); f[1] |= 0x80; return f }(), errVerify},
		{"rsv1", func() []byte { f := serverFrame(opBinary, true, p); f[0] |= 0x40; return f }(), errVerify},
		{"continuation first", serverFrame(opContinuation, true, p), errVerify},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &wsConn{br: bufio.NewReader(bytes.NewReader(tt.in))}
			op, got, err := c.readMessage(nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := m.verify(opBinary, op, got, 7); err != nil {
				t.Fatal(err)
			}
			if err := m.verify(opBinary, op, got, 8); !errors.Is(err, errVerify) {
				t.Fatalf("wrong sequence accepted: %v", err)
			}
		})
	}
}

func TestCPUDelta(t *testing.T) {
	a := cpuSample{schedNS: 1e9, ticks: 100}
	if got := cpuDelta(a, cpuSample{schedNS: 1.5e9, ticks: 150}); got != 5e8 {
		t.Errorf("schedstat delta = %v, want 500ms", got)
	}
	// A thread that exited took 300 ms of schedstat time with it.
	if got := cpuDelta(a, cpuSample{schedNS: 1.2e9, ticks: 150}); got != 5e8 {
		t.Errorf("fallback to ticks = %v, want 500ms", got)
	}
	if got := cpuDelta(cpuSample{schedNS: -1, ticks: 1}, cpuSample{schedNS: -1, ticks: 3}); got != 2e7 {
		t.Errorf("ticks only = %v, want 20ms", got)
	}
}

// TestAllServers builds cmd/server and runs a tiny echo and broadcast
// against every library, so a server that echoes wrong bytes or a client
// that accepts them fails here, not in a benchmark table.
func TestAllServers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/server")
	}
	bin := filepath.Join(t.TempDir(), "server")
	if err := buildServer(bin, os.Getenv("BENCHCMP_TAGS")); err != nil {
		t.Fatal(err)
	}
	libs := []string{"hybi", "gorilla", "gobwas", "gws", "coder", "ref", "ref-rm"}
	if os.Getenv("BENCHCMP_TAGS") == "nohybi" {
		libs = libs[1:]
	}
	cfg := &config{opcode: opBinary, msgCap: 64, byteCap: 4 << 20, deliveries: 100, upgrades: 10, srcIPs: 2}
	scens := []scenario{
		{kind: "echo", conns: 3, size: 16, window: 1},
		{kind: "echo", conns: 2, size: 200 << 10, window: 1},
		{kind: "pipeline", conns: 2, size: 1000, window: 4},
		{kind: "broadcast", conns: 5, size: 125},
		{kind: "upgrade"},
		{kind: "idle", conns: 10, size: 100},
	}
	for _, lib := range libs {
		for _, s := range scens {
			t.Run(lib+"/"+s.rows()[0], func(t *testing.T) {
				o, err := runOne(bin, cfg, lib, s, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(o.values) == 0 {
					t.Fatalf("no values: %+v", o)
				}
			})
		}
	}
	t.Run("deflate", func(t *testing.T) {
		for _, lib := range []string{"hybi", "hybi-rm", "gorilla", "gws", "coder"} {
			if strings.HasPrefix(lib, "hybi") && os.Getenv("BENCHCMP_TAGS") == "nohybi" {
				continue
			}
			for _, size := range []int{1 << 10, 100 << 10} {
				if _, err := runOne(bin, cfg, lib, scenario{kind: "deflate", conns: 2, size: size, window: 1}, 0); err != nil {
					t.Errorf("%s, %d bytes: %v", lib, size, err)
				}
			}
		}
	})
	t.Run("text", func(t *testing.T) {
		cfg := *cfg
		cfg.opcode = opText
		for _, lib := range libs {
			if _, err := runOne(bin, &cfg, lib, scens[0], 0); err != nil {
				t.Errorf("%s: %v", lib, err)
			}
		}
	})
}

// TestDeflateMessage_inflatesToPayload: the compressed frame, unmasked and
// inflated, is the text with the patched sequence number.
func TestDeflateMessage_inflatesToPayload(t *testing.T) {
	for _, size := range []int{8, 1000, 1 << 10, 64 << 10} {
		m := newDeflateMessage(size)
		m.setSeq(7)
		f := bytes.Clone(m.frame)
		if f[0] != 0x80|0x40|opText {
			t.Fatalf("size %d: header %x", size, f[:2])
		}
		got := f[m.off:]
		maskBytes(m.key, 0, got)
		var inf inflater
		out, err := inf.inflate(got)
		if err != nil || !bytes.Equal(out, m.payload) || string(out[:seqLen]) != "00000007" {
			t.Fatalf("size %d: inflated %d bytes, %v", size, len(out), err)
		}
		if size >= 1<<10 && len(got) > size/2 {
			t.Fatalf("size %d: %d bytes compressed", size, len(got))
		}
	}
}
