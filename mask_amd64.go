//go:build amd64 && !purego

package websocket

// The amd64 mask XORs whole blocks with SSE2 (always present on amd64) or,
// where the CPU and OS support it, AVX2, and leaves the tail to maskGo.
// Both paths are checked against the byte loop by TestMask_matchesBytewise
// and FuzzMask; the purego build tag turns them off.

//go:noescape
func maskSSE2(b *byte, n int, key uint32)

//go:noescape
func maskAVX2(b *byte, n int, key uint32)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

var useAVX2 = detectAVX2()

// detectAVX2 reports AVX2 support by the CPU (CPUID leaf 7) and the saving
// of YMM state by the OS (OSXSAVE and XCR0 bits 1 and 2).
func detectAVX2() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&osxsave == 0 || ecx1&avx == 0 {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

// simdMin is the length from which the SIMD loops pay for their call; below
// it maskGo is faster (BenchmarkMask: at 125 bytes maskGo beat SSE2 on 64
// bytes plus maskGo on the rest).
const simdMin = 256

// mask XORs b in place with the masking key from key position pos and
// returns the next key position; see maskGo. It is small enough to be
// inlined, so short payloads go straight to maskGo.
func mask(key [4]byte, pos int, b []byte) int {
	if len(b) < simdMin {
		return maskGo(key, pos, b)
	}
	return maskSIMD(key, pos, b)
}

// maskSIMD masks the whole 64- or 128-byte blocks of b with SSE2 or AVX2
// and the tail with maskGo.
func maskSIMD(key [4]byte, pos int, b []byte) int {
	total := len(b)
	pos &= 3
	k32 := uint32(key[pos]) | uint32(key[(pos+1)&3])<<8 |
		uint32(key[(pos+2)&3])<<16 | uint32(key[(pos+3)&3])<<24
	var n int
	if useAVX2 {
		n = len(b) &^ 127
		maskAVX2(&b[0], n, k32)
	} else {
		n = len(b) &^ 63
		maskSSE2(&b[0], n, k32)
	}
	// n is a multiple of 4: the key position is unchanged.
	maskGo(key, pos, b[n:])
	return (pos + total) & 3
}
