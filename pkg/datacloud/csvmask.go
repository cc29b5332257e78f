package datacloud

import (
	"bytes"
	"math/bits"
	"unicode/utf8"
)

// The CSVSplitter's block scanner. Where the CPU allows (see csvClassifier), the input is
// classified 64 bytes at a time into bit masks, one bit per byte, of line feeds, quotes,
// carriage returns and commas, and the quote state machine of walk is then run on the masks
// instead of on the bytes: the quote parity of every byte is a prefix XOR of the quote mask,
// line ends outside and inside quotes are population counts, and the quoting rules are checked
// for all quotes of a block at once against the masks shifted by one byte. The result is the
// same as walk's, byte for byte and error for error (FuzzCSVScanners checks it); it only costs
// less per line.

// csvBlock is the number of input bytes one mask covers.
const csvBlock = 64

// csvMaskBatch is how many blocks are classified per call: 8 KiB of input and 4 KiB of masks,
// so both are still in the L1 cache when the masks are walked.
const csvMaskBatch = 128

// The masks of one block, in this order, in a csvClassifier's output: line feeds, quotes,
// carriage returns, separators (line feeds, quotes and commas: what may precede an opening
// quote or follow a closing one) and the quote parity (prefixXOR of the quotes).
const (
	maskLF = iota
	maskQuote
	maskCR
	maskSep
	maskParity
	masksPerBlock
)

// A csvClassifier fills dst with masksPerBlock masks for each whole 64-byte block of p and
// reports whether p holds any byte that is not ASCII.
type csvClassifier func(dst []uint64, p []byte) (nonASCII bool)

// csvMaskKernel is an assembly classifier (csvmask_amd64.s, csvmask_arm64.s): it writes
// masksPerBlock masks per 64-byte block of p[:64*blocks] to dst and returns the high bits of
// all bytes OR-ed together, non-zero when some byte is not ASCII.
type csvMaskKernel func(p *byte, blocks int, dst *uint64) (high uint64)

// kernelClassifier is the csvClassifier that runs kernel over the whole blocks of p.
func kernelClassifier(kernel csvMaskKernel) csvClassifier {
	return func(dst []uint64, p []byte) bool {
		blocks := len(p) / csvBlock
		if blocks == 0 {
			return false
		}
		_ = dst[blocks*masksPerBlock-1] // the kernel writes no further
		return kernel(&p[0], blocks, &dst[0]) != 0
	}
}

// csvClassifyGeneric is the portable csvClassifier: the reference the SIMD one is tested
// against. It is slower than walk, so the splitter uses it only in tests.
func csvClassifyGeneric(dst []uint64, p []byte) bool {
	var or byte
	for b := 0; b+csvBlock <= len(p); b += csvBlock {
		var lf, quote, cr, sep uint64
		for j, c := range p[b : b+csvBlock] {
			or |= c
			bit := uint64(1) << j
			switch c {
			case '\n':
				lf |= bit
			case '"':
				quote |= bit
			case '\r':
				cr |= bit
			case ',':
				sep |= bit
			}
		}
		m := dst[b/csvBlock*masksPerBlock:][:masksPerBlock]
		m[maskLF], m[maskQuote], m[maskCR], m[maskSep], m[maskParity] = lf, quote, cr, sep|lf|quote, prefixXOR(quote)
	}
	return or >= utf8.RuneSelf
}

// prefixXOR returns the mask whose bit j is the parity of bits 0..j of x: with x a quote mask,
// the bits inside quotes (an opening quote counts as inside, a closing one as outside).
func prefixXOR(x uint64) uint64 {
	x ^= x << 1
	x ^= x << 2
	x ^= x << 4
	x ^= x << 8
	x ^= x << 16
	x ^= x << 32
	return x
}

func bit(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// dataByte returns buf[i] of the data region, with the byte before the region read as a line
// feed (it ends the header, or stands for the start of a NoHeader input) and earlier bytes as 0.
func (s *CSVSplitter) dataByte(i int) byte {
	switch {
	case i >= s.hdrLen:
		return s.buf[i]
	case i == s.hdrLen-1:
		return '\n'
	}
	return 0
}

// walkMasks runs walk's state machine over the blocks classified in masks, which start at pos.
// Each block also reads the masks of the block after it (for the byte after a closing quote),
// so the last classified block is left to walk, as is any block closer than two bytes to end.
// It runs only between records of the data region, outside or inside a quoted field.
//
// The loop has no branch that depends on the data except the one taken on an error: a block
// with quotes costs the same as one without.
func (s *CSVSplitter) walkMasks(masks []uint64, end int) error {
	a := s.pos
	if s.needHeader || a+csvBlock+2 > end || s.state != csvOutside && s.state != csvQuoted {
		return nil
	}
	from := a
	var inQuotes uint64 // all ones inside a quoted field
	if s.state == csvQuoted {
		inQuotes = ^uint64(0)
		s.lineFeeds += bytes.Count(s.buf[s.inCounted:a], lfByte)
	}
	// Bit 0 of prevX is the byte before the block; prev2LF also has the one before that.
	p1, p2 := s.dataByte(a-1), s.dataByte(a-2)
	prevLF, prevCR, prevQuote := bit(p1 == '\n'), bit(p1 == '\r'), bit(p1 == '"')
	prevSep := bit(p1 == '\n' || p1 == ',' || p1 == '"')
	prev2LF := bit(p2 == '\n') | prevLF<<1
	records, lineFeeds := 0, 0
	for ; len(masks) >= 2*masksPerBlock && a+csvBlock+2 <= end; masks = masks[masksPerBlock:] {
		m := masks[: 2*masksPerBlock : 2*masksPerBlock]
		lf, quote, cr, sep := m[maskLF], m[maskQuote], m[maskCR], m[maskSep]
		nextLF, nextCR, nextSep := m[masksPerBlock+maskLF], m[masksPerBlock+maskCR], m[masksPerBlock+maskSep]

		inside := inQuotes ^ m[maskParity]
		opening, closing := quote&inside, quote&^inside
		// An opening quote starts a field (after a comma or a line end) or is the second of a
		// doubled quote. A closing quote is followed by a comma, a line end (LF or CR LF) or
		// the other quote of a doubled quote.
		mayOpen := sep<<1 | prevSep
		mayClose := sep>>1 | nextSep<<63 |
			cr>>1&(lf>>2|nextLF<<62) | nextCR&(nextLF>>1)<<63
		if bad := opening&^mayOpen | closing&^mayClose; bad != 0 {
			j := bits.TrailingZeros64(bad)
			if opening>>j&1 != 0 {
				return s.failAt(a+j, `bare " in non-quoted field`)
			}
			return s.failAt(a+j, `extraneous or missing " in quoted field`)
		}

		// A line end outside quotes ends a record unless the line is empty or a lone CR (as
		// in outside).
		blank := lf<<1 | prevLF | (cr<<1|prevCR)&(lf<<2|prev2LF)
		records += bits.OnesCount64(lf &^ inside &^ blank)
		lineFeeds += bits.OnesCount64(lf)

		inQuotes = uint64(int64(inside) >> 63)
		prevLF, prevCR, prevQuote, prevSep, prev2LF = lf>>63, cr>>63, quote>>63, sep>>63, lf>>62
		a += csvBlock
	}
	s.recordEnds += records
	s.lineFeeds += lineFeeds
	s.pos = a
	switch {
	case inQuotes != 0:
		s.state, s.inCounted = csvQuoted, a
	case prevQuote != 0:
		// The block ended with a closing quote: walk must see the next byte as the one after
		// it (a doubled quote is not a bare quote, and leaves the field open).
		s.state, s.inCounted = csvQuoteSeen, a-1
	default:
		s.state = csvOutside
		return nil
	}
	if q := s.openingQuote(from, s.inCounted); q >= 0 { // else it opened before these blocks
		s.quoteStart = q
	}
	return nil
}

// openingQuote returns the quote that opened the quoted field buf[:end] ends in, or -1 if
// it lies before from. Inside a valid quoted field the quotes come in adjacent pairs, so walking
// back from end the first quote not preceded by another is the opening one (a field starts after
// a comma or a line end).
func (s *CSVSplitter) openingQuote(from, end int) int {
	for end > from {
		q := bytes.LastIndexByte(s.buf[from:end], '"')
		if q < 0 {
			break
		}
		q += from
		if q == 0 || s.buf[q-1] != '"' {
			return q
		}
		end = q - 1
	}
	return -1
}

var lfByte = []byte{'\n'}
