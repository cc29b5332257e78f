package datacloud

import (
	"fmt"
	"strings"
	"testing"
)

// benchBatch is a 10,000-row, 4-column V2 batch.
func benchBatch() []byte {
	var rows []string
	for i := range 10_000 {
		rows = append(rows, fmt.Sprintf(`["id-%d","name %d",%d,"2021-02-28T00:00:00.000+00:00"]`, i, i, i*7))
	}
	return []byte(`{"data":[` + strings.Join(rows, ",") + `],"done":true,"metadata":{"a":{"placeInOrder":0},"b":{"placeInOrder":1},"c":{"placeInOrder":2},"d":{"placeInOrder":3}}}`)
}

// BenchmarkParseQueryResult decodes a 10,000-row, 4-column V2 batch.
func BenchmarkParseQueryResult(b *testing.B) {
	body := benchBatch()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseQueryResult("query", body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRawBatch scans the same batch, keeping values as JSON (querytrigger's way).
func BenchmarkParseRawBatch(b *testing.B) {
	body := benchBatch()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseRawBatch("query", body); err != nil {
			b.Fatal(err)
		}
	}
}
