package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"
)

// ColdRow is one function's cold start.
type ColdRow struct {
	Function   string
	Package    string
	Init       time.Duration   // median INIT REPORT duration
	Inits      []time.Duration // every run, in order
	BinarySize int64           // stripped bootstrap (-s -w, -trimpath, lambda.norpc)
	Hello      bool            // the hello-world reference
}

// coldPayloads are harmless first invokes: the INIT phase is measured, whatever follows.
var coldPayloads = map[string]string{
	"hello":        `{"echo":"bench"}`,
	"tokenrefresh": `{"version":"0","id":"bench","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-11-28T12:00:00Z","region":"us-east-1","resources":[],"detail":{}}`,
	"s3ingest":     `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-28T12:00:00.000Z","Bucket":"bench-landing","RequestId":"BENCH","HostId":"bench"}`,
	"querytrigger": `{"sql":"SELECT 1 AS one"}`,
}

// runColdStart starts each function cfg.ColdReps times in a fresh execution environment,
// round-robin so that machine noise spreads evenly, and reports the median INIT duration.
func runColdStart(ctx context.Context, w *world, progress func(string, ...any)) ([]ColdRow, error) {
	p := w.cfg.Packages
	rows := []ColdRow{
		{Function: "hello", Package: p.Hello, Hello: true},
		{Function: "tokenrefresh", Package: p.TokenRefresh},
		{Function: "s3ingest", Package: p.S3Ingest},
		{Function: "querytrigger", Package: p.QueryTrigger},
	}
	for i := range rows {
		progress("coldstart: building %s", rows[i].Package)
		boot, err := w.bootstrap(ctx, rows[i].Package)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(boot)
		if err != nil {
			return nil, err
		}
		rows[i].BinarySize = st.Size()
	}
	for rep := range w.cfg.ColdReps {
		progress("coldstart: round %d of %d", rep+1, w.cfg.ColdReps)
		for i := range rows {
			d, err := coldStart(ctx, w, rows[i].Package, rows[i].Function)
			if err != nil {
				return nil, fmt.Errorf("coldstart %s: %w", rows[i].Function, err)
			}
			rows[i].Inits = append(rows[i].Inits, d)
		}
	}
	for i := range rows {
		rows[i].Init = median(rows[i].Inits)
	}
	return rows, nil
}

// coldStart runs one first invoke and returns its INIT duration.
func coldStart(ctx context.Context, w *world, pkg, name string) (time.Duration, error) {
	rt, err := w.startFunction(ctx, pkg, name, 30*time.Second)
	if err != nil {
		return 0, err
	}
	defer rt.Close()
	res, err := rt.Invoke(ctx, []byte(coldPayloads[name]))
	if err != nil {
		return 0, err
	}
	if res.FunctionError == "Runtime.ExitError" {
		return 0, fmt.Errorf("the bootstrap exited: %s\n%s", res.ErrorMessage, tail(res.Logs, 10))
	}
	if res.InitDuration <= 0 {
		return 0, fmt.Errorf("no INIT REPORT in the emulator's log\n%s", tail(res.Logs, 10))
	}
	return res.InitDuration, nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
