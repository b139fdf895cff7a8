//go:build amd64 && !purego

#include "textflag.h"

// func maskSSE2(b *byte, n int, key uint32)
// XORs n bytes at b (n a positive multiple of 64) with key repeated.
TEXT ·maskSSE2(SB), NOSPLIT, $0-20
	MOVQ b+0(FP), DI
	MOVQ n+8(FP), CX
	MOVL key+16(FP), AX
	MOVQ AX, X0
	PSHUFL $0, X0, X0

sse2loop:
	MOVOU 0(DI), X1
	MOVOU 16(DI), X2
	MOVOU 32(DI), X3
	MOVOU 48(DI), X4
	PXOR X0, X1
	PXOR X0, X2
	PXOR X0, X3
	PXOR X0, X4
	MOVOU X1, 0(DI)
	MOVOU X2, 16(DI)
	MOVOU X3, 32(DI)
	MOVOU X4, 48(DI)
	ADDQ $64, DI
	SUBQ $64, CX
	JNZ sse2loop
	RET

// func maskAVX2(b *byte, n int, key uint32)
// XORs n bytes at b (n a positive multiple of 128) with key repeated.
TEXT ·maskAVX2(SB), NOSPLIT, $0-20
	MOVQ b+0(FP), DI
	MOVQ n+8(FP), CX
	MOVL key+16(FP), AX
	MOVQ AX, X0
	VPBROADCASTD X0, Y0

avx2loop:
	VPXOR 0(DI), Y0, Y1
	VPXOR 32(DI), Y0, Y2
	VPXOR 64(DI), Y0, Y3
	VPXOR 96(DI), Y0, Y4
	VMOVDQU Y1, 0(DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ $128, DI
	SUBQ $128, CX
	JNZ avx2loop
	VZEROUPPER
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET
