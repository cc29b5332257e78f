//go:build !amd64 && !arm64

package datacloud

// csvClassifySIMD is nil where no SIMD classifier is written: the splitter walks the bytes.
var csvClassifySIMD csvClassifier
