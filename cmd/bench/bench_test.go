package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun/lambdaruntest"
)

// moduleRoot is where the bench's package paths are relative to.
const moduleRoot = "../.."

// TestSmoke runs the whole command with tiny sizes against the real bootstraps and checks
// that every section produced its rows. It asserts no figure: timing belongs to the run.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four bootstraps and runs them under the RIE")
	}
	lambdaruntest.RequireRIE(t)
	t.Chdir(moduleRoot)
	cfg, err := parseFlags([]string{"-quick", "-sizes", "300KiB,600KiB", "-part-bytes", "100000", "-query-rows", "3000", "-cold-reps", "1"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var log bytes.Buffer
	rep, err := run(ctx, cfg, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	wantCases := []string{"csv-300.0KiB", "csv-600.0KiB", "csv.gz-300.0KiB", "jsonl-300.0KiB"}
	if len(rep.Ingest) != len(wantCases) {
		t.Fatalf("ingest rows %d, want %d", len(rep.Ingest), len(wantCases))
	}
	for i, row := range rep.Ingest {
		if row.Case != wantCases[i] {
			t.Errorf("ingest row %d is %s, want %s", i, row.Case, wantCases[i])
		}
		if row.Records <= 0 || row.PeakRSS <= 0 || row.ColdWall <= 0 || row.Wall <= 0 || row.Base.Wall <= 0 || row.Requests < 2 {
			t.Errorf("ingest row %s incomplete: %+v", row.Case, row)
		}
		// Only streaming has a rate limit to leave out; both of its baselines post the same bodies.
		if json := strings.HasPrefix(row.Case, "jsonl"); json != (row.Unpaced.Wall > 0) || json && row.Unpaced != (Baseline{Wall: row.Unpaced.Wall, Raw: row.Base.Raw, Requests: row.Base.Requests}) {
			t.Errorf("ingest row %s: unpaced baseline %+v against the paced %+v", row.Case, row.Unpaced, row.Base)
		}
	}
	if rep.Ingest[1].Uploads < 6 {
		t.Errorf("csv-600KiB with 100 kB parts made %d uploads, want at least 6", rep.Ingest[1].Uploads)
	}
	if len(rep.Cold) != 4 {
		t.Fatalf("cold-start rows %d, want 4", len(rep.Cold))
	}
	for _, c := range rep.Cold {
		if c.Init <= 0 || c.BinarySize <= 0 {
			t.Errorf("cold start %s incomplete: %+v", c.Function, c)
		}
	}
	if rep.Query == nil || rep.Query.Rows != 3000 || rep.Query.Answers < 1 || rep.Query.Direct <= 0 || rep.Query.Trigger <= 0 || rep.Query.InProcess <= 0 {
		t.Fatalf("query result %+v", rep.Query)
	}
	var out bytes.Buffer
	rep.Print(&out)
	text := out.String()
	for _, want := range append(wantCases, "hello", "tokenrefresh", "s3ingest", "querytrigger", "Client.Rows", "in the bench process", "### Targets") {
		if !strings.Contains(text, want) {
			t.Errorf("the printed report lacks %q:\n%s", want, text)
		}
	}
	if n := len(rep.Targets()); n != 12 {
		// csv ×2 (memory, ratio), jsonl ×2, memory growth, 3 INITs, query ×2
		t.Errorf("%d targets evaluated, want 12:\n%s", n, text)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "100MiB", want: 100 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "64MB", want: 64_000_000},
		{in: "4096", want: 4096},
		{in: "1.5KiB", want: 1536},
		{in: "0MiB", bad: true},
		{in: "lots", bad: true},
		{in: "-1GB", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("parseSize(%q) = %d, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseFlagsErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown format", []string{"-formats", "xml"}, `unknown format "xml"`},
		{"unknown section", []string{"-only", "deploy"}, `unknown section "deploy"`},
		{"bad size", []string{"-sizes", "big"}, `size "big"`},
		{"no size", []string{"-sizes", ","}, "no size given"},
		{"bad part", []string{"-part-bytes", "0"}, "-part-bytes must be positive"},
		{"bad env", []string{"-env", "NOEQUALS"}, "want KEY=value"},
		{"argument", []string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseFlags(%q) error %v, want one containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestIngestCases(t *testing.T) {
	cfg, err := parseFlags([]string{"-sizes", "1GiB,100MiB"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ingestCases(cfg) {
		got = append(got, c.name())
	}
	want := "csv-1GiB csv-100.0MiB csv.gz-100.0MiB jsonl-100.0MiB"
	if strings.Join(got, " ") != want {
		t.Fatalf("cases %q, want %q", strings.Join(got, " "), want)
	}
}

func TestTargets(t *testing.T) {
	row := func(name string, raw, peak int64, wall, base time.Duration) IngestRow {
		return IngestRow{Case: name, Format: "csv", Raw: raw, PeakRSS: peak, PartBytes: 64_000_000, Wall: wall, Base: Baseline{Wall: base, Raw: raw}}
	}
	rep := &Report{
		Ingest: []IngestRow{
			row("csv-100MiB", 100<<20, 150<<20, time.Second, 800*time.Millisecond),
			row("csv-1GiB", 1<<30, 190<<20, 10*time.Second, 6*time.Second),
			{Case: "jsonl-100MiB", Format: "jsonl", Raw: 100 << 20, BodyFill: 0.99, Wall: time.Second, Base: Baseline{Wall: time.Second}},
		},
		Cold: []ColdRow{
			{Function: "hello", Hello: true, Init: 10 * time.Millisecond},
			{Function: "s3ingest", Init: 25 * time.Millisecond},
		},
		Query: &QueryResult{Rows: 1000, Direct: time.Second, Trigger: 1100 * time.Millisecond, MaxAnswer: 5 << 20},
	}
	missed := strings.Join(rep.Missed(), "\n")
	for _, want := range []string{
		"peak memory, csv-1GiB: 190.0 MiB",           // over 186.1 MiB
		"throughput vs baseline, csv-1GiB: 0.60",     // 6 s / 10 s
		"peak memory csv-1GiB vs csv-100MiB: +26.7%", // 190 / 150
		"INIT, s3ingest: 25.0 ms (2.50 × hello)",     // over 2 × 10 ms
	} {
		if !strings.Contains(missed, want) {
			t.Errorf("missed targets lack %q:\n%s", want, missed)
		}
	}
	for _, notWant := range []string{"csv-100MiB: 150", "throughput vs baseline, csv-100MiB", "jsonl", "query"} {
		if strings.Contains(missed, notWant) {
			t.Errorf("missed targets hold %q, which was met:\n%s", notWant, missed)
		}
	}
}

func TestWriteMarkdownKeepsTheRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perf.md")
	rep := &Report{Started: time.Date(2026, 11, 28, 18, 30, 0, 0, time.UTC), Elapsed: time.Minute,
		Cold: []ColdRow{{Function: "hello", Hello: true, Init: time.Millisecond, Inits: []time.Duration{time.Millisecond}}}}
	if err := os.WriteFile(path, []byte("# Performance\n\nhand-written intro\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second write replaces the first
		if err := rep.WriteMarkdown(path); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if !strings.HasPrefix(doc, "# Performance\n\nhand-written intro\n\n"+beginMarker) || strings.Count(doc, beginMarker) != 1 ||
		!strings.HasSuffix(doc, endMarker+"\n") || !strings.Contains(doc, "| hello ") {
		t.Fatalf("document:\n%s", doc)
	}
}
