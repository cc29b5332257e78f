// Command bench measures the functions as they run: the real s3ingest bootstrap under the
// Runtime Interface Emulator, reading generated files from the embedded S3
// (internal/localstack) and sending them to the Data Cloud emulator, beside a raw baseline
// that moves the same bytes from the same S3 to the same endpoint with plain io.Copy; the
// cold start of every function beside a hello-world bootstrap; and the query path (rows per
// second through querytrigger against pkg/datacloud directly). It prints one table per
// section and exits 1 when a target is missed (2 when the run itself failed).
//
//	go run ./cmd/bench                       # 100MiB and 1GiB CSV, gzip CSV and JSONL, cold start, query
//	go run ./cmd/bench -quick                # a smoke run with small files (targets are reported, not enforced)
//	go run ./cmd/bench -only ingest -sizes 100MiB
//	go run ./cmd/bench -write docs/performance.md
//
// Nothing is written into the repository unless -write names a file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK     = 0
	exitMissed = 1 // the run completed and a target was missed
	exitFailed = 2 // the run could not complete
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "bench:", err)
		return exitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	if cfg.CPUProfile != "" {
		stopProfile, err := startProfile(cfg.CPUProfile)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return exitFailed
		}
		defer stopProfile()
	}
	rep, err := run(ctx, cfg, stderr)
	if rep != nil {
		rep.Print(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitFailed
	}
	if cfg.Write != "" {
		if err := rep.WriteMarkdown(cfg.Write); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return exitFailed
		}
		fmt.Fprintln(stderr, "bench: wrote", cfg.Write)
	}
	if missed := rep.Missed(); len(missed) > 0 && !cfg.Quick {
		fmt.Fprintf(stderr, "bench: %d target(s) missed:\n  %s\n", len(missed), strings.Join(missed, "\n  "))
		return exitMissed
	}
	return exitOK
}

// startProfile profiles the bench process (where S3 and the emulator run) until stop.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// Config is what one run measures.
type Config struct {
	Sizes      []int64  // file sizes (uncompressed bytes) of the CSV cases
	Formats    []string // formats run at every size; nil: csv at every size, the others at the smallest
	Only       map[string]bool
	PartBytes  int  // INGEST_BULK_PART_BYTES of the bulk cases
	QueryRows  int  // rows of the query-path result
	ColdReps   int  // cold starts per function (the median is reported)
	TLS        bool // serve the Data Cloud emulator over TLS (as Salesforce does)
	Quick      bool // smoke run: small sizes, targets reported but not enforced
	Verbose    bool // copy the bootstraps' logs to stderr
	Timeout    time.Duration
	Write      string // a Markdown file to write the report into
	Packages   Packages
	ExtraEnv   []string // added to every function's environment (tuning knobs, profiling)
	Source     string   // what code was measured (printed in the report)
	CPUProfile string   // profile of the bench process itself
}

// Packages are the main packages the bench builds.
type Packages struct {
	Hello, TokenRefresh, S3Ingest, QueryTrigger string
}

// defaultPackages are relative to the module root, where `make bench` runs.
var defaultPackages = Packages{
	Hello:        "./internal/lambdarun/testdata/hello",
	TokenRefresh: "./functions/tokenrefresh",
	S3Ingest:     "./functions/s3ingest",
	QueryTrigger: "./functions/querytrigger",
}

// sections are the parts -only selects.
var sections = []string{"ingest", "coldstart", "query"}

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", "100MiB,1GiB", "comma-separated file sizes of the ingest cases (KiB, MiB, GiB, KB, MB, GB or bytes)")
	formats := fs.String("formats", "", "comma-separated formats run at every size (csv, csv.gz, jsonl, jsonl.gz); default: csv at every size, csv.gz and jsonl at the smallest")
	only := fs.String("only", "", "comma-separated sections to run: "+strings.Join(sections, ", ")+" (default all)")
	part := fs.Int("part-bytes", 64_000_000, "INGEST_BULK_PART_BYTES for the bulk cases")
	rows := fs.Int("query-rows", 1_000_000, "rows of the query-path result")
	reps := fs.Int("cold-reps", 5, "cold starts per function")
	useTLS := fs.Bool("tls", true, "serve the Data Cloud emulator over TLS")
	quick := fs.Bool("quick", false, "smoke run: 2MiB files, 20,000 query rows, 2 cold starts, 1MB parts; targets are not enforced")
	verbose := fs.Bool("v", false, "copy the bootstraps' logs to stderr")
	timeout := fs.Duration("timeout", 45*time.Minute, "bound on the whole run")
	write := fs.String("write", "", "also write the report as Markdown into this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the bench process (S3, the emulator, the baselines) to this file")
	source := fs.String("source", "", "what code was measured, for the report (default: the git commit of the current directory)")
	s3ingestPkg := fs.String("s3ingest", defaultPackages.S3Ingest, "the s3ingest main package to measure (a variant, e.g. one that writes a CPU profile)")
	queryPkg := fs.String("querytrigger", defaultPackages.QueryTrigger, "the querytrigger main package to measure")
	var env multiFlag
	fs.Var(&env, "env", "KEY=value added to every function's environment (repeatable)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := Config{PartBytes: *part, QueryRows: *rows, ColdReps: *reps, TLS: *useTLS, Quick: *quick,
		Verbose: *verbose, Timeout: *timeout, Write: *write, Packages: defaultPackages, ExtraEnv: env}
	cfg.Packages.S3Ingest, cfg.Packages.QueryTrigger = *s3ingestPkg, *queryPkg
	cfg.Source, cfg.CPUProfile = *source, *cpuProfile
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.Quick {
		if !set["sizes"] {
			*sizes = "2MiB"
		}
		if !set["query-rows"] {
			cfg.QueryRows = 20_000
		}
		if !set["cold-reps"] {
			cfg.ColdReps = 2
		}
		if !set["part-bytes"] {
			cfg.PartBytes = 1_000_000
		}
	}
	for _, s := range splitList(*sizes) {
		n, err := parseSize(s)
		if err != nil {
			return Config{}, fmt.Errorf("-sizes: %w", err)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	if len(cfg.Sizes) == 0 {
		return Config{}, errors.New("-sizes: no size given")
	}
	for _, f := range splitList(*formats) {
		if _, ok := formatsByName[f]; !ok {
			return Config{}, fmt.Errorf("-formats: unknown format %q (want csv, csv.gz, jsonl or jsonl.gz)", f)
		}
		cfg.Formats = append(cfg.Formats, f)
	}
	if o := splitList(*only); len(o) > 0 {
		cfg.Only = map[string]bool{}
		for _, s := range o {
			if !contains(sections, s) {
				return Config{}, fmt.Errorf("-only: unknown section %q (want %s)", s, strings.Join(sections, ", "))
			}
			cfg.Only[s] = true
		}
	}
	switch {
	case cfg.PartBytes <= 0:
		return Config{}, fmt.Errorf("-part-bytes must be positive, got %d", cfg.PartBytes)
	case cfg.QueryRows <= 0:
		return Config{}, fmt.Errorf("-query-rows must be positive, got %d", cfg.QueryRows)
	case cfg.ColdReps <= 0:
		return Config{}, fmt.Errorf("-cold-reps must be positive, got %d", cfg.ColdReps)
	}
	return cfg, nil
}

// runs reports whether a section is selected.
func (c Config) runs(section string) bool { return c.Only == nil || c.Only[section] }

type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want KEY=value, got %q", v)
	}
	*m = append(*m, v)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
