//go:build amd64 && !purego

#include "textflag.h"

// func curg() uintptr
// Returns the address of the running goroutine's g, which Go's amd64 ABI
// keeps in thread-local storage.
TEXT ·curg(SB), NOSPLIT, $0-8
	MOVQ (TLS), AX
	MOVQ AX, ret+0(FP)
	RET
