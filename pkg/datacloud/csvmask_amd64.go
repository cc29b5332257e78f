package datacloud

import "golang.org/x/sys/cpu"

// csvClassifySIMD is the fastest csvClassifier this CPU has, or nil: the splitter then walks
// the bytes (walk).
var csvClassifySIMD csvClassifier

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasPCLMULQDQ {
		csvClassifySIMD = csvClassifyAVX2
	}
}

// csvClassifyAVX2 is csvClassifyGeneric in AVX2 (csvmask_amd64.s).
func csvClassifyAVX2(dst []uint64, p []byte) bool {
	blocks := len(p) / csvBlock
	if blocks == 0 {
		return false
	}
	_ = dst[blocks*masksPerBlock-1]
	return csvMasksAVX2(&p[0], blocks, &dst[0]) != 0
}

// csvMasksAVX2 (AVX2 and PCLMULQDQ) writes masksPerBlock masks per 64-byte block of p[:64*blocks] to dst and
// returns the high-bit mask of all bytes OR-ed together.
//
//go:noescape
func csvMasksAVX2(p *byte, blocks int, dst *uint64) (high uint32)
