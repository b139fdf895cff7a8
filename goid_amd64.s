//go:build amd64 && !purego && !race

#include "textflag.h"

// func getg() unsafe.Pointer
// Returns the address of the running goroutine's g, which Go's amd64 ABI
// keeps in thread-local storage.
TEXT ·getg(SB), NOSPLIT, $0-8
	MOVQ (TLS), AX
	MOVQ AX, ret+0(FP)
	RET
