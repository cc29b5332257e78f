#include "textflag.h"

// func csvMasksAVX2(p *byte, blocks int, dst *uint64) (high uint64)
//
// For each 64-byte block: two 32-byte loads, compared with '\n', '"', '\r' and ',' broadcast
// in Y0..Y3; each comparison's byte mask (VPMOVMSKB) forms half of a 64-bit mask. The
// separator mask ORs the line feed, quote and comma comparisons; the quote parity is the
// carry-less product of the quote mask and all ones (a prefix XOR). The loads are OR-ed into
// Y8, whose high bits say whether any byte was not ASCII.
TEXT ·csvMasksAVX2(SB), NOSPLIT, $0-32
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
	MOVQ $-1, AX
	MOVQ AX, X12
	VPXOR Y8, Y8, Y8
	TESTQ CX, CX
	JZ done

loop:
	VMOVDQU (SI), Y4
	VMOVDQU 32(SI), Y5
	VPOR Y4, Y8, Y8
	VPOR Y5, Y8, Y8

	// line feeds
	VPCMPEQB Y0, Y4, Y6
	VPCMPEQB Y0, Y5, Y7
	VPMOVMSKB Y6, AX
	VPMOVMSKB Y7, BX
	SHLQ $32, BX
	ORQ BX, AX
	MOVQ AX, 0(DI)

	// quotes, and their prefix XOR
	VPCMPEQB Y1, Y4, Y9
	VPCMPEQB Y1, Y5, Y10
	VPMOVMSKB Y9, AX
	VPMOVMSKB Y10, BX
	SHLQ $32, BX
	ORQ BX, AX
	MOVQ AX, 8(DI)
	VMOVQ AX, X11
	VPCLMULQDQ $0x00, X12, X11, X11
	VMOVQ X11, AX
	MOVQ AX, 32(DI)

	// carriage returns
	VPCMPEQB Y2, Y4, Y13
	VPCMPEQB Y2, Y5, Y14
	VPMOVMSKB Y13, AX
	VPMOVMSKB Y14, BX
	SHLQ $32, BX
	ORQ BX, AX
	MOVQ AX, 16(DI)

	// separators: line feeds, quotes and commas
	VPCMPEQB Y3, Y4, Y13
	VPCMPEQB Y3, Y5, Y14
	VPOR Y6, Y13, Y13
	VPOR Y9, Y13, Y13
	VPOR Y7, Y14, Y14
	VPOR Y10, Y14, Y14
	VPMOVMSKB Y13, AX
	VPMOVMSKB Y14, BX
	SHLQ $32, BX
	ORQ BX, AX
	MOVQ AX, 24(DI)

	ADDQ $64, SI
	ADDQ $40, DI
	DECQ CX
	JNZ loop

done:
	VPMOVMSKB Y8, AX // zero-extends the 32 bits
	MOVQ AX, high+24(FP)
	VZEROUPPER
	RET
