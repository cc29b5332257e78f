#include "textflag.h"

// MOVEMASK sets dst to the 64-bit mask of the bytes of V0..V3 equal to the byte broadcast in
// cmp: the comparisons, weighted by V24, folded by three rounds of pairwise adds (V4..V7 are
// scratch).
#define MOVEMASK(cmp, dst) \
	VCMEQ cmp.B16, V0.B16, V4.B16; \
	VCMEQ cmp.B16, V1.B16, V5.B16; \
	VCMEQ cmp.B16, V2.B16, V6.B16; \
	VCMEQ cmp.B16, V3.B16, V7.B16; \
	VAND V24.B16, V4.B16, V4.B16; \
	VAND V24.B16, V5.B16, V5.B16; \
	VAND V24.B16, V6.B16, V6.B16; \
	VAND V24.B16, V7.B16, V7.B16; \
	VADDP V5.B16, V4.B16, V4.B16; \
	VADDP V7.B16, V6.B16, V6.B16; \
	VADDP V6.B16, V4.B16, V4.B16; \
	VADDP V4.B16, V4.B16, V4.B16; \
	VMOV V4.D[0], dst

// func csvMasksNEON(p *byte, blocks int, dst *uint64) (high uint64)
//
// For each 64-byte block: one four-register load (V0..V3), each register compared with
// '\n', '"', '\r' and ',' broadcast in V20..V23. NEON has no byte movemask, so each
// comparison (0xFF or 0x00 per byte) is AND-ed with the bit weights 1, 2, 4, ... 128 (V24,
// repeated per 8 bytes) and three rounds of pairwise adds fold the 64 weighted bytes into the
// eight bytes of a 64-bit mask, byte k holding the bits of input bytes 8k..8k+7. The
// separator mask ORs the line feed, quote and comma masks; the quote parity is the carry-less
// product of the quote mask and all ones (a prefix XOR, as on amd64). The loads are OR-ed into
// V25, whose high bits say whether any byte was not ASCII.
TEXT ·csvMasksNEON(SB), NOSPLIT, $0-32
	MOVD p+0(FP), R0
	MOVD blocks+8(FP), R1
	MOVD dst+16(FP), R2

	MOVD $0x0a, R3
	VDUP R3, V20.B16
	MOVD $0x22, R3
	VDUP R3, V21.B16
	MOVD $0x0d, R3
	VDUP R3, V22.B16
	MOVD $0x2c, R3
	VDUP R3, V23.B16
	MOVD $0x8040201008040201, R3
	VDUP R3, V24.D2
	MOVD $-1, R3
	VMOV R3, V26.D[0]
	VEOR V25.B16, V25.B16, V25.B16
	CBZ R1, done

loop:
	VLD1.P 64(R0), [V0.B16, V1.B16, V2.B16, V3.B16]
	VORR V0.B16, V25.B16, V25.B16
	VORR V1.B16, V25.B16, V25.B16
	VORR V2.B16, V25.B16, V25.B16
	VORR V3.B16, V25.B16, V25.B16

	MOVEMASK(V20, R4) // line feeds
	MOVEMASK(V21, R5) // quotes
	MOVEMASK(V22, R6) // carriage returns
	MOVEMASK(V23, R7) // commas

	// quote parity → R8
	VMOV R5, V27.D[0]
	VPMULL V26.D1, V27.D1, V28.Q1
	VMOV V28.D[0], R8

	ORR R4, R7, R7
	ORR R5, R7, R7
	MOVD R4, 0(R2)
	MOVD R5, 8(R2)
	MOVD R6, 16(R2)
	MOVD R7, 24(R2)
	MOVD R8, 32(R2)
	ADD $40, R2
	SUBS $1, R1
	BNE loop

done:
	VMOV V25.D[0], R3
	VMOV V25.D[1], R4
	ORR R4, R3, R3
	AND $0x8080808080808080, R3, R3
	MOVD R3, high+24(FP)
	RET
