//go:build arm64 && !purego && !race

#include "textflag.h"

// func getg() uintptr
// Returns the address of the running goroutine's g, which Go's arm64 ABI
// keeps in register g (R28).
TEXT ·getg(SB), NOSPLIT, $0-8
	MOVD g, R0
	MOVD R0, ret+0(FP)
	RET

// func gword(gp, off uintptr) uint64
// Returns the 8 bytes at gp+off (a goroutine descriptor's field).
TEXT ·gword(SB), NOSPLIT, $0-24
	MOVD gp+0(FP), R0
	MOVD off+8(FP), R1
	ADD R1, R0, R0
	MOVD (R0), R2
	MOVD R2, ret+16(FP)
	RET
