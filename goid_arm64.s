//go:build arm64 && !purego && !race

#include "textflag.h"

// func getg() unsafe.Pointer
// Returns the address of the running goroutine's g, which Go's arm64 ABI
// keeps in register g (R28).
TEXT ·getg(SB), NOSPLIT, $0-8
	MOVD g, R0
	MOVD R0, ret+0(FP)
	RET
