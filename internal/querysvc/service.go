package querysvc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// Response budget (QUERY_MAX_RESPONSE_BYTES).
const (
	// LambdaResponseLimit is Lambda's limit on a synchronous invocation's result.
	LambdaResponseLimit = 6 << 20
	// DefaultMaxResponseBytes leaves room under LambdaResponseLimit.
	DefaultMaxResponseBytes = 5_500_000
	// MinMaxResponseBytes is the smallest budget that still holds an answer's frame and cursor.
	MinMaxResponseBytes = 1024
)

// Querier is the part of *datacloud.Client the service uses.
type Querier interface {
	QueryV2Raw(ctx context.Context, sql string) (*datacloud.RawBatch, error)
	NextBatchRaw(ctx context.Context, nextBatchID string) (*datacloud.RawBatch, error)
	QueryV1Raw(ctx context.Context, sql string, o datacloud.QueryV1Options) (*datacloud.RawBatch, error)
	Metadata(ctx context.Context, o datacloud.MetadataOptions) (json.RawMessage, error)
}

// Options configures a Service.
type Options struct {
	MaxResponseBytes int          // DefaultMaxResponseBytes when zero
	Logger           *slog.Logger // discarded when nil
	Metrics          *obs.Metrics // QueryRows; flushed to MetricsOut after each invocation
	MetricsOut       io.Writer
	// HeldBatches is how many cut batches a warm container keeps for the continuation
	// (held.go): DefaultHeldBatches when zero, none when negative.
	HeldBatches int
}

// Service is the querytrigger function.
type Service struct {
	mu      sync.Mutex
	buf     []byte // rows of the last answer, kept for the next (see query)
	held    heldBatches
	q       Querier
	budget  int
	log     *slog.Logger
	metrics *obs.Metrics
	out     io.Writer
}

// New returns the service over q.
func New(q Querier, o Options) *Service {
	s := &Service{q: q, budget: o.MaxResponseBytes, log: o.Logger, metrics: o.Metrics, out: o.MetricsOut}
	s.held.max, s.held.now = o.HeldBatches, time.Now
	if s.held.max == 0 {
		s.held.max = DefaultHeldBatches
	}
	if s.budget <= 0 {
		s.budget = DefaultMaxResponseBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Handle serves one invocation: an API Gateway HTTP API (2.0) event or a direct request. It
// always returns a payload (errors are answers), encoded exactly as the runtime sends it.
func (s *Service) Handle(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	start := time.Now()
	req, aerr := decodeEvent(event)
	sh := shape{apiGateway: req.apiGateway}
	var out []byte
	var rows int
	var queryID string
	if aerr == nil {
		out, rows, queryID, aerr = s.route(ctx, sh, req)
	}
	status := statusOK
	if aerr != nil {
		out, status = sh.errorPayload(aerr), aerr.status
	}
	attrs := []any{"route", req.route, "status", status, "records", rows, "bytes", payloadSize(out),
		"duration_ms", time.Since(start).Milliseconds()}
	if queryID != "" {
		attrs = append(attrs, "query_id", queryID)
	}
	if aerr != nil {
		attrs = append(attrs, "code", aerr.code)
	}
	s.log.InfoContext(ctx, "query request answered", attrs...)
	if s.metrics != nil && req.route == routeQuery {
		s.metrics.Count(obs.QueryRows, int64(rows))
	}
	if s.metrics != nil && s.out != nil {
		_ = s.metrics.Flush(s.out)
	}
	return out, nil
}

func (s *Service) route(ctx context.Context, sh shape, req request) ([]byte, int, string, *apiError) {
	switch req.route {
	case routeQuery:
		q, aerr := parseQuery(req.body)
		if aerr != nil {
			return nil, 0, "", aerr
		}
		return s.query(ctx, sh, q)
	case routeMetadata:
		out, aerr := s.metadata(ctx, sh, req.query)
		return out, 0, "", aerr
	}
	return nil, 0, "", errf(http.StatusNotFound, codeNotFound, "no route %s: use POST /query or GET /metadata", req.route)
}

// query runs a new query or continues one from its cursor.
func (s *Service) query(ctx context.Context, sh shape, q queryRequest) ([]byte, int, string, *apiError) {
	c := cursor{S: q.SQL}
	if q.Cursor != "" {
		var err error
		if c, err = decodeCursor(q.Cursor); err != nil {
			return nil, 0, "", errf(http.StatusBadRequest, codeInvalidCursor, "the cursor is not valid: send the cursor string of a previous answer unchanged")
		}
	}
	res, fromHeld := s.held.rest(c)
	if fromHeld {
		s.log.DebugContext(ctx, "rest of a cut batch answered from memory", "records", c.R, "offset", c.N)
	} else {
		if c.H != "" {
			s.log.InfoContext(ctx, "rest of a cut batch not held here (another container cut it): reading it with query v1",
				"records", c.R, "offset", c.N)
		}
		var op operation
		var err error
		if res, op, err = s.fetch(ctx, q.Cursor != "", c); err != nil {
			s.log.WarnContext(ctx, "data cloud call failed", "error", err.Error())
			return nil, 0, c.Q, mapError(err, op)
		}
	}
	// heldKey names the rows this answer leaves of a V2 batch, should it cut one.
	heldKey := ""
	switch {
	case fromHeld:
		heldKey = c.H
	case q.Cursor == "" || !c.v1():
		heldKey = newHeldKey() // a V2 batch: what an answer leaves of it can be held
	}
	if c.Q == "" {
		c.Q = res.QueryID
	}
	n := res.Len()
	if c.R > 0 {
		n = min(n, c.R) // the rest belongs to batch B
	}
	p := page{queryID: c.Q, rows: []json.RawMessage{}, costs: rowCosts(sh, res, n), columns: make([]Column, len(res.Columns))}
	for i, col := range res.Columns {
		p.columns[i] = Column{Name: col.Name, Type: col.Type}
	}
	next := continuation(q.Cursor != "", c, res, n)
	if next.r != 0 {
		heldKey = "" // only the whole rest of a batch is held
	}
	// The frame of an answer with the longest cursor this page can get: what every answer
	// costs beside its rows.
	frame, ferr := s.render(sh, p, 0, encodeCursor(cursor{Q: c.Q, N: c.N + n, L: maxV1Limit, R: c.R + n, B: next.B, H: heldKey, S: c.S}))
	if ferr != nil {
		return nil, 0, c.Q, encodeFailure()
	}
	overhead := payloadSize(frame)
	limit := s.pageLimit(p, overhead) // legacy V1 paging: estimated from the average row
	p.cursorAt = func(k int) string {
		// The first k rows are answered: the rest of what was read comes again from V1.
		at := cursor{Q: c.Q, N: c.N + k, L: limit, S: c.S}
		if !next.legacy {
			// Their sizes are known, so the next page can be sized to fit exactly.
			at.B, at.R, at.L = next.B, next.r+n-k, s.rowsThatFit(p.costs[k:], overhead)
			at.H = heldKey
		}
		return encodeCursor(at)
	}
	if !next.done {
		all := cursor{Q: c.Q, N: c.N + n, S: c.S, B: next.B, R: next.r}
		switch {
		case next.legacy:
			all.L = limit
		case next.r > 0:
			all.L = c.L
		}
		p.cursorAll = encodeCursor(all)
	}
	// Build only the rows that can fit (a cut batch's others come again from V1), in the
	// buffer of the previous invocation: a fresh 5 MB buffer costs page faults every time.
	frameAll, ferr := s.render(sh, p, 0, p.cursorAll)
	if ferr != nil {
		return nil, 0, c.Q, encodeFailure()
	}
	buf := s.takeBuffer()
	p.rows, buf = rowsJSON(res, s.fitting(p.costs, min(overhead, payloadSize(frameAll))), buf)
	defer s.putBuffer(buf)
	out, k, aerr := s.fit(sh, p)
	if aerr != nil {
		return nil, 0, c.Q, aerr
	}
	if k < n && heldKey != "" {
		s.held.hold(heldKey, c.S, next.B, c.N, res.Slice(0, n))
		s.log.InfoContext(ctx, "batch larger than the response budget: its rest is held for the next answer",
			"records", k, "batch_records", n, "next_offset", c.N+k)
	} else if fromHeld {
		s.held.drop(heldKey) // all answered
	}
	if k < n && heldKey == "" {
		s.log.InfoContext(ctx, "batch larger than the response budget: the rest of it comes from query v1",
			"records", k, "batch_records", n, "next_offset", c.N+k, "page_limit", limit)
	}
	return out, k, c.Q, nil
}

// takeBuffer hands out the buffer kept from the last answer (nil at first, or while
// another invocation holds it).
func (s *Service) takeBuffer() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf
	s.buf = nil
	return b
}

// putBuffer keeps b for the next answer.
func (s *Service) putBuffer(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cap(b) > cap(s.buf) {
		s.buf = b
	}
}

// fetch reads what the cursor points at: a V1 page (a batch remainder, or legacy paging), the
// next V2 batch, or, without a cursor, the first V2 batch.
func (s *Service) fetch(ctx context.Context, continued bool, c cursor) (*datacloud.RawBatch, operation, error) {
	switch {
	case !continued:
		res, err := s.q.QueryV2Raw(ctx, c.S)
		return res, opQuery, err
	case c.v1():
		res, err := s.q.QueryV1Raw(ctx, c.S, datacloud.QueryV1Options{Limit: c.v1Limit(), Offset: c.N})
		return res, opQuery, err
	default:
		res, err := s.q.NextBatchRaw(ctx, c.B)
		return res, opNextBatch, err
	}
}

// next is what follows the rows just read, once all n of them are answered.
type next struct {
	done   bool   // the result ends with them
	legacy bool   // legacy V1 paging continues
	B      string // the V2 batch after them (unused so far)
	r      int    // rows of the current batch that remain for V1 after them
}

// continuation works out what follows the n rows read for cursor c.
func continuation(continued bool, c cursor, res *datacloud.RawBatch, n int) next {
	switch {
	case continued && c.R > 0:
		r := c.R - n
		if n < c.v1Limit() {
			r = 0 // a short page: the batch ended sooner than announced
		}
		return next{B: c.B, r: r, done: r == 0 && c.B == ""}
	case continued && c.v1():
		return next{legacy: true, done: n == 0 || (res.Done && n < c.L)}
	case !res.Done && res.NextBatchID != "":
		return next{B: res.NextBatchID}
	}
	return next{done: true}
}

// metadata passes Data Cloud's metadata document through.
func (s *Service) metadata(ctx context.Context, sh shape, params map[string]string) ([]byte, *apiError) {
	raw, err := s.q.Metadata(ctx, datacloud.MetadataOptions{
		EntityType: params["entityType"], EntityName: params["entityName"], EntityCategory: params["entityCategory"],
	})
	if err != nil {
		s.log.WarnContext(ctx, "data cloud call failed", "error", err.Error())
		return nil, mapError(err, opMetadata)
	}
	var body bytes.Buffer
	if err := json.Compact(&body, raw); err != nil {
		return nil, errf(http.StatusBadGateway, codeUpstream, "Data Cloud answered metadata that is not JSON")
	}
	out, err := sh.wrap(statusOK, body.Bytes(), 0)
	if err != nil {
		return nil, encodeFailure()
	}
	if payloadSize(out) > s.budget {
		return nil, errf(http.StatusBadGateway, codeResponseTooLarge,
			"the metadata answer is larger than the response limit of %d bytes; narrow it with entityName or entityType", s.budget)
	}
	return out, nil
}
