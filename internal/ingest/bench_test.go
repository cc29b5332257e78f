package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkIngestCSV runs the whole bulk path (moto_server GET, split, uploads into the
// in-process emulator, close, tags, claim) on an 8 MB CSV in 1 MB parts. The emulator's own
// work (SQLite inserts) is part of the figure.
func BenchmarkIngestCSV(b *testing.B) {
	benchIngest(b, "csv", func() []byte {
		var sb strings.Builder
		sb.WriteString(csvHeader)
		for i := 0; sb.Len() < 8<<20; i += 1000 {
			sb.WriteString(csvRecords(i, 1000))
		}
		return []byte(sb.String())
	}, func(c *Config) { c.BulkPartBytes = 1 << 20 })
}

// BenchmarkIngestJSONL runs the streaming path on a 2 MB JSONL file with 200,000-byte bodies.
func BenchmarkIngestJSONL(b *testing.B) {
	benchIngest(b, "jsonl", func() []byte {
		var sb strings.Builder
		for i := 0; sb.Len() < 2<<20; i++ {
			sb.WriteString(jsonRecord(i))
			sb.WriteByte('\n')
		}
		return []byte(sb.String())
	}, nil)
}

func benchIngest(b *testing.B, ext string, gen func() []byte, cfg func(*Config)) {
	body := gen()
	var opts []fixtureOpt
	if cfg != nil {
		opts = append(opts, withConfig(cfg))
	}
	f := newFixture(b, opts...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		o := f.put(fmt.Sprintf("ingest/bench/Obj%s/%d.%s", ext, i, ext), body)
		b.StartTimer()
		res := f.in.Run(context.Background(), []ObjectRef{o.ref})
		if res[0].Status != StatusIngested {
			b.Fatalf("result %+v", res[0])
		}
	}
}
