package datacloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strings"
)

// Column is one result column, in result order.
type Column struct {
	Name     string
	Type     string // e.g. VARCHAR, DECIMAL, TIMESTAMP
	TypeCode int    // JDBC type code
}

// QueryResult is one batch of a query. Rows are positional (Rows[i][j] is Columns[j]);
// numbers are json.Number so that large values survive.
type QueryResult struct {
	Columns     []Column
	Rows        [][]any
	RowCount    int
	QueryID     string
	Done        bool
	NextBatchID string
	StartTime   string
	EndTime     string
}

// QueryV1Options are the V1 query parameters; zero values are left out.
type QueryV1Options struct {
	Limit, Offset int
	OrderBy       string // e.g. "GenderId__c ASC,Occupation__c DESC"
}

// queryResponse is the wire shape shared by V1 (object rows) and V2 (array rows).
type queryResponse struct {
	Data []any `json:"data"` // decoded with UseNumber
	queryHeader
}

// queryHeader is everything of a query response but its data.
type queryHeader struct {
	StartTime   string                  `json:"startTime"`
	EndTime     string                  `json:"endTime"`
	RowCount    *int                    `json:"rowCount"`
	QueryID     string                  `json:"queryId"`
	Done        bool                    `json:"done"`
	NextBatchID string                  `json:"nextBatchId"`
	Metadata    map[string]columnFormat `json:"metadata"`
}

// columnFormat is one column of a query response's metadata.
type columnFormat struct {
	Type         string `json:"type"`
	PlaceInOrder int    `json:"placeInOrder"`
	TypeCode     int    `json:"typeCode"`
}

// QueryV2 runs sql with Query API V2 and returns the first batch.
func (c *Client) QueryV2(ctx context.Context, sql string) (*QueryResult, error) {
	return c.query(ctx, "query", "/api/v2/query", nil, sql)
}

// NextBatch fetches the batch after a V2 result whose Done is false. Batch ids are single-use.
func (c *Client) NextBatch(ctx context.Context, nextBatchID string) (*QueryResult, error) {
	const op = "next batch"
	body, err := c.nextBatchBody(ctx, nextBatchID)
	if err != nil {
		return nil, err
	}
	return parseQueryResult(op, body)
}

// nextBatchBody fetches the response to a next batch request.
func (c *Client) nextBatchBody(ctx context.Context, nextBatchID string) ([]byte, error) {
	const op = "next batch"
	id, err := pathSeg(op, "next batch id", nextBatchID)
	if err != nil {
		return nil, err
	}
	body, _, err := c.do(ctx, call{op: op, method: http.MethodGet, path: "/api/v2/query/" + id})
	return body, err
}

// QueryV1 runs sql with Query API V1 (synchronous, at most 49,999 rows; Done false means
// re-query with Offset and OrderBy). Rows are converted to positional form.
func (c *Client) QueryV1(ctx context.Context, sql string, o QueryV1Options) (*QueryResult, error) {
	// V1 spells it "orderby" (JDBC driver, Postman collection).
	return c.query(ctx, "query v1", "/api/v1/query", pageQuery(o.Limit, o.Offset, "orderby", o.OrderBy), sql)
}

func (c *Client) query(ctx context.Context, op, path string, q map[string][]string, sql string) (*QueryResult, error) {
	body, err := c.queryBody(ctx, op, path, q, sql)
	if err != nil {
		return nil, err
	}
	return parseQueryResult(op, body)
}

// queryBody posts sql to a query endpoint and returns the response body.
func (c *Client) queryBody(ctx context.Context, op, path string, q map[string][]string, sql string) ([]byte, error) {
	if strings.TrimSpace(sql) == "" {
		return nil, fmt.Errorf("datacloud: %s: sql is empty", op)
	}
	reqBody, _ := json.Marshal(map[string]string{"sql": sql})
	// A query reads only, so repeating it is safe.
	body, _, err := c.do(ctx, call{op: op, method: http.MethodPost, path: path, query: q,
		body: reqBody, contentType: "application/json"})
	return body, err
}

// parseQueryResult orders the columns by placeInOrder and turns every row positional,
// whether it came as an array (V2) or as an object keyed by column name (V1).
func parseQueryResult(op string, body []byte) (*QueryResult, error) {
	var r queryResponse
	if err := decodeJSON(op, body, &r); err != nil {
		return nil, err
	}
	res := &QueryResult{QueryID: r.QueryID, Done: r.Done, NextBatchID: r.NextBatchID,
		StartTime: r.StartTime, EndTime: r.EndTime}
	var index map[string]int
	res.Columns, index = columnsOf(r.Metadata)
	res.Rows = make([][]any, 0, len(r.Data))
	for i, v := range r.Data {
		switch row := v.(type) {
		case []any:
			res.Rows = append(res.Rows, row)
		case map[string]any:
			pos := make([]any, len(res.Columns))
			for k, val := range row {
				j, ok := index[k]
				if !ok {
					return nil, fmt.Errorf("datacloud: %s: row %d has column %q that the metadata does not list", op, i, k)
				}
				pos[j] = val
			}
			res.Rows = append(res.Rows, pos)
		default:
			return nil, fmt.Errorf("datacloud: %s: row %d is neither an array nor an object", op, i)
		}
	}
	res.RowCount = len(res.Rows)
	if r.RowCount != nil {
		res.RowCount = *r.RowCount
	}
	return res, nil
}

// columnsOf orders the columns by placeInOrder (then name) and indexes them by name.
func columnsOf(meta map[string]columnFormat) ([]Column, map[string]int) {
	type placed struct {
		Column
		place int
	}
	var cols []placed
	for name, m := range meta {
		cols = append(cols, placed{Column{Name: name, Type: m.Type, TypeCode: m.TypeCode}, m.PlaceInOrder})
	}
	slices.SortFunc(cols, func(a, b placed) int {
		if a.place != b.place {
			return a.place - b.place
		}
		return strings.Compare(a.Name, b.Name)
	})
	var out []Column
	index := make(map[string]int, len(cols))
	for i, pc := range cols {
		out = append(out, pc.Column)
		index[pc.Name] = i
	}
	return out, index
}

// RowsOption tunes Rows.
type RowsOption func(*rowsConfig)

type rowsConfig struct{ prefetch bool }

// PrefetchBatches makes Rows fetch the next batch while the caller goes through the rows of
// the current one, so that Data Cloud's work on a batch overlaps the caller's on the one
// before. It holds up to two batches in memory instead of one, and a loop that breaks early
// has made at most one request it did not need.
func PrefetchBatches() RowsOption { return func(c *rowsConfig) { c.prefetch = true } }

// Rows runs sql with Query API V2 and iterates over the rows of all batches, fetching the
// next batch as the caller reaches it (or while the caller reads the current one, with
// PrefetchBatches); breaking out of the loop stops fetching. A batch that says done:false
// and is followed by an empty done:true batch ends the iteration normally. cols returns the
// columns once the first batch arrived (nil before). An error is yielded once, as the last
// element.
func (c *Client) Rows(ctx context.Context, sql string, opts ...RowsOption) (cols func() []Column, rows iter.Seq2[[]any, error]) {
	var cfg rowsConfig
	for _, o := range opts {
		o(&cfg)
	}
	var columns []Column
	cols = func() []Column { return columns }
	rows = func(yield func([]any, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		var ahead chan batchFetch // the next batch being fetched, nil when none is
		defer func() {
			cancel()
			if ahead != nil {
				<-ahead // the fetch ends with the cancelled context; nothing outlives the loop
			}
		}()
		res, err := c.QueryV2(ctx, sql)
		seen := map[string]bool{}
		for {
			if err != nil {
				yield(nil, err)
				return
			}
			if len(res.Columns) > 0 && columns == nil {
				columns = res.Columns
			}
			next := res.NextBatchID
			if res.Done {
				next = ""
			}
			// A server repeating a cursor would loop forever.
			repeated := next != "" && seen[next]
			seen[next] = true
			if cfg.prefetch && next != "" && !repeated {
				ahead = make(chan batchFetch, 1)
				go func() {
					r, err := c.NextBatch(ctx, next)
					ahead <- batchFetch{r, err}
				}()
			}
			for _, row := range res.Rows {
				if !yield(row, nil) {
					return
				}
			}
			switch {
			case next == "":
				return
			case repeated:
				yield(nil, errors.New("datacloud: next batch: the server repeated batch id "+next))
				return
			case ahead != nil:
				f := <-ahead
				ahead = nil
				res, err = f.res, f.err
			default:
				res, err = c.NextBatch(ctx, next)
			}
		}
	}
	return cols, rows
}

// batchFetch is the outcome of fetching a batch ahead.
type batchFetch struct {
	res *QueryResult
	err error
}
