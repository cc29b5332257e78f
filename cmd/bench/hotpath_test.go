package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// The hot paths of s3ingest on the bench's own generated data (run with -benchmem):
//
//	go test -run '^$' -bench . -benchmem ./cmd/bench
//
// Each reports MB/s of input; compare with BenchmarkHotCopy, a plain io.Copy of the same bytes.

const hotBytes = 32 << 20

var (
	hotOnce sync.Once
	hotData map[string][]byte
	hotErr  error
)

// hotInput returns 32 MiB of a generated file of the format (gzip: its compressed form).
func hotInput(b *testing.B, name string) []byte {
	b.Helper()
	hotOnce.Do(func() {
		hotData = map[string][]byte{}
		dir, err := os.MkdirTemp("", "bench-hot-")
		if err != nil {
			hotErr = err
			return
		}
		defer os.RemoveAll(dir)
		for _, f := range []string{"csv", "csv.gz", "jsonl"} {
			g, err := generate(dir, formatsByName[f], hotBytes, 0, 7)
			if err != nil {
				hotErr = err
				return
			}
			if hotData[f], err = os.ReadFile(g.Path); err != nil {
				hotErr = err
				return
			}
		}
	})
	if hotErr != nil {
		b.Fatal(hotErr)
	}
	return hotData[name]
}

// reader hides bytes.Reader's WriterTo, as an S3 body has none.
type reader struct{ r io.Reader }

func (r reader) Read(p []byte) (int, error) { return r.r.Read(p) }

func BenchmarkHotCopy(b *testing.B) {
	data := hotInput(b, "csv")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.Copy(io.Discard, reader{bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHotCSVSplit cuts the CSV into parts of 8 MB (so that 32 MiB makes several parts, as
// a 1 GiB file does with 64 MB parts).
func BenchmarkHotCSVSplit(b *testing.B) {
	data := hotInput(b, "csv")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		splitAll(b, reader{bytes.NewReader(data)})
	}
}

// BenchmarkHotGzipCSVSplit is the same through compress/gzip (MB/s of uncompressed bytes).
func BenchmarkHotGzipCSVSplit(b *testing.B) {
	data := hotInput(b, "csv.gz")
	b.SetBytes(hotBytes)
	b.ReportAllocs()
	for b.Loop() {
		gz, err := gzip.NewReader(reader{bytes.NewReader(data)})
		if err != nil {
			b.Fatal(err)
		}
		splitAll(b, gz)
	}
}

func splitAll(b *testing.B, r io.Reader) {
	sp, err := datacloud.NewCSVSplitter(r, 8_000_000)
	if err != nil {
		b.Fatal(err)
	}
	for {
		_, err := sp.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHotJSONLPack reads JSON Lines records and packs them into streaming bodies.
func BenchmarkHotJSONLPack(b *testing.B) {
	data := hotInput(b, "jsonl")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rr := datacloud.NewRecordReader(reader{bytes.NewReader(data)}, datacloud.FormatJSONLines)
		p := datacloud.NewPacker(datacloud.DefaultStreamingPayloadBytes)
		for {
			rec, err := rr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Add(rec); err != nil {
				b.Fatal(err)
			}
		}
		p.Flush()
	}
}
