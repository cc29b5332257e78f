package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// run measures the selected sections. The report holds what was measured even when a later
// section failed.
func run(ctx context.Context, cfg Config, log io.Writer) (*Report, error) {
	rep := &Report{Config: cfg, Machine: describeMachine(), Started: time.Now().UTC(), Args: os.Args[1:], Source: cfg.Source}
	if rep.Source == "" {
		rep.Source = gitSource(ctx)
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(log, "%s bench: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	// Every section runs bootstraps under the RIE: say it is missing before minutes of setup.
	if _, err := lambdarun.FindRIE(); err != nil {
		return rep, err
	}
	dir, err := os.MkdirTemp("", "datacloud-bench-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
	boots := map[string]string{}

	if cfg.runs("ingest") {
		w, err := newWorld(ctx, cfg, log, dir, boots, ingestOptions())
		if err != nil {
			return rep, err
		}
		rep.Ingest, err = runIngest(ctx, w, progress)
		w.Close()
		if err != nil {
			return rep, err
		}
	}
	if cfg.runs("coldstart") || cfg.runs("query") {
		w, err := newWorld(ctx, cfg, log, dir, boots, datacloudtest.Options{})
		if err != nil {
			return rep, err
		}
		defer w.Close()
		if cfg.runs("coldstart") {
			if rep.Cold, err = runColdStart(ctx, w, progress); err != nil {
				return rep, err
			}
		}
		if cfg.runs("query") {
			if rep.Query, err = runQuery(ctx, w, progress); err != nil {
				return rep, err
			}
		}
	}
	rep.Elapsed = time.Since(rep.Started)
	return rep, nil
}

// gitSource names the checked-out commit, and whether the tree differs from it.
func gitSource(ctx context.Context) string {
	head, err := exec.CommandContext(ctx, "git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	src := "commit " + strings.TrimSpace(string(head))
	if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		src += " with uncommitted changes"
	}
	return src
}

// Machine describes where a run happened.
type Machine struct {
	CPUs     int
	CPUModel string
	MemTotal string
	Kernel   string
	Go       string
	Arch     string
}

func describeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Arch: runtime.GOOS + "/" + runtime.GOARCH}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseInt(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64); err == nil {
		m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// procField returns the value of the first "name: value" line of a /proc file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
