package datacloud

import "golang.org/x/sys/cpu"

// csvClassifySIMD is the fastest csvClassifier this CPU has, or nil: the splitter then walks
// the bytes (walk). Lambda's arm64 (Graviton) CPUs all have NEON and PMULL.
var csvClassifySIMD csvClassifier

func init() {
	if cpu.ARM64.HasASIMD && cpu.ARM64.HasPMULL {
		csvClassifySIMD = kernelClassifier(csvMasksNEON)
	}
}

// csvMasksNEON is the csvMaskKernel in NEON and PMULL (csvmask_arm64.s).
//
//go:noescape
func csvMasksNEON(p *byte, blocks int, dst *uint64) (high uint64)
