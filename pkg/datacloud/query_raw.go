package datacloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// RawBatch is one batch of a query with every value kept as the JSON text Data Cloud sent,
// for callers that pass rows on as JSON (querytrigger): no value becomes a Go value, so a
// 50,000-row batch costs one validating pass instead of a million small allocations.
// Values are compact, valid JSON: strings holding invalid UTF-8 and arrays or objects with
// whitespace inside are re-encoded as encoding/json would (the only values not passed on
// byte for byte).
type RawBatch struct {
	Columns     []Column
	RowCount    int
	QueryID     string
	Done        bool
	NextBatchID string
	StartTime   string
	EndTime     string

	rows  int
	body  []byte
	spans []int32 // per row and column: start, end in body; start -1 for a missing value
}

// Len is the number of rows in the batch.
func (b *RawBatch) Len() int { return b.rows }

// Slice returns rows [from, to) of b as a batch of their own that shares b's memory, for
// answering a batch in pieces. Its other fields are b's, except RowCount, which is to-from.
func (b *RawBatch) Slice(from, to int) *RawBatch {
	if from < 0 || to > b.rows || from > to {
		panic(fmt.Sprintf("datacloud: RawBatch.Slice(%d, %d) of %d rows", from, to, b.rows))
	}
	w := 2 * len(b.Columns)
	c := *b
	c.rows, c.RowCount = to-from, to-from
	c.spans = b.spans[from*w : to*w : to*w]
	return &c
}

// null is a missing value (a V1 row without the column, a short V2 row).
var null = json.RawMessage("null")

// Value is row's value of column col, as compact JSON; it aliases the batch.
func (b *RawBatch) Value(row, col int) json.RawMessage {
	k := 2 * (row*len(b.Columns) + col)
	start, end := b.spans[k], b.spans[k+1]
	if start < 0 {
		return null
	}
	return json.RawMessage(b.body[start:end:end])
}

// QueryV2Raw is QueryV2 with the values left as JSON.
func (c *Client) QueryV2Raw(ctx context.Context, sql string) (*RawBatch, error) {
	body, err := c.queryBody(ctx, "query", "/api/v2/query", nil, sql)
	if err != nil {
		return nil, err
	}
	return parseRawBatch("query", body)
}

// NextBatchRaw is NextBatch with the values left as JSON.
func (c *Client) NextBatchRaw(ctx context.Context, nextBatchID string) (*RawBatch, error) {
	body, err := c.nextBatchBody(ctx, nextBatchID)
	if err != nil {
		return nil, err
	}
	return parseRawBatch("next batch", body)
}

// QueryV1Raw is QueryV1 with the values left as JSON (rows positional, as QueryV1's).
func (c *Client) QueryV1Raw(ctx context.Context, sql string, o QueryV1Options) (*RawBatch, error) {
	body, err := c.queryBody(ctx, "query v1", "/api/v1/query", pageQuery(o.Limit, o.Offset, "orderby", o.OrderBy), sql)
	if err != nil {
		return nil, err
	}
	return parseRawBatch("query v1", body)
}

// rawCell is a value found before the columns are known (metadata may follow data).
type rawCell struct {
	key        [2]int32 // object rows: the key's span, quotes included
	start, end int32
}

// parseRawBatch reads a V1 or V2 query response like parseQueryResult, keeping values as JSON.
func parseRawBatch(op string, body []byte) (*RawBatch, error) {
	if len(body) > math.MaxInt32/2 {
		return nil, fmt.Errorf("datacloud: %s: response of %d bytes is too large", op, len(body))
	}
	bad := func(err error) error { return fmt.Errorf("datacloud: %s: decode response: %w", op, err) }
	s := &jsonScanner{b: body}
	var (
		header  = []byte{'{'}
		cells   []rawCell
		rowEnds []int32 // cells[rowEnds[i-1]:rowEnds[i]] are row i's
		objRow  []bool
		extra   []byte // re-encoded values, addressed after the body
	)
	// Every value but a row's last is followed by a comma: enough room, found at memchr speed,
	// so that a large batch is not grown (and copied) step by step.
	cells = make([]rawCell, 0, bytes.Count(body, []byte{','})+1)
	if c, err := s.peek(); err != nil || c != '{' {
		if err == nil && s.literal("null") == nil {
			return &RawBatch{}, nil // as encoding/json decodes null: nothing
		}
		return nil, bad(fmt.Errorf("the response is not a JSON object"))
	}
	// cell scans one value and records it, re-encoding it when it cannot pass as it is.
	cell := func(key [2]int32) error {
		start, ws := s.i, s.ws
		s.dirty = false
		end, err := s.value()
		if err != nil {
			return err
		}
		c := rawCell{key: key, start: int32(start), end: int32(end)}
		if s.dirty || (s.ws != ws && body[start] != '"') {
			var v any
			dec := json.NewDecoder(bytes.NewReader(body[start:end]))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				return err
			}
			enc, err := marshalNoHTML(v)
			if err != nil {
				return err
			}
			c.start = int32(len(body) + len(extra))
			extra = append(extra, enc...)
			c.end = int32(len(body) + len(extra))
		}
		cells = append(cells, c)
		return nil
	}
	row := func() error {
		var err error
		switch s.b[s.i] {
		case '[':
			objRow = append(objRow, false)
			err = s.list(']', func() error { return cell([2]int32{}) })
		case '{':
			objRow = append(objRow, true)
			err = s.list('}', func() error {
				k := s.i
				end, err := s.key()
				if err != nil {
					return err
				}
				return cell([2]int32{int32(k), int32(end)})
			})
		default:
			return fmt.Errorf("row %d is neither an array nor an object", len(rowEnds))
		}
		rowEnds = append(rowEnds, int32(len(cells)))
		return err
	}
	err := s.list('}', func() error {
		k := s.i
		end, err := s.key()
		if err != nil {
			return err
		}
		key := body[k:end]
		name, err := unquoteKey(key)
		if err != nil {
			return err
		}
		if strings.EqualFold(name, "data") { // encoding/json matches field names so
			cells, rowEnds, objRow = cells[:0], rowEnds[:0], objRow[:0] // a repeated key wins
			if s.b[s.i] == 'n' {
				return s.literal("null")
			}
			if s.b[s.i] != '[' {
				return s.errorf("data is not an array")
			}
			return s.list(']', row)
		}
		v := s.i
		if _, err := s.value(); err != nil {
			return err
		}
		if len(header) > 1 {
			header = append(header, ',')
		}
		header = append(append(append(header, key...), ':'), body[v:s.i]...)
		return nil
	})
	if err != nil {
		return nil, bad(err)
	}
	var h queryHeader
	if err := decodeJSON(op, append(header, '}'), &h); err != nil {
		return nil, err
	}
	cols, index := columnsOf(h.Metadata)
	b := &RawBatch{Columns: cols, QueryID: h.QueryID, Done: h.Done, NextBatchID: h.NextBatchID,
		StartTime: h.StartTime, EndTime: h.EndTime, rows: len(rowEnds), body: append(body, extra...)}
	b.spans = make([]int32, 2*len(rowEnds)*len(cols))
	for i := range b.spans {
		b.spans[i] = -1
	}
	from := int32(0)
	for r, to := range rowEnds {
		out := b.spans[2*r*len(cols) : 2*(r+1)*len(cols)]
		for j, c := range cells[from:to] {
			if objRow[r] {
				name, err := unquoteKey(body[c.key[0]:c.key[1]])
				if err != nil {
					return nil, bad(err)
				}
				var ok bool
				if j, ok = index[name]; !ok {
					return nil, fmt.Errorf("datacloud: %s: row %d has column %q that the metadata does not list", op, r, name)
				}
			} else if j >= len(cols) {
				break // values beyond the columns are dropped, as parseQueryResult's callers do
			}
			out[2*j], out[2*j+1] = c.start, c.end
		}
		from = to
	}
	b.RowCount = b.rows
	if h.RowCount != nil {
		b.RowCount = *h.RowCount
	}
	return b, nil
}

// unquoteKey returns an object key's text; only keys with escapes are decoded.
func unquoteKey(q []byte) (string, error) {
	if bytes.IndexByte(q, '\\') < 0 && utf8.Valid(q) {
		return string(q[1 : len(q)-1]), nil
	}
	var k string
	err := json.Unmarshal(q, &k)
	return k, err
}

// marshalNoHTML encodes v as the Lambda runtime would (no HTML escaping, no newline).
func marshalNoHTML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
