package main

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestRefMask_matchesNaive(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for n := 0; n < 40; n++ {
		for pos := 0; pos < 4; pos++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rand.IntN(256))
			}
			want := bytes.Clone(b)
			for i := range want {
				want[i] ^= key[(pos+i)&3]
			}
			if next := refMask(key, pos, b); next != (pos+n)&3 {
				t.Fatalf("n=%d pos=%d: next = %d, want %d", n, pos, next, (pos+n)&3)
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("n=%d pos=%d: got %x, want %x", n, pos, b, want)
			}
		}
	}
}

func TestRefParseHeader(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		hl     int
		length int64
	}{
		{"short", []byte{0x82}, 0, 0},
		{"7-bit", []byte{0x82, 0x85, 1, 2, 3, 4}, 6, 5},
		{"7-bit partial key", []byte{0x82, 0x85, 1, 2, 3}, 0, 0},
		{"16-bit", []byte{0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4}, 8, 256},
		{"64-bit", []byte{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, 14, 65536},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hl, length, _ := refParseHeader(tt.in)
			if hl != tt.hl || length != tt.length {
				t.Fatalf("got (%d, %d), want (%d, %d)", hl, length, tt.hl, tt.length)
			}
		})
	}
}
