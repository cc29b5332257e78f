package querysvc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
)

// readAll follows cursors until done and checks every answer; it returns the ids in order.
func readAll(t *testing.T, f *fixture, apiGateway bool, budget int) (ids []string, answers int) {
	t.Helper()
	first := fmt.Sprintf(`{"sql":%q}`, ordersSQL)
	body := first
	for answers = 1; answers <= 2000; answers++ {
		var ev json.RawMessage = json.RawMessage(body)
		if apiGateway {
			ev = apiEvent(t, "POST", "/query", body, nil)
		}
		r := f.invoke(t, ev, apiGateway)
		if r.status != 200 {
			t.Fatalf("answer %d: status %d: %s", answers, r.status, r.body)
		}
		if r.size > budget {
			t.Fatalf("answer %d is %d bytes, over the budget %d", answers, r.size, budget)
		}
		var a wireAnswer
		if err := json.Unmarshal(r.body, &a); err != nil {
			t.Fatal(err)
		}
		if len(a.Columns) != 3 || a.Columns[0].Name != "id" || a.Columns[1].Name != "n" || a.Columns[2].Name != "note" || a.Columns[0].Type != "VARCHAR" {
			t.Fatalf("columns = %+v", a.Columns)
		}
		if a.RowCount != len(a.Rows) || a.QueryID == "" {
			t.Fatalf("rowCount %d for %d rows, queryId %q", a.RowCount, len(a.Rows), a.QueryID)
		}
		for _, row := range a.Rows {
			ids = append(ids, row["id"].(string))
		}
		if a.Done != (a.Cursor == nil) {
			t.Fatalf("done=%v but cursor present=%v", a.Done, a.Cursor != nil)
		}
		if a.Done {
			return ids, answers
		}
		// A continuation needs only the cursor; a stray sql is ignored.
		body = fmt.Sprintf(`{"cursor":%q,"sql":"SELECT 1"}`, *a.Cursor)
	}
	t.Fatal("no done answer after 2000 continuations")
	return nil, 0
}

func checkEveryRowOnce(t *testing.T, ids []string, rows int) {
	t.Helper()
	if len(ids) != rows {
		t.Fatalf("read %d rows, want %d", len(ids), rows)
	}
	for i, id := range ids {
		if want := fmt.Sprintf("r%05d", i); id != want {
			t.Fatalf("row %d is %s, want %s (duplicated or skipped)", i, id, want)
		}
	}
}

func TestQueryPagesAcrossV2Batches(t *testing.T) {
	for _, apiGateway := range []bool{true, false} {
		t.Run(fmt.Sprintf("apiGateway=%v", apiGateway), func(t *testing.T) {
			f := newFixture(t, fixtureOptions{rows: 230, batchRows: 50, noteBytes: 20})
			ids, answers := readAll(t, f, apiGateway, DefaultMaxResponseBytes)
			checkEveryRowOnce(t, ids, 230)
			if answers != 5 {
				t.Fatalf("%d answers, want 5 (one per V2 batch)", answers)
			}
			for _, r := range f.srv.Requests() {
				if r.Path == "/api/v1/query" {
					t.Fatal("V1 fallback used although every batch fits")
				}
			}
			lines, total := 0, 0
			for _, line := range bytes.Split(bytes.TrimSpace(f.metrics.Bytes()), []byte("\n")) {
				var m map[string]any
				if err := json.Unmarshal(line, &m); err != nil {
					t.Fatalf("metric line %q: %v", line, err)
				}
				lines++
				total += int(m[obs.QueryRows].(float64))
			}
			if lines != answers || total != 230 {
				t.Fatalf("%d EMF lines with QueryRows total %d, want %d lines totalling 230", lines, total, answers)
			}
		})
	}
}

func TestQueryFallsBackToV1WhenBatchTooBig(t *testing.T) {
	tests := []struct {
		name       string
		apiGateway bool
		budget     int
		rows       int
		batchRows  int
	}{
		{name: "api gateway tiny budget", apiGateway: true, budget: 3000, rows: 157, batchRows: 40},
		{name: "direct tiny budget", apiGateway: false, budget: 2500, rows: 157, batchRows: 40},
		{name: "api gateway one huge batch", apiGateway: true, budget: 9000, rows: 301, batchRows: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{rows: tt.rows, batchRows: tt.batchRows, budget: tt.budget, noteBytes: 60, heldBatches: -1})
			ids, answers := readAll(t, f, tt.apiGateway, tt.budget)
			checkEveryRowOnce(t, ids, tt.rows)
			v1 := 0
			for _, r := range f.srv.Requests() {
				if r.Path == "/api/v1/query" {
					v1++
				}
			}
			if v1 == 0 || answers < 3 {
				t.Fatalf("v1 pages = %d, answers = %d: the budget should have forced the V1 fallback", v1, answers)
			}
		})
	}
}

// TestQueryRealSizeBatchStaysUnderLambdaLimit reads a V2 batch of about 9 MB (escaped for
// API Gateway) with the default budget: no answer may pass 6 MB.
func TestQueryRealSizeBatchStaysUnderLambdaLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("moves ~20 MB through the emulator")
	}
	const rows = 48
	f := newFixture(t, fixtureOptions{rows: rows, batchRows: 1000, noteBytes: 140_000})
	ids, answers := readAll(t, f, true, DefaultMaxResponseBytes)
	checkEveryRowOnce(t, ids, rows)
	if answers < 2 {
		t.Fatalf("%d answers: a ~9 MB batch cannot fit one answer", answers)
	}
	if DefaultMaxResponseBytes >= LambdaResponseLimit {
		t.Fatal("default budget is not under Lambda's limit")
	}
}
