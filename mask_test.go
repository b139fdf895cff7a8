package websocket

import (
	"bytes"
	"math/rand"
	"testing"
)

// maskBytewise is the reference: RFC 6455 §5.3, one byte at a time.
func maskBytewise(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

func TestMask_matchesBytewise(t *testing.T) {
	t.Parallel()
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	src := make([]byte, 600+8)
	rand.New(rand.NewSource(1)).Read(src)
	for n := 0; n <= 600; n++ {
		for align := 0; align < 8; align++ {
			for pos := 0; pos < 4; pos++ {
				got := append([]byte(nil), src[align:align+n]...)
				want := append([]byte(nil), got...)
				// Mask in place at the given alignment of the backing array.
				wantPos := maskBytewise(key, pos, want)
				for _, impl := range []struct {
					name string
					f    func([4]byte, int, []byte) int
				}{{"mask", mask}, {"maskGo", maskGo}} {
					buf := make([]byte, align+n)
					copy(buf[align:], got)
					gotPos := impl.f(key, pos, buf[align:])
					if gotPos != wantPos || !bytes.Equal(buf[align:], want) {
						t.Fatalf("%s n=%d align=%d pos=%d: pos %d want %d, bytes differ=%v", impl.name, n, align, pos, gotPos, wantPos, !bytes.Equal(buf[align:], want))
					}
				}
			}
		}
	}
}

func TestMask_streamingInPieces(t *testing.T) {
	t.Parallel()
	key := [4]byte{1, 2, 3, 4}
	r := rand.New(rand.NewSource(2))
	for trial := 0; trial < 200; trial++ {
		data := make([]byte, r.Intn(2000))
		r.Read(data)
		want := append([]byte(nil), data...)
		maskBytewise(key, 0, want)
		pos := 0
		for rest := data; len(rest) > 0; {
			k := 1 + r.Intn(len(rest))
			pos = mask(key, pos, rest[:k])
			rest = rest[k:]
		}
		if !bytes.Equal(data, want) {
			t.Fatalf("trial %d: piecewise masking differs", trial)
		}
	}
}

// RFC 6455 §5.7: a masked "Hello".
func TestMask_rfcVector(t *testing.T) {
	t.Parallel()
	p := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}
	mask([4]byte{0x37, 0xfa, 0x21, 0x3d}, 0, p)
	if string(p) != "Hello" {
		t.Fatalf("got %q", p)
	}
}

func FuzzMask(f *testing.F) {
	f.Add([]byte("Hello, WebSocket"), uint32(0x37fa213d), 0)
	f.Add(make([]byte, 67), uint32(0xffffffff), 3)
	f.Fuzz(func(t *testing.T, data []byte, k uint32, pos int) {
		key := [4]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}
		pos &= 3
		got := append([]byte(nil), data...)
		want := append([]byte(nil), data...)
		goPath := append([]byte(nil), data...)
		if mask(key, pos, got) != maskBytewise(key, pos, want) || !bytes.Equal(got, want) {
			t.Fatalf("mask differs from the byte loop")
		}
		if maskGo(key, pos, goPath) != (pos+len(data))&3 || !bytes.Equal(goPath, want) {
			t.Fatalf("maskGo differs from the byte loop")
		}
	})
}
