package datacloud

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// withClassifier makes the splitter use c for its data region (nil: walk the bytes).
func withClassifier(c csvClassifier) SplitOption {
	return func(cfg *splitConfig) { cfg.classify, cfg.classifySet = c, true }
}

// csvScanners are the ways the splitter can scan: each must give the same parts and errors.
func csvScanners() map[string]csvClassifier {
	m := map[string]csvClassifier{"walk": nil, "generic masks": csvClassifyGeneric}
	if csvClassifySIMD != nil {
		m["SIMD masks"] = csvClassifySIMD
	}
	return m
}

// splitOutcome is everything a splitter run shows its caller.
type splitOutcome struct {
	parts   [][]byte
	records int64
	header  []byte
	err     string
}

func runSplit(data []byte, maxPart, chunk int, opts ...SplitOption) splitOutcome {
	var o splitOutcome
	s, err := NewCSVSplitter(&chunkReader{bytes.NewReader(data), chunk}, maxPart, opts...)
	for err == nil && len(o.parts) <= len(data)+1 {
		var p []byte
		if p, err = s.Next(); err == nil {
			o.parts = append(o.parts, bytes.Clone(p))
		}
	}
	if s != nil {
		o.records, o.header = s.Records(), s.Header()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		o.err = err.Error()
	}
	return o
}

// checkScannersAgree splits data with every scanner and fails on any difference. With
// checkFields, records are checked against the header's field count (by checkFieldCounts when
// walking the bytes, by checkFieldCountsMasks otherwise).
func checkScannersAgree(t *testing.T, data []byte, maxPart, chunk int, noHeader, checkFields bool) {
	t.Helper()
	var base []SplitOption
	if noHeader {
		base = append(base, NoHeader())
	}
	if checkFields {
		base = append(base, CheckFieldCounts())
	}
	want := runSplit(data, maxPart, chunk, append(base, withClassifier(nil))...)
	for name, c := range csvScanners() {
		if c == nil {
			continue
		}
		got := runSplit(data, maxPart, chunk, append(base, withClassifier(c))...)
		switch {
		case got.err != want.err:
			t.Fatalf("%s: error %q, walk says %q (input of %d bytes %.80q..., part %d)", name, got.err, want.err, len(data), data, maxPart)
		case got.records != want.records:
			t.Fatalf("%s: Records() = %d, walk says %d (input of %d bytes, part %d)", name, got.records, want.records, len(data), maxPart)
		case !bytes.Equal(got.header, want.header):
			t.Fatalf("%s: header %q, walk says %q", name, got.header, want.header)
		case !slices.EqualFunc(got.parts, want.parts, bytes.Equal):
			t.Fatalf("%s: %d parts differ from walk's %d (input of %d bytes, part %d)", name, len(got.parts), len(want.parts), len(data), maxPart)
		}
	}
}

func TestCSVClassifiersAgree(t *testing.T) {
	if csvClassifySIMD == nil {
		t.Skip("no SIMD classifier on this CPU")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("\n\r\",a \x80\xff")
	for n := range 200 {
		p := make([]byte, n*7%(20*csvBlock)+rng.IntN(csvBlock))
		for i := range p {
			if rng.IntN(4) == 0 {
				p[i] = byte(rng.IntN(256))
			} else {
				p[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		if n%3 == 0 { // mostly ASCII inputs too
			for i := range p {
				p[i] &= 0x7f
			}
		}
		blocks := len(p) / csvBlock
		want := make([]uint64, blocks*masksPerBlock)
		got := make([]uint64, blocks*masksPerBlock)
		wantHigh := csvClassifyGeneric(want, p)
		gotHigh := csvClassifySIMD(got, p)
		if gotHigh != wantHigh || !slices.Equal(got, want) {
			t.Fatalf("input of %d bytes: SIMD masks differ from generic (non-ASCII %v, %v)", len(p), gotHigh, wantHigh)
		}
	}
}

// TestCSVScannersAgree puts every construct the scanner knows at every offset of a 64-byte
// block, inside long inputs, and splits them with each scanner.
func TestCSVScannersAgree(t *testing.T) {
	pieces := []string{
		"plain,field,x\n",
		"\"quoted, with comma\",b,c\n",
		"\"doubled \"\"quote\"\"\",b,c\r\n",
		"\"multi\nline\r\nfield\",b,\"\"\n",
		"\n", "\r\n", "\r\r\n",
		"a,\"\"\"\",c\n",
		"\"x\"\r\n",
		"é,ü,\"ß\"\n",
	}
	faults := []string{
		"", "x\"y,b,c\n", "\"a\"b,c\n", "\"a\"\rb\n", "\xff,b\n", "\"never closed,b\n", "\"a\"\r",
		// a quoted field left open over many blocks and windows (appended at the end)
		"x,\"\"\"open" + strings.Repeat("x\"\"y\r\n,", 3000),
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 300 {
		var b bytes.Buffer
		b.WriteString("h1,h2,h3\n")
		b.WriteString(string(bytes.Repeat([]byte("z"), trial%csvBlock))) // shift every offset
		b.WriteString(",y,z\n")
		for b.Len() < 600+trial*13 {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		fault := faults[trial%len(faults)]
		if fault != "" && trial%2 == 0 {
			at := 9 + rng.IntN(b.Len()-9)
			at = bytes.LastIndexByte(b.Bytes()[:at], '\n') + 1
			data := slices.Concat(b.Bytes()[:at], []byte(fault), b.Bytes()[at:])
			b.Reset()
			b.Write(data)
		} else if fault != "" {
			b.WriteString(fault)
		}
		data := b.Bytes()
		for _, maxPart := range []int{200, 257, 1000, 1 << 20} {
			t.Run(fmt.Sprintf("trial%d/part%d", trial, maxPart), func(t *testing.T) {
				checkScannersAgree(t, data, maxPart, 1+trial*37%5000, trial%5 == 4, trial%3 == 1)
			})
		}
	}
}

// FuzzCSVScanners splits the fuzzer's input, tiled so that the block scanner runs over it at
// every alignment, with each scanner and checks that they agree; it also checks the tiled input
// against encoding/csv.
func FuzzCSVScanners(f *testing.F) {
	seeds := []string{
		"a,\"b\"\"c\"\n",
		"\"x\ny\"\r\n\n\r\n",
		"x\"y\n",
		"\"a\"b\n",
		"\"open\n",
		"\xc3\xa9,\xff\n",
		"\"a\"\r",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i*9), uint16(100+i*50), uint8(i), i%3 == 0)
	}
	f.Fuzz(func(t *testing.T, unit []byte, shift uint8, partSize uint16, chunk uint8, noHeader bool) {
		if len(unit) == 0 || len(unit) > 256 {
			return
		}
		var b bytes.Buffer
		b.WriteString("h1,h2\n")
		b.Write(bytes.Repeat([]byte{'s'}, int(shift)%csvBlock))
		b.WriteString(",x\n")
		for b.Len() < 400 {
			b.Write(unit)
		}
		maxPart := int(partSize)%4096 + 1
		checkScannersAgree(t, b.Bytes(), maxPart, int(chunk)+1, noHeader, shift%2 == 1)
		checkCSVSplit(t, b.Bytes(), uint16(maxPart-1), chunk, noHeader)
	})
}

// TestCSVSplitterLineAfterQuoteAtPartEnd: the scan of a full part stops just after a quote
// that may close a multi-line field; the line numbers of the next part must still count that
// field's line ends.
func TestCSVSplitterLineAfterQuoteAtPartEnd(t *testing.T) {
	// Part size 20: "h\n1\n" and then a field whose closing quote is byte 19.
	data := "h\n1\n\"a\nb\nc\nd\ne\nf\ng\n\"," + strings.Repeat("x", 30) + "\n"
	for name, c := range csvScanners() {
		_, err := runSplitErr(data, 20, withClassifier(c))
		var ce *CSVError
		if !errors.As(err, &ce) || ce.Line != 3 || ce.Column != 1 {
			t.Errorf("%s: error %v, want line 3, column 1: record does not fit", name, err)
		}
	}
}

func runSplitErr(data string, maxPart int, opts ...SplitOption) (int, error) {
	s, err := NewCSVSplitter(strings.NewReader(data), maxPart, opts...)
	parts := 0
	for err == nil {
		if _, err = s.Next(); err == nil {
			parts++
		}
	}
	return parts, err
}
