package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// Report is everything one run measured.
type Report struct {
	Config  Config
	Machine Machine
	Args    []string
	Source  string // the code measured
	Started time.Time
	Elapsed time.Duration
	Ingest  []IngestRow
	Cold    []ColdRow
	Query   *QueryResult
}

// Target is one done-criterion and whether this run met it.
type Target struct {
	Name     string
	Measured string
	Limit    string
	OK       bool
}

// Targets evaluates the criteria the measured sections can be judged on.
func (r *Report) Targets() []Target {
	var out []Target
	var csvRows []IngestRow
	for _, row := range r.Ingest {
		switch row.Format {
		case "csv":
			csvRows = append(csvRows, row)
			limit := 2*int64(row.PartBytes) + 64<<20
			out = append(out,
				Target{"peak memory, " + row.Case, formatSize(row.PeakRSS), "≤ 2 × part + 64 MiB = " + formatSize(limit), row.PeakRSS <= limit},
				Target{"throughput vs baseline, " + row.Case, fmt.Sprintf("%.2f", row.Ratio()), "≥ 0.70", row.Ratio() >= 0.7})
		case "jsonl":
			out = append(out,
				Target{"mean streaming body fill, " + row.Case, fmt.Sprintf("%.1f%%", 100*row.BodyFill), "≥ 95%", row.BodyFill >= 0.95},
				Target{"throughput vs baseline, " + row.Case, fmt.Sprintf("%.2f", row.Ratio()), "≥ 0.70", row.Ratio() >= 0.7})
		}
	}
	if len(csvRows) >= 2 {
		small, large := csvRows[0], csvRows[0]
		for _, row := range csvRows {
			if row.Raw < small.Raw {
				small = row
			}
			if row.Raw > large.Raw {
				large = row
			}
		}
		growth := float64(large.PeakRSS)/float64(small.PeakRSS) - 1
		out = append(out, Target{fmt.Sprintf("peak memory %s vs %s", large.Case, small.Case),
			fmt.Sprintf("%+.1f%%", 100*growth), "within ±20%", growth <= 0.2 && growth >= -0.2})
	}
	var hello time.Duration
	for _, c := range r.Cold {
		if c.Hello {
			hello = c.Init
		}
	}
	for _, c := range r.Cold {
		if !c.Hello {
			out = append(out, Target{"INIT, " + c.Function, fmt.Sprintf("%s (%.2f × hello)", ms(c.Init), ratioOf(c.Init, hello)),
				"≤ 2 × hello = " + ms(2*hello), c.Init <= 2*hello})
		}
	}
	if q := r.Query; q != nil {
		out = append(out,
			Target{"query rows/s, querytrigger vs direct", fmt.Sprintf("%.2f", q.Ratio()), "≥ 0.80", q.Ratio() >= 0.8},
			Target{"largest querytrigger answer", fmt.Sprintf("%d bytes", q.MaxAnswer), fmt.Sprintf("< %d bytes (6 MB)", maxAnswerBytes), q.MaxAnswer < maxAnswerBytes})
	}
	return out
}

// Missed lists the targets this run missed.
func (r *Report) Missed() []string {
	var out []string
	for _, t := range r.Targets() {
		if !t.OK {
			out = append(out, fmt.Sprintf("%s: %s, want %s", t.Name, t.Measured, t.Limit))
		}
	}
	return out
}

// Print writes the report as Markdown tables.
func (r *Report) Print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Run %s, %s · %d CPUs (%s) · %s RAM · Linux %s · %s %s\n",
		r.Started.Format("2006-01-02 15:04 UTC"), durationText(r.Elapsed), m.CPUs, m.CPUModel, m.MemTotal, m.Kernel, m.Go, m.Arch)
	fmt.Fprintf(w, "Command: %s · code: %s\n", strings.TrimSpace("go run ./cmd/bench "+strings.Join(r.Args, " ")), r.Source)
	if r.Config.Quick {
		fmt.Fprintln(w, "Quick (smoke) run: the figures are not meaningful and targets are not enforced.")
	}
	if len(r.Ingest) > 0 {
		fmt.Fprintf(w, "\n### s3ingest under the RIE vs the raw baseline (Data Cloud emulator over %s)\n\n", map[bool]string{true: "TLS", false: "HTTP"}[r.Config.TLS])
		t := table{header: []string{"case", "landed", "data", "records", "cold wall", "wall", "MB/s", "peak RSS (VmHWM)", "DC requests", "uploads", "body fill", "baseline wall", "baseline MB/s", "baseline requests", "ratio"}}
		for _, row := range r.Ingest {
			fill := "—"
			if row.PartBytes == 0 {
				fill = fmt.Sprintf("%.1f%%", 100*row.BodyFill)
			}
			t.add(row.Case, formatSize(row.Size), formatSize(row.Raw), fmt.Sprint(row.Records), secs(row.ColdWall), secs(row.Wall),
				fmt.Sprintf("%.1f", row.MBps()), formatSize(row.PeakRSS), fmt.Sprint(row.Requests), fmt.Sprint(row.Uploads), fill,
				secs(row.Base.Wall), fmt.Sprintf("%.1f", row.Base.MBps()), fmt.Sprint(row.Base.Requests), fmt.Sprintf("%.2f", row.Ratio()))
		}
		t.write(w)
		fmt.Fprintf(w, "\nBulk cases ran with INGEST_BULK_PART_BYTES=%d. Wall and ratio are the second invocation in the same execution environment (warm, like the baseline's process); cold wall is the first.\n", r.Config.PartBytes)
		for _, row := range r.Ingest {
			if row.Unpaced.Wall > 0 {
				fmt.Fprintf(w, "The %s baseline started at most %d requests a second, as the function does (Data Cloud allows %d, which the emulator enforced here); without that cap it took %s (%.0f requests/s), which would make the ratio %.2f.\n",
					row.Case, datacloud.DefaultStreamingRequestsPerSecond, datacloud.MaxStreamingRequestsPerSecond, secs(row.Unpaced.Wall), float64(row.Unpaced.Requests)/row.Unpaced.Wall.Seconds(), float64(row.Unpaced.Wall)/float64(row.Wall))
			}
		}
	}
	if len(r.Cold) > 0 {
		fmt.Fprintf(w, "\n### Cold start (median INIT REPORT of %d fresh starts each) and binary size\n\n", r.Config.ColdReps)
		var hello time.Duration
		for _, c := range r.Cold {
			if c.Hello {
				hello = c.Init
			}
		}
		t := table{header: []string{"function", "INIT (median)", "× hello", "all runs", "stripped binary"}}
		for _, c := range r.Cold {
			var runs []string
			for _, d := range c.Inits {
				runs = append(runs, ms(d))
			}
			t.add(c.Function, ms(c.Init), fmt.Sprintf("%.2f", ratioOf(c.Init, hello)), strings.Join(runs, " "), formatSize(c.BinarySize))
		}
		t.write(w)
	}
	if q := r.Query; q != nil {
		fmt.Fprintf(w, "\n### Query path: %d rows (Data Cloud v2 batches of %d rows), best of %d read(s) each\n\n", q.Rows, q.BatchRows, q.Reads)
		t := table{header: []string{"path", "wall", "rows/s", "round trips", "CPU: bench · function · RIE", "ratio"}}
		t.add("pkg/datacloud Client.Rows (direct)", secs(q.Direct), fmt.Sprintf("%.0f", q.DirectRate()), fmt.Sprintf("%d Data Cloud requests", q.DirectBatches),
			secs(q.DirectCPU)+" · – · –", "1.00")
		t.add("querytrigger under the RIE, following cursor", secs(q.Trigger), fmt.Sprintf("%.0f", q.TriggerRate()),
			fmt.Sprintf("%d answers (mean %s, largest %s)", q.Answers, formatSize(int64(q.MeanAnswerBytes)), formatSize(int64(q.MaxAnswer))),
			fmt.Sprintf("%s · %s · %s", secs(q.TriggerCPU.Bench), secs(q.TriggerCPU.Function), secs(q.TriggerCPU.RIE)), fmt.Sprintf("%.2f", q.Ratio()))
		t.add("querytrigger's service in the bench process (no RIE; for comparison)", secs(q.InProcess), fmt.Sprintf("%.0f", rate(q.Rows, q.InProcess)),
			fmt.Sprintf("%d answers", q.InProcAnswers), "–", fmt.Sprintf("%.2f", ratioOf(q.Direct, q.InProcess)))
		t.write(w)
	}
	if targets := r.Targets(); len(targets) > 0 {
		fmt.Fprintf(w, "\n### Targets\n\n")
		t := table{header: []string{"target", "measured", "limit", "result"}}
		for _, tg := range targets {
			t.add(tg.Name, tg.Measured, tg.Limit, map[bool]string{true: "met", false: "**MISSED**"}[tg.OK])
		}
		t.write(w)
	}
}

// Markers delimit the generated part of the Markdown file.
const (
	beginMarker = "<!-- bench:begin (generated by go run ./cmd/bench -write; do not edit) -->"
	endMarker   = "<!-- bench:end -->"
)

// WriteMarkdown puts the report between the markers of path (appending them when absent),
// leaving the rest of the file as it is.
func (r *Report) WriteMarkdown(path string) error {
	var buf bytes.Buffer
	r.Print(&buf)
	gen := beginMarker + "\n\n" + buf.String() + "\n" + endMarker
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	i, j := strings.Index(doc, beginMarker), strings.Index(doc, endMarker)
	if i >= 0 && j > i {
		doc = doc[:i] + gen + doc[j+len(endMarker):]
	} else {
		if doc != "" && !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		doc += gen + "\n"
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

// table is a Markdown table with aligned columns.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	width := make([]int, len(t.header))
	for _, row := range append([][]string{t.header}, t.rows...) {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-len([]rune(c))) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(t.header)
	sep := make([]string, len(width))
	for i, n := range width {
		sep[i] = strings.Repeat("-", n)
	}
	line(sep)
	for _, row := range t.rows {
		line(row)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func durationText(d time.Duration) string {
	if d <= 0 {
		return "incomplete"
	}
	return "took " + d.Round(time.Second).String()
}

func ratioOf(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}
