package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/internal/querysvc"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// maxAnswerBytes is Lambda's limit on a synchronous response (6 MB).
const maxAnswerBytes = 6 * 1024 * 1024

// queryReps is how many times each path reads the result; the best is reported. A second
// round is skipped when the first took longer than slowRead.
const (
	queryReps = 2
	slowRead  = 3 * time.Minute
)

// benchSQL reads every generated row.
const benchSQL = "SELECT id, first_name, last_name, email, city, amount, created_at, notes FROM " + benchObject

// QueryResult compares the two ways of reading one result.
type QueryResult struct {
	Rows            int
	Reads           int           // reads of each path (the best is reported)
	BatchRows       int           // the emulator's rows per v2 batch
	Direct          time.Duration // pkg/datacloud Client.Rows, best of queryReps
	Trigger         time.Duration // querytrigger under the RIE following cursor, best of queryReps
	InProcess       time.Duration // querytrigger's service called in the bench process (no RIE, no target), best of queryReps
	InProcAnswers   int           // its answers
	DirectBatches   int           // Data Cloud batches the direct read fetched
	Answers         int           // querytrigger answers
	MaxAnswer       int           // largest answer, bytes
	MeanAnswerBytes int
	// Processor time of the reported reads: the bench process (the emulator, S3 and the
	// reader's decoding) for both, and the querytrigger bootstrap and the RIE for the second.
	DirectCPU  time.Duration
	TriggerCPU triggerCPU
}

// triggerCPU is where the processor time of a read through querytrigger went.
type triggerCPU struct {
	Bench, Function, RIE time.Duration
}

// DirectRate and TriggerRate are rows per second.
func (q QueryResult) DirectRate() float64  { return rate(q.Rows, q.Direct) }
func (q QueryResult) TriggerRate() float64 { return rate(q.Rows, q.Trigger) }

// Ratio is querytrigger's rows/s over the direct client's.
func (q QueryResult) Ratio() float64 {
	if q.DirectRate() == 0 {
		return 0
	}
	return q.TriggerRate() / q.DirectRate()
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// runQuery loads cfg.QueryRows rows into the emulator with a bulk job, then reads them back
// directly and through querytrigger, alternating, queryReps times each.
func runQuery(ctx context.Context, w *world, progress func(string, ...any)) (*QueryResult, error) {
	c, err := w.client()
	if err != nil {
		return nil, err
	}
	progress("query: loading %d rows", w.cfg.QueryRows)
	if err := loadRows(ctx, w, c, w.cfg.QueryRows); err != nil {
		return nil, fmt.Errorf("query: load: %w", err)
	}
	rt, err := w.startFunction(ctx, w.cfg.Packages.QueryTrigger, "querytrigger", 60*time.Second)
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	// Warm both paths (the bootstrap's INIT, the client's TLS connection) before timing.
	if _, err := c.QueryV2(ctx, "SELECT 1 AS one"); err != nil {
		return nil, fmt.Errorf("query: warm-up: %w", err)
	}
	if res, err := rt.Invoke(ctx, []byte(coldPayloads["querytrigger"])); err != nil {
		return nil, fmt.Errorf("query: warm-up: %w", err)
	} else if res.FunctionError != "" {
		return nil, fmt.Errorf("query: warm-up: %s: %s\n%s", res.FunctionError, res.ErrorMessage, tail(res.Logs, 10))
	}
	q := &QueryResult{Rows: w.cfg.QueryRows, BatchRows: w.dc.Options().QueryBatchRows}
	svc := querysvc.New(c, querysvc.Options{}) // querytrigger's defaults, as its main builds it
	inProcess := func(ctx context.Context, payload []byte) (lambdarun.Result, error) {
		out, err := svc.Handle(ctx, payload)
		return lambdarun.Result{Payload: out}, err
	}
	for rep := range queryReps {
		if rep > 0 && q.Direct+q.Trigger > slowRead {
			progress("query: one read of each path took %s together: no second round", (q.Direct + q.Trigger).Round(time.Second))
			break
		}
		q.Reads++
		progress("query: direct, round %d of %d", rep+1, queryReps)
		from, cpu0 := len(w.dc.Requests()), selfCPU()
		d, err := readDirect(ctx, c, q.Rows)
		if err != nil {
			return nil, err
		}
		batches, cpu := len(w.dc.Requests())-from, selfCPU()-cpu0
		if q.Direct == 0 || d < q.Direct {
			q.Direct, q.DirectBatches, q.DirectCPU = d, batches, cpu
		}
		progress("query: querytrigger, round %d of %d", rep+1, queryReps)
		before, err := triggerCPUNow(rt)
		if err != nil {
			return nil, err
		}
		t, st, err := readTrigger(ctx, rt.Invoke, q.Rows, func(answers, rows int) {
			progress("query: querytrigger, %d answers, %d rows so far", answers, rows)
		})
		if err != nil {
			return nil, err
		}
		after, err := triggerCPUNow(rt)
		if err != nil {
			return nil, err
		}
		if q.Trigger == 0 || t < q.Trigger {
			q.Trigger = t
			q.TriggerCPU = triggerCPU{after.Bench - before.Bench, after.Function - before.Function, after.RIE - before.RIE}
		}
		q.Answers, q.MaxAnswer, q.MeanAnswerBytes = st.answers, max(q.MaxAnswer, st.maxBytes), int(st.bytes/int64(st.answers))
		progress("query: querytrigger's service in the bench process, round %d of %d", rep+1, queryReps)
		in, inSt, err := readTrigger(ctx, inProcess, q.Rows, func(int, int) {})
		if err != nil {
			return nil, fmt.Errorf("query: in process: %w", err)
		}
		if q.InProcess == 0 || in < q.InProcess {
			q.InProcess, q.InProcAnswers = in, inSt.answers
		}
	}
	return q, nil
}

// selfCPU is the processor time the bench process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// triggerCPUNow reads the processor time used so far by the bench, the bootstrap and the RIE.
func triggerCPUNow(rt *lambdarun.Runtime) (triggerCPU, error) {
	fn, rie, err := rt.CPUTime()
	if err != nil {
		return triggerCPU{}, fmt.Errorf("query: %w", err)
	}
	return triggerCPU{Bench: selfCPU(), Function: fn, RIE: rie}, nil
}

// loadRows bulk-loads n generated rows (the ingest generator's CSV) into the bench object.
func loadRows(ctx context.Context, w *world, c *datacloud.Client, n int) error {
	g, err := generate(w.dir, formatsByName["csv"], 1<<40, int64(n), 99)
	if err != nil {
		return err
	}
	defer os.Remove(g.Path)
	if g.Records != int64(n) {
		return fmt.Errorf("generated %d rows, want %d", g.Records, n)
	}
	f, err := os.Open(g.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	sp, err := datacloud.NewCSVSplitter(f, 100_000_000)
	if err != nil {
		return err
	}
	loader := datacloud.NewBulkLoader(c, datacloud.JobSpec{Object: benchObject, SourceName: benchSource, Operation: "upsert"}, datacloud.DefaultMaxUploadsPerJob)
	for {
		part, err := sp.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return errors.Join(err, loader.Abort(ctx))
		}
		if err := loader.Upload(ctx, part); err != nil {
			return errors.Join(err, loader.Abort(ctx))
		}
	}
	if err := loader.Close(ctx); err != nil {
		return err
	}
	for _, id := range loader.JobIDs() {
		if j, ok := w.dc.Job(id); !ok || j.State != "JobComplete" {
			return fmt.Errorf("job %s is %s (%s), want JobComplete", id, j.State, j.Error)
		}
	}
	return nil
}

// readDirect reads the whole result with Client.Rows.
func readDirect(ctx context.Context, c *datacloud.Client, want int) (time.Duration, error) {
	start := time.Now()
	_, rows := c.Rows(ctx, benchSQL)
	n := 0
	for row, err := range rows {
		if err != nil {
			return 0, fmt.Errorf("query: direct: %w", err)
		}
		if len(row) != 8 {
			return 0, fmt.Errorf("query: direct: row %d has %d values, want 8", n+1, len(row))
		}
		n++
	}
	d := time.Since(start)
	if n != want {
		return 0, fmt.Errorf("query: direct: read %d rows, want %d", n, want)
	}
	return d, nil
}

// answerStats describes querytrigger's answers in one read.
type answerStats struct {
	answers, maxBytes int
	bytes             int64
}

// triggerAnswer is the part of querytrigger's answer (contract §5) the bench checks.
type triggerAnswer struct {
	Columns  []struct{ Name, Type string }   `json:"columns"`
	Rows     []json.RawMessage               `json:"rows"`
	RowCount int                             `json:"rowCount"`
	Done     bool                            `json:"done"`
	Cursor   string                          `json:"cursor"`
	Error    *struct{ Code, Message string } `json:"error"`
}

type invokeFunc = func(ctx context.Context, payload []byte) (lambdarun.Result, error)

// readTrigger reads the whole result through querytrigger, following cursor.
func readTrigger(ctx context.Context, invoke invokeFunc, want int, progress func(answers, rows int)) (time.Duration, answerStats, error) {
	var st answerStats
	payload, _ := json.Marshal(map[string]string{"sql": benchSQL})
	n := 0
	start := time.Now()
	for {
		res, err := invoke(ctx, payload)
		if err != nil {
			return 0, st, fmt.Errorf("query: querytrigger: %w", err)
		}
		if res.FunctionError != "" {
			return 0, st, fmt.Errorf("query: querytrigger: %s: %s", res.FunctionError, res.ErrorMessage)
		}
		st.answers++
		st.bytes += int64(len(res.Payload))
		st.maxBytes = max(st.maxBytes, len(res.Payload))
		if len(res.Payload) > maxAnswerBytes {
			return 0, st, fmt.Errorf("query: querytrigger: answer %d is %d bytes, over Lambda's %d", st.answers, len(res.Payload), maxAnswerBytes)
		}
		var a triggerAnswer
		if err := json.Unmarshal(res.Payload, &a); err != nil {
			return 0, st, fmt.Errorf("query: querytrigger: answer %d: %w", st.answers, err)
		}
		if a.Error != nil {
			return 0, st, fmt.Errorf("query: querytrigger: answer %d: %s: %s", st.answers, a.Error.Code, a.Error.Message)
		}
		if a.RowCount != len(a.Rows) {
			return 0, st, fmt.Errorf("query: querytrigger: answer %d: rowCount %d but %d rows", st.answers, a.RowCount, len(a.Rows))
		}
		n += len(a.Rows)
		if st.answers%25 == 0 {
			progress(st.answers, n)
		}
		if a.Cursor == "" {
			break
		}
		if st.answers > want+10 {
			return 0, st, errors.New("query: querytrigger: more answers than rows: the cursor does not advance")
		}
		payload, _ = json.Marshal(map[string]string{"cursor": a.Cursor})
	}
	d := time.Since(start)
	if n != want {
		return 0, st, fmt.Errorf("query: querytrigger: read %d rows, want %d", n, want)
	}
	return d, st, nil
}
