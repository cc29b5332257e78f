package datacloud

import "golang.org/x/sys/cpu"

// csvClassifySIMD is the fastest csvClassifier this CPU has, or nil: the splitter then walks
// the bytes (walk).
var csvClassifySIMD csvClassifier

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasPCLMULQDQ {
		csvClassifySIMD = kernelClassifier(csvMasksAVX2)
	}
}

// csvMasksAVX2 is the csvMaskKernel in AVX2 and PCLMULQDQ (csvmask_amd64.s).
//
//go:noescape
func csvMasksAVX2(p *byte, blocks int, dst *uint64) (high uint64)
