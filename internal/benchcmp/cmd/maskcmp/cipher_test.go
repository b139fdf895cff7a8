package main

import (
	"strconv"
	"testing"

	"github.com/gobwas/ws"
)

var sizes = []int{16, 125, 1 << 10, 4 << 10, 64 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// BenchmarkCipher is gobwas/ws's unmasking, named like the root package's
// BenchmarkMask sub-benchmarks so maskcmp can put them side by side.
func BenchmarkCipher(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, n := range sizes {
		buf := make([]byte, n)
		b.Run("gobwas/"+sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				ws.Cipher(buf, key, i&3)
			}
		})
	}
}
