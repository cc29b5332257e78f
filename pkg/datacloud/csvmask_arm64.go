package datacloud

import "golang.org/x/sys/cpu"

// csvClassifySIMD is the fastest csvClassifier this CPU has, or nil: the splitter then walks
// the bytes (walk). Lambda's arm64 (Graviton) CPUs all have NEON and PMULL.
var csvClassifySIMD csvClassifier

func init() {
	if cpu.ARM64.HasASIMD && cpu.ARM64.HasPMULL {
		csvClassifySIMD = csvClassifyNEON
	}
}

// csvClassifyNEON is csvClassifyGeneric in NEON (csvmask_arm64.s).
func csvClassifyNEON(dst []uint64, p []byte) bool {
	blocks := len(p) / csvBlock
	if blocks == 0 {
		return false
	}
	_ = dst[blocks*masksPerBlock-1]
	return csvMasksNEON(&p[0], blocks, &dst[0]) != 0
}

// csvMasksNEON (NEON and PMULL) writes masksPerBlock masks per 64-byte block of
// p[:64*blocks] to dst and returns the high bits of all bytes OR-ed together (0x80 set in
// some byte when any input byte was not ASCII).
//
//go:noescape
func csvMasksNEON(p *byte, blocks int, dst *uint64) (high uint64)
