#include "textflag.h"

// func csvMasksAVX2(p *byte, blocks int, dst *uint64) (high uint32)
//
// For each 64-byte block: two 32-byte loads, compared with '\n', '"', '\r' and ',' broadcast
// in Y0..Y3; each comparison's byte mask (VPMOVMSKB) forms half of a 64-bit mask. The loads are
// OR-ed into Y8, whose high bits say whether any byte was not ASCII.
TEXT ·csvMasksAVX2(SB), NOSPLIT, $0-28
	MOVQ p+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ dst+16(FP), DI
	MOVQ $0x0a, AX
	MOVQ AX, X0
	VPBROADCASTB X0, Y0
	MOVQ $0x22, AX
	MOVQ AX, X1
	VPBROADCASTB X1, Y1
	MOVQ $0x0d, AX
	MOVQ AX, X2
	VPBROADCASTB X2, Y2
	MOVQ $0x2c, AX
	MOVQ AX, X3
	VPBROADCASTB X3, Y3
	VPXOR Y8, Y8, Y8
	TESTQ CX, CX
	JZ done

loop:
	VMOVDQU (SI), Y4
	VMOVDQU 32(SI), Y5
	VPOR Y4, Y8, Y8
	VPOR Y5, Y8, Y8

	VPCMPEQB Y0, Y4, Y6
	VPCMPEQB Y0, Y5, Y7
	VPMOVMSKB Y6, AX
	VPMOVMSKB Y7, BX
	SHLQ $32, BX
	ORQ BX, AX
	MOVQ AX, 0(DI)

	VPCMPEQB Y1, Y4, Y6
	VPCMPEQB Y1, Y5, Y7
	VPMOVMSKB Y6, AX
	VPMOVMSKB Y7, BX
	SHLQ $32, BX
	ORQ BX, AX
	MOVQ AX, 8(DI)

	VPCMPEQB Y2, Y4, Y6
	VPCMPEQB Y2, Y5, Y7
	VPMOVMSKB Y6, AX
	VPMOVMSKB Y7, BX
	SHLQ $32, BX
	ORQ BX, AX
	MOVQ AX, 16(DI)

	VPCMPEQB Y3, Y4, Y6
	VPCMPEQB Y3, Y5, Y7
	VPMOVMSKB Y6, AX
	VPMOVMSKB Y7, BX
	SHLQ $32, BX
	ORQ BX, AX
	MOVQ AX, 24(DI)

	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ loop

done:
	VPMOVMSKB Y8, AX
	MOVL AX, high+24(FP)
	VZEROUPPER
	RET
