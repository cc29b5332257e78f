package querysvc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
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
	QueryV2(ctx context.Context, sql string) (*datacloud.QueryResult, error)
	NextBatch(ctx context.Context, nextBatchID string) (*datacloud.QueryResult, error)
	QueryV1(ctx context.Context, sql string, o datacloud.QueryV1Options) (*datacloud.QueryResult, error)
	Metadata(ctx context.Context, o datacloud.MetadataOptions) (json.RawMessage, error)
}

// Options configures a Service.
type Options struct {
	MaxResponseBytes int          // DefaultMaxResponseBytes when zero
	Logger           *slog.Logger // discarded when nil
	Metrics          *obs.Metrics // QueryRows; flushed to MetricsOut after each invocation
	MetricsOut       io.Writer
}

// Service is the querytrigger function.
type Service struct {
	q       Querier
	budget  int
	log     *slog.Logger
	metrics *obs.Metrics
	out     io.Writer
}

// New returns the service over q.
func New(q Querier, o Options) *Service {
	s := &Service{q: q, budget: o.MaxResponseBytes, log: o.Logger, metrics: o.Metrics, out: o.MetricsOut}
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
	var (
		res  *datacloud.QueryResult
		err  error
		c    cursor
		op   = opQuery
		isV1 bool
	)
	if q.Cursor != "" {
		if c, err = decodeCursor(q.Cursor); err != nil {
			return nil, 0, "", errf(http.StatusBadRequest, codeInvalidCursor, "the cursor is not valid: send the cursor string of a previous answer unchanged")
		}
		if c.v1() {
			isV1 = true
			res, err = s.q.QueryV1(ctx, c.S, datacloud.QueryV1Options{Limit: c.L, Offset: c.N})
		} else {
			op = opNextBatch
			res, err = s.q.NextBatch(ctx, c.B)
		}
	} else {
		c = cursor{S: q.SQL}
		res, err = s.q.QueryV2(ctx, q.SQL)
	}
	if err != nil {
		s.log.WarnContext(ctx, "data cloud call failed", "error", err.Error())
		return nil, 0, c.Q, mapError(err, op)
	}
	if c.Q == "" {
		c.Q = res.QueryID
	}
	rows, err := encodeRows(res.Columns, res.Rows)
	if err != nil {
		return nil, 0, c.Q, encodeFailure()
	}
	p := page{queryID: c.Q, rows: rows, columns: make([]column, len(res.Columns))}
	for i, col := range res.Columns {
		p.columns[i] = column{Name: col.Name, Type: col.Type}
	}
	n := len(rows)
	limit := maxV1Limit
	p.cursorAt = func(k int) string { return encodeCursor(cursor{Q: c.Q, N: c.N + k, L: limit, S: c.S}) }
	frame, ferr := s.render(sh, p, 0, p.cursorAt(n))
	if ferr != nil {
		return nil, 0, c.Q, encodeFailure()
	}
	limit = s.pageLimit(sh, p, payloadSize(frame))
	switch {
	case isV1 && n > 0 && (!res.Done || n >= c.L):
		p.cursorAll = p.cursorAt(n)
	case !isV1 && !res.Done && res.NextBatchID != "":
		p.cursorAll = encodeCursor(cursor{Q: c.Q, B: res.NextBatchID, N: c.N + n, S: c.S})
	}
	out, k, aerr := s.fit(sh, p)
	if aerr != nil {
		return nil, 0, c.Q, aerr
	}
	if k < n {
		s.log.InfoContext(ctx, "batch larger than the response budget: continuing with query v1 paging",
			"records", k, "batch_records", n, "next_offset", c.N+k, "page_limit", limit)
	}
	return out, k, c.Q, nil
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
