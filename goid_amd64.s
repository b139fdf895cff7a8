//go:build amd64 && !purego && !race

#include "textflag.h"

// func getg() uintptr
// Returns the address of the running goroutine's g, which Go's amd64 ABI
// keeps in thread-local storage.
TEXT ·getg(SB), NOSPLIT, $0-8
	MOVQ (TLS), AX
	MOVQ AX, ret+0(FP)
	RET

// func gword(gp, off uintptr) uint64
// Returns the 8 bytes at gp+off (a goroutine descriptor's field).
TEXT ·gword(SB), NOSPLIT, $0-24
	MOVQ gp+0(FP), AX
	ADDQ off+8(FP), AX
	MOVQ (AX), AX
	MOVQ AX, ret+16(FP)
	RET
