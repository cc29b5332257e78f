package querysvc

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// DefaultHeldBatches is how many cut batches a warm container keeps (Options.HeldBatches).
const DefaultHeldBatches = 2

// heldLifetime is how long a held batch stays usable: as long as the nextBatchId that comes
// after it (Data Cloud keeps batch ids for an hour).
const heldLifetime = time.Hour

// heldKeyLen bounds the cursor's "h" field (a key is 16 base64url characters).
const heldKeyLen = 16

// A heldBatch is the unanswered end of a V2 batch that did not fit one answer. V2 cannot
// resume inside a batch, and the other way to read the rest, a V1 page, runs the query again
// in Data Cloud (billed, and in line with the batch only under an ORDER BY on a unique key).
// The continuation of an answer usually reaches the same warm container, so the container
// that cut the batch keeps its rows and answers them from memory. Nothing depends on it: a
// cursor that reaches another container, or comes after the batch was let go, reads the rest
// with V1 as before.
type heldBatch struct {
	key   string // random, in the cursor ("h") of the answer that cut the batch
	sql   string
	next  string              // the V2 batch after this one, unused (the cursor's "b")
	start int                 // index in the whole result of rows' first row
	rows  *datacloud.RawBatch // the batch from the cut's first row on... or the whole batch
	since time.Time
}

// heldBatches is a small store of held batches, oldest first.
type heldBatches struct {
	mu    sync.Mutex
	max   int
	now   func() time.Time
	items []heldBatch
}

// rest returns the rows cursor c still has to read from a held batch: the rows from c.N to
// the end of the batch, which must be exactly the c.R rows the cursor says remain.
func (h *heldBatches) rest(c cursor) (*datacloud.RawBatch, bool) {
	if c.H == "" || c.R <= 0 {
		return nil, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, it := range h.items {
		if it.key != c.H {
			continue
		}
		end := it.start + it.rows.Len()
		if it.sql != c.S || it.next != c.B || c.N < it.start || c.N+c.R != end || h.now().Sub(it.since) > heldLifetime {
			return nil, false
		}
		return it.rows.Slice(c.N-it.start, it.rows.Len()), true
	}
	return nil, false
}

// hold keeps rows (starting at index start of the result) under key, replacing what key held
// and letting the oldest batch go when the store is full.
func (h *heldBatches) hold(key, sql, next string, start int, rows *datacloud.RawBatch) {
	if h.max <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	items := h.items[:0]
	for _, it := range h.items {
		if it.key != key && h.now().Sub(it.since) <= heldLifetime {
			items = append(items, it)
		}
	}
	if len(items) >= h.max {
		copy(items, items[len(items)-h.max+1:])
		items = items[:h.max-1]
	}
	h.items = append(items, heldBatch{key: key, sql: sql, next: next, start: start, rows: rows, since: h.now()})
}

// drop lets the batch held under key go.
func (h *heldBatches) drop(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, it := range h.items {
		if it.key == key {
			h.items = append(h.items[:i], h.items[i+1:]...)
			return
		}
	}
}

// newHeldKey returns a fresh key: 96 random bits, so that one cursor cannot name another's
// held rows.
func newHeldKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
