package querysvc

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// TestQueryHeldRemainderOnAnotherContainer answers the first cut of a batch on one container
// and the continuation on another (a fresh Service): that one holds nothing and reads the
// rest with V1, and no row is lost or repeated.
func TestQueryHeldRemainderOnAnotherContainer(t *testing.T) {
	const rows, batchRows, budget = 157, 40, 4000
	f := newFixture(t, fixtureOptions{rows: rows, batchRows: batchRows, budget: budget, noteBytes: 60})
	first := record(f, budget, 0)
	a, cur := answerOnce(t, f, fmt.Sprintf(`{"sql":%q}`, ordersSQL))
	if len(first.calls) != 1 || first.calls[0].kind != "v2" || cur == "" || len(a) >= batchRows {
		t.Fatalf("first answer: %d rows, calls %+v, cursor %q: want a cut V2 batch", len(a), first.calls, cur)
	}
	if c, err := decodeCursor(cur); err != nil || c.H == "" || c.R != batchRows-len(a) {
		t.Fatalf("cursor %+v (%v): want a held key and the %d rows left", c, err, batchRows-len(a))
	}
	other := record(f, budget, 0) // the continuation lands on another container
	ids := a
	for i := 0; cur != ""; i++ {
		if i > 100 {
			t.Fatal("no end after 100 continuations")
		}
		var more []string
		more, cur = answerOnce(t, f, fmt.Sprintf(`{"cursor":%q}`, cur))
		ids = append(ids, more...)
	}
	checkEveryRowOnce(t, ids, rows)
	if len(other.calls) == 0 || other.calls[0].kind != "v1" || other.calls[0].offset != len(a) {
		t.Fatalf("calls on the other container %+v: the rest of the first batch should come from V1 at offset %d", other.calls, len(a))
	}
}

// TestQueryHeldKeyMustMatch sends cursors whose held key, query or position do not match what
// the container holds: each reads the rest with V1 instead, so a cursor cannot reach rows
// another one left.
func TestQueryHeldKeyMustMatch(t *testing.T) {
	const rows, batchRows, budget = 100, 40, 4000
	f := newFixture(t, fixtureOptions{rows: rows, batchRows: batchRows, budget: budget, noteBytes: 60})
	rec := record(f, budget, 0)
	a, cur := answerOnce(t, f, fmt.Sprintf(`{"sql":%q}`, ordersSQL))
	good, err := decodeCursor(cur)
	if err != nil || good.H == "" {
		t.Fatalf("cursor %+v (%v)", good, err)
	}
	for name, mutate := range map[string]func(*cursor){
		"other key":      func(c *cursor) { c.H = newHeldKey() },
		"other sql":      func(c *cursor) { c.S += " " },
		"other batch id": func(c *cursor) { c.B = "0" + c.B },
		"other count":    func(c *cursor) { c.R-- },
		"past the batch": func(c *cursor) { c.R++ },
	} {
		t.Run(name, func(t *testing.T) {
			c := good
			mutate(&c)
			from := len(rec.calls)
			f.invoke(t, json.RawMessage(fmt.Sprintf(`{"cursor":%q}`, encodeCursor(c))), false)
			if len(rec.calls) == from || rec.calls[from].kind != "v1" {
				t.Fatalf("calls %+v: a cursor that does not match the held rows must read them with V1", rec.calls[from:])
			}
		})
	}
	// The untouched cursor is still answered from memory, with the rows after the first answer.
	from := len(rec.calls)
	ids, _ := answerOnce(t, f, fmt.Sprintf(`{"cursor":%q}`, cur))
	if len(rec.calls) != from || len(ids) == 0 || ids[0] != fmt.Sprintf("r%05d", len(a)) {
		t.Fatalf("calls %+v, first id %v: the matching cursor should be answered from memory from row %d", rec.calls[from:], ids, len(a))
	}
}

// answerOnce invokes f's service directly with body and returns the row ids and the cursor.
func answerOnce(t *testing.T, f *fixture, body string) (ids []string, cur string) {
	t.Helper()
	r := f.invoke(t, json.RawMessage(body), false)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var a wireAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatal(err)
	}
	for _, row := range a.Rows {
		ids = append(ids, row["id"].(string))
	}
	if a.Cursor != nil {
		cur = *a.Cursor
	}
	return ids, cur
}

// TestHeldBatchesBounds checks the store's limits: at most max batches (the oldest goes
// first), none when max is not positive, and none after the batch ids' one-hour lifetime.
func TestHeldBatchesBounds(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := newFixture(t, fixtureOptions{rows: 10, batchRows: 10, noteBytes: 10})
	whole, err := f.client.QueryV2Raw(t.Context(), ordersSQL)
	if err != nil || whole.Len() != 10 {
		t.Fatalf("batch of %v rows, %v", whole, err)
	}
	batch := func(int) *datacloud.RawBatch { return whole }
	h := &heldBatches{max: 2, now: func() time.Time { return now }}
	cur := func(key string) cursor { return cursor{H: key, S: "q", B: "next", N: 3, R: 7} }
	h.hold("a", "q", "next", 0, batch(10))
	h.hold("b", "q", "next", 0, batch(10))
	if rows, ok := h.rest(cur("a")); !ok || rows.Len() != 7 {
		t.Fatalf("rest of a = %v, %v: want the last 7 rows", rows, ok)
	}
	h.hold("c", "q", "next", 0, batch(10))
	if _, ok := h.rest(cur("a")); ok {
		t.Fatal("a should have gone to make room for c")
	}
	if _, ok := h.rest(cur("b")); !ok {
		t.Fatal("b should still be held")
	}
	h.drop("b")
	if _, ok := h.rest(cur("b")); ok {
		t.Fatal("b was dropped")
	}
	now = now.Add(heldLifetime + time.Second)
	if _, ok := h.rest(cur("c")); ok {
		t.Fatal("c is older than the batch ids' lifetime")
	}
	none := &heldBatches{max: 0, now: time.Now}
	none.hold("a", "q", "next", 0, batch(10))
	if _, ok := none.rest(cur("a")); ok {
		t.Fatal("a store of size 0 holds nothing")
	}
}
