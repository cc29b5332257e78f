package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// format is one kind of landed file.
type format struct {
	Name string // csv, csv.gz, jsonl, jsonl.gz
	Ext  string // the key's extension
	JSON bool   // JSON Lines through the streaming API rather than CSV through bulk jobs
	Gzip bool
}

var formatsByName = map[string]format{
	"csv":      {Name: "csv", Ext: ".csv"},
	"csv.gz":   {Name: "csv.gz", Ext: ".csv.gz", Gzip: true},
	"jsonl":    {Name: "jsonl", Ext: ".jsonl", JSON: true},
	"jsonl.gz": {Name: "jsonl.gz", Ext: ".jsonl.gz", JSON: true, Gzip: true},
}

// generated is a file written by generate.
type generated struct {
	Path    string
	Size    int64 // bytes on disk (compressed for .gz)
	Raw     int64 // uncompressed bytes
	Records int64
}

// csvHeader is the header of every generated CSV.
const csvHeader = "id,first_name,last_name,email,city,amount,created_at,notes\n"

var (
	firstNames = []string{"Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger", "Radia", "Tim", "Hedy"}
	lastNames  = []string{"Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Lamarr"}
	cities     = []string{"Paris", "London", "Berlin", "Lisbon", "Oslo", "Madrid", "Rome", "Vienna", "Dublin", "Prague", "Zürich", "São Paulo"}
	notes      = []string{"", "", "", "repeat customer", "prefers email", `said "call me later"`, "two lines:\nsecond line", "comma, inside", "", "vip"}
)

// rng is a small deterministic generator (xorshift64*), so every run lands the same files.
type rng uint64

func (r *rng) next() uint64 {
	x := uint64(*r)
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = rng(x)
	return x * 2685821657736338717
}

func (r *rng) pick(list []string) string { return list[r.next()%uint64(len(list))] }

// recordWriter appends one record per call in CSV or JSON Lines, reusing its buffer.
type recordWriter struct {
	json bool
	r    rng
	buf  []byte
}

// appendRecord appends record n (1-based).
func (w *recordWriter) appendRecord(n int64) []byte {
	first, last, city, note := w.r.pick(firstNames), w.r.pick(lastNames), w.r.pick(cities), w.r.pick(notes)
	amount := w.r.next() % 1_000_000
	day := 1 + w.r.next()%28
	b := w.buf[:0]
	if w.json {
		b = append(b, `{"id":"`...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, `","first_name":`...)
		b = strconv.AppendQuote(b, first)
		b = append(b, `,"last_name":`...)
		b = strconv.AppendQuote(b, last)
		b = append(b, `,"email":"`...)
		b = appendEmail(b, first, last, n)
		b = append(b, `","city":`...)
		b = strconv.AppendQuote(b, city)
		b = append(b, `,"amount":`...)
		b = appendAmount(b, amount)
		b = append(b, `,"created_at":"2026-11-`...)
		b = appendDay(b, day)
		b = append(b, `T12:34:56Z","notes":`...)
		b = appendJSONString(b, note)
		b = append(b, "}\n"...)
	} else {
		b = strconv.AppendInt(b, n, 10)
		b = append(b, ',')
		b = append(b, first...)
		b = append(b, ',')
		b = append(b, last...)
		b = append(b, ',')
		b = appendEmail(b, first, last, n)
		b = append(b, ',')
		b = append(b, city...)
		b = append(b, ',')
		b = appendAmount(b, amount)
		b = append(b, ",2026-11-"...)
		b = appendDay(b, day)
		b = append(b, "T12:34:56Z,"...)
		b = appendCSVField(b, note)
		b = append(b, '\n')
	}
	w.buf = b
	return b
}

func appendEmail(b []byte, first, last string, n int64) []byte {
	b = append(b, strings.ToLower(first)...)
	b = append(b, '.')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, "@example.com"...)
	return b
}

func appendAmount(b []byte, cents uint64) []byte {
	b = strconv.AppendUint(b, cents/100, 10)
	b = append(b, '.')
	if cents%100 < 10 {
		b = append(b, '0')
	}
	return strconv.AppendUint(b, cents%100, 10)
}

func appendDay(b []byte, d uint64) []byte {
	if d < 10 {
		b = append(b, '0')
	}
	return strconv.AppendUint(b, d, 10)
}

// appendCSVField quotes a field holding a comma, a quote or a line break (RFC 4180).
func appendCSVField(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(b, s...)
	}
	b = append(b, '"')
	b = append(b, strings.ReplaceAll(s, `"`, `""`)...)
	return append(b, '"')
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// generate writes a file of f's format into dir holding whole records up to size
// uncompressed bytes (at least one record), and at most maxRecords of them when positive.
func generate(dir string, f format, size, maxRecords int64, seed uint64) (generated, error) {
	file, err := os.CreateTemp(dir, "bench-*"+f.Ext)
	if err != nil {
		return generated{}, fmt.Errorf("generate %s: %w", f.Name, err)
	}
	g := generated{Path: file.Name()}
	fail := func(err error) (generated, error) {
		file.Close()
		os.Remove(g.Path)
		return generated{}, fmt.Errorf("generate %s: %w", f.Name, err)
	}
	bw := bufio.NewWriterSize(file, 1<<20)
	var out io.Writer = bw
	var gz *gzip.Writer
	if f.Gzip {
		// The default level, as gzip(1) and most exporters write.
		gz = gzip.NewWriter(bw)
		out = gz
	}
	w := &recordWriter{json: f.JSON, r: rng(seed | 1)}
	if !f.JSON {
		if _, err := io.WriteString(out, csvHeader); err != nil {
			return fail(err)
		}
		g.Raw = int64(len(csvHeader))
	}
	for n := int64(1); ; n++ {
		rec := w.appendRecord(n)
		if g.Records > 0 && (g.Raw+int64(len(rec)) > size || g.Records == maxRecords) {
			break
		}
		if _, err := out.Write(rec); err != nil {
			return fail(err)
		}
		g.Raw += int64(len(rec))
		g.Records++
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return fail(err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	st, err := file.Stat()
	if err != nil {
		return fail(err)
	}
	g.Size = st.Size()
	if err := file.Close(); err != nil {
		return fail(err)
	}
	return g, nil
}

// parseSize parses "100MiB", "1GiB", "64MB", "4096".
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := s, int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	return int64(n * float64(mult)), nil
}

// formatSize prints bytes in binary units.
func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
