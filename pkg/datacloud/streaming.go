package datacloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Streaming limits (datacloud-api.md §3).
const (
	DefaultStreamingPayloadBytes = 200_000 // a body must be smaller than this
	MaxDeleteIDs                 = 200     // ids per delete request
)

// sourcePath is /api/v1/ingest/sources/{source}/{object}.
func sourcePath(op, source, object string) (string, error) {
	s, err := pathSeg(op, "source name", source)
	if err != nil {
		return "", err
	}
	o, err := pathSeg(op, "object name", object)
	if err != nil {
		return "", err
	}
	return "/api/v1/ingest/sources/" + s + "/" + o, nil
}

// UpsertBody sends one {"data":[...]} body to the streaming API (202 Accepted). Streaming
// upserts replace records by primary key, so a repeat cannot duplicate data: 429, 5xx and
// broken connections are retried.
func (c *Client) UpsertBody(ctx context.Context, source, object string, body []byte) error {
	const op = "upsert"
	p, err := sourcePath(op, source, object)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return errors.New("datacloud: upsert: body is empty")
	}
	_, _, err = c.do(ctx, call{op: op, method: http.MethodPost, path: p, body: body, contentType: "application/json"})
	return err
}

// DeleteRecords deletes records by primary key, at most MaxDeleteIDs per request. On error
// the chunks before the failing one were sent; deletes are idempotent, so repeating the
// whole call is safe.
func (c *Client) DeleteRecords(ctx context.Context, source, object string, ids []string) error {
	const op = "delete records"
	p, err := sourcePath(op, source, object)
	if err != nil {
		return err
	}
	for i, id := range ids {
		// The ids parameter is a comma list: an id holding a comma cannot be expressed.
		if strings.TrimSpace(id) == "" || strings.Contains(id, ",") {
			return fmt.Errorf("datacloud: delete records: id %d (%q) is empty or holds a comma", i, truncate(id, 64))
		}
	}
	for chunk := range chunks(ids, MaxDeleteIDs) {
		esc := make([]string, len(chunk))
		for i, id := range chunk {
			esc[i] = url.QueryEscape(id)
		}
		if _, _, err := c.do(ctx, call{op: op, method: http.MethodDelete, path: p,
			rawQuery: "ids=" + strings.Join(esc, ",")}); err != nil {
			return err
		}
	}
	return nil
}

func chunks(s []string, n int) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// ValidationResult is the answer of the synchronous validation endpoint.
type ValidationResult struct {
	Accepted bool
	// Report is Data Cloud's validationReport when records failed (shape not documented).
	Report json.RawMessage
	// Body is the whole response body.
	Body json.RawMessage
}

// ValidateRecords checks a {"data":[...]} body against the object's schema without
// ingesting it (POST .../actions/test). Records that fail validation are reported in the
// result, not as an error; an error means the call itself failed.
func (c *Client) ValidateRecords(ctx context.Context, source, object string, body []byte) (*ValidationResult, error) {
	const op = "validate records"
	p, err := sourcePath(op, source, object)
	if err != nil {
		return nil, err
	}
	resp, _, err := c.do(ctx, call{op: op, method: http.MethodPost, path: p + "/actions/test", body: body,
		contentType: "application/json"})
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusBadRequest {
		if r := parseValidation(ae.raw); r != nil && len(r.Report) > 0 {
			return r, nil
		}
	}
	if err != nil {
		return nil, err
	}
	r := parseValidation(resp)
	if r == nil {
		return &ValidationResult{Accepted: true}, nil
	}
	return r, nil
}

func parseValidation(body []byte) *ValidationResult {
	var v struct {
		Accepted         *bool           `json:"accepted"`
		ValidationReport json.RawMessage `json:"validationReport"`
	}
	if len(body) == 0 || json.Unmarshal(body, &v) != nil {
		return nil
	}
	r := &ValidationResult{Report: v.ValidationReport, Body: json.RawMessage(body)}
	r.Accepted = len(v.ValidationReport) == 0 || string(v.ValidationReport) == "null"
	if v.Accepted != nil {
		r.Accepted = *v.Accepted
	}
	return r
}

// StreamRecords reads records from rr, packs them into bodies smaller than limit
// (DefaultStreamingPayloadBytes when limit <= 0) and upserts each body in order. progress,
// when not nil, is called after every accepted body with the running totals of records and
// body bytes sent. It returns the number of records Data Cloud accepted. Bad input
// (*RecordError, *RecordTooLargeError) stops the stream; bodies sent before stay sent.
//
// Packing the next body overlaps the upsert of the previous one, but at most one request is
// in flight, so upserts reach Data Cloud in record order. progress runs on another goroutine
// than the caller's, one call at a time, and never after StreamRecords returns.
func (c *Client) StreamRecords(ctx context.Context, source, object string, rr *RecordReader, limit int,
	progress func(records, bytes int64)) (records int64, err error) {
	if _, err := sourcePath("upsert", source, object); err != nil {
		return 0, err
	}
	if rr == nil {
		return 0, errors.New("datacloud: stream records: record reader is nil")
	}
	if limit <= 0 {
		limit = DefaultStreamingPayloadBytes
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u := newUpserter(ctx, c, source, object, progress, cancel)
	packErr := packRecords(ctx, rr, NewPacker(limit), u.enqueue)
	records, err = u.wait()
	if err == nil {
		// An upsert failure is reported first: sequentially it would have stopped the
		// stream before the reader got this far.
		err = packErr
	}
	return records, err
}

// packRecords reads rr to the end, handing each full body and the final one to send.
func packRecords(ctx context.Context, rr *RecordReader, p *Packer, send func(body []byte, n int) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("datacloud: stream records: %w", err)
		}
		rec, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		pending := p.Len()
		body, err := p.Add(rec)
		if err != nil {
			return err
		}
		if body != nil {
			if err := send(body, pending); err != nil {
				return err
			}
		}
	}
	if n := p.Len(); n > 0 {
		return send(p.Flush(), n)
	}
	return nil
}

// upsertBatch is a body queued for upsert and the number of records in it.
type upsertBatch struct {
	body []byte
	n    int
}

// upserter posts queued bodies one at a time, in queue order, on its own goroutine.
type upserter struct {
	queue chan upsertBatch
	// free holds the copy buffers not in use. The Packer reuses a returned body's buffer as
	// soon as it returns the next body, which happens while that body may still be in
	// flight, so each queued body is copied into one of two buffers: one in flight, one queued.
	free chan []byte
	done chan struct{}
	ctx  context.Context
	// Written by the goroutine only; read after done is closed.
	records, bytes int64
	err            error
}

func newUpserter(ctx context.Context, c *Client, source, object string, progress func(records, bytes int64),
	stop context.CancelFunc) *upserter {
	u := &upserter{queue: make(chan upsertBatch, 1), free: make(chan []byte, 2), done: make(chan struct{}), ctx: ctx}
	u.free <- nil
	u.free <- nil
	go func() {
		defer close(u.done)
		for b := range u.queue {
			if err := c.UpsertBody(ctx, source, object, b.body); err != nil {
				u.err = err
				stop() // stops the reader; the bodies still queued are dropped
				return
			}
			u.records += int64(b.n)
			u.bytes += int64(len(b.body))
			if progress != nil {
				progress(u.records, u.bytes)
			}
			u.free <- b.body
		}
	}()
	return u
}

// enqueue copies body and queues it, waiting while one body is in flight and one queued.
func (u *upserter) enqueue(body []byte, n int) error {
	var buf []byte
	select {
	case buf = <-u.free:
	case <-u.ctx.Done():
		return fmt.Errorf("datacloud: stream records: %w", u.ctx.Err())
	}
	select {
	case u.queue <- upsertBatch{body: append(buf[:0], body...), n: n}:
		return nil
	case <-u.ctx.Done():
		return fmt.Errorf("datacloud: stream records: %w", u.ctx.Err())
	}
}

// wait closes the queue, lets the goroutine post what is queued unless it failed, and
// returns the records accepted and the first upsert error.
func (u *upserter) wait() (records int64, err error) {
	close(u.queue)
	<-u.done
	return u.records, u.err
}
