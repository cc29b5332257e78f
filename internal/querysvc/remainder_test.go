package querysvc

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// call is one Data Cloud call the service made.
type call struct {
	kind          string // "v2", "next" or "v1"
	limit, offset int    // V1 only
	rows          int
}

// recorder is a Querier that records the calls made through it.
type recorder struct {
	Querier
	mu    sync.Mutex
	calls []call
}

func (r *recorder) add(c call, res *datacloud.RawBatch, err error) (*datacloud.RawBatch, error) {
	if err == nil {
		c.rows = res.Len()
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return res, err
}

func (r *recorder) QueryV2Raw(ctx context.Context, sql string) (*datacloud.RawBatch, error) {
	res, err := r.Querier.QueryV2Raw(ctx, sql)
	return r.add(call{kind: "v2"}, res, err)
}

func (r *recorder) NextBatchRaw(ctx context.Context, id string) (*datacloud.RawBatch, error) {
	res, err := r.Querier.NextBatchRaw(ctx, id)
	return r.add(call{kind: "next"}, res, err)
}

func (r *recorder) QueryV1Raw(ctx context.Context, sql string, o datacloud.QueryV1Options) (*datacloud.RawBatch, error) {
	res, err := r.Querier.QueryV1Raw(ctx, sql, o)
	return r.add(call{kind: "v1", limit: o.Limit, offset: o.Offset}, res, err)
}

// record makes f's service call Data Cloud through a recorder. held is Options.HeldBatches.
func record(f *fixture, budget, held int) *recorder {
	rec := &recorder{Querier: f.client}
	f.svc = New(rec, Options{MaxResponseBytes: budget, HeldBatches: held})
	return rec
}

// TestQueryReadsBatchRemainderThenContinuesV2 cuts V2 batches that do not fit, and reads on
// in two ways. When every continuation reaches a container that holds nothing, the rest of
// each batch comes from V1 pages that stay inside that batch. When each reaches the container
// that cut the batch (held), the rest comes from memory and Data Cloud sees no V1 query. Either
// way the next batch comes from the nextBatchId received with the cut one, so every batch is
// fetched once with V2, and every row is read once.
func TestQueryReadsBatchRemainderThenContinuesV2(t *testing.T) {
	tests := []struct {
		name       string
		apiGateway bool
		budget     int
		rows       int
		batchRows  int
		emptyFinal bool
		minV1      int // V1 pages at least without held rows (several per remainder when the budget is tiny)
	}{
		{name: "remainder in one page", apiGateway: false, budget: 4000, rows: 157, batchRows: 40, minV1: 4},
		{name: "remainder over several pages", apiGateway: true, budget: 3000, rows: 230, batchRows: 100, minV1: 6},
		{name: "empty final batch after an oversized one", apiGateway: false, budget: 4000, rows: 120, batchRows: 40, emptyFinal: true, minV1: 3},
		{name: "one huge batch", apiGateway: true, budget: 9000, rows: 301, batchRows: 1000, minV1: 3},
	}
	for _, tt := range tests {
		for _, held := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/held=%v", tt.name, held), func(t *testing.T) {
				f := newFixture(t, fixtureOptions{rows: tt.rows, batchRows: tt.batchRows, budget: tt.budget, noteBytes: 60, emptyFinal: tt.emptyFinal})
				rec := record(f, tt.budget, map[bool]int{false: -1, true: 0}[held])
				ids, answers := readAll(t, f, tt.apiGateway, tt.budget)
				checkEveryRowOnce(t, ids, tt.rows)
				batches := (tt.rows + tt.batchRows - 1) / tt.batchRows
				if tt.emptyFinal {
					batches++
				}
				var v2, next, v1, v1Rows int
				for _, c := range rec.calls {
					switch c.kind {
					case "v2":
						v2++
					case "next":
						next++
					case "v1":
						v1++
						v1Rows += c.rows
						first, last := c.offset/tt.batchRows, (c.offset+c.limit-1)/tt.batchRows
						if first != last || c.limit < 1 {
							t.Errorf("V1 page offset %d limit %d leaves V2 batch %d", c.offset, c.limit, first)
						}
					}
				}
				if v2 != 1 || next != batches-1 {
					t.Fatalf("%d QueryV2 and %d NextBatch calls, want 1 and %d: every batch once with V2", v2, next, batches-1)
				}
				switch {
				case held && v1 != 0:
					t.Fatalf("%d V1 pages: the rest of a batch cut by this container comes from memory", v1)
				case !held && v1 < tt.minV1:
					t.Fatalf("%d V1 pages, want at least %d: the budget should cut every batch", v1, tt.minV1)
				case v1Rows >= tt.rows:
					t.Fatalf("V1 read %d rows of %d: only batch remainders should come from V1", v1Rows, tt.rows)
				case answers <= batches:
					t.Fatalf("%d answers for %d batches: the budget should cut batches", answers, batches)
				}
			})
		}
	}
}

// TestQueryLegacyV1CursorStillPages follows a cursor of the form issued before batch
// remainders existed (V1 paging to the end): it must keep working.
func TestQueryLegacyV1CursorStillPages(t *testing.T) {
	const rows, from = 157, 30
	f := newFixture(t, fixtureOptions{rows: rows, batchRows: 40, noteBytes: 60})
	rec := record(f, DefaultMaxResponseBytes, 0)
	body := fmt.Sprintf(`{"cursor":%q}`, encodeCursor(cursor{Q: "q", N: from, L: 50, S: ordersSQL}))
	var ids []string
	for answers := 0; body != ""; answers++ {
		if answers > 20 {
			t.Fatal("no done answer after 20 continuations")
		}
		more, cur := answerOnce(t, f, body)
		ids, body = append(ids, more...), ""
		if cur != "" {
			body = fmt.Sprintf(`{"cursor":%q}`, cur)
		}
	}
	if len(ids) != rows-from {
		t.Fatalf("read %d rows, want %d", len(ids), rows-from)
	}
	for i, id := range ids {
		if want := fmt.Sprintf("r%05d", from+i); id != want {
			t.Fatalf("row %d is %s, want %s", i, id, want)
		}
	}
	for i, c := range rec.calls {
		if c.kind != "v1" || (i == 0 && (c.limit != 50 || c.offset != from)) {
			t.Fatalf("call %d %+v: a legacy cursor pages with V1, first at its own offset and limit", i, c)
		}
	}
}
