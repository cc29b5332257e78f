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
	"sync"
	"time"
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

// MaxStreamingRequestsPerSecond is Data Cloud's limit on Ingestion API requests
// (datacloud-api.md §3), across all object endpoints.
const MaxStreamingRequestsPerSecond = 250

// DefaultStreamingRequestsPerSecond is how many streaming requests StreamRecordsWith starts a
// second by default: 2% under the limit. Requests started exactly 1/250 s apart reach the
// server up to a few milliseconds apart from that, and a server counting arrivals over a
// sliding second then sees a 251st (measured: the emulator with the limit enforced answered
// 429 to 100 MiB of JSON Lines in each of three runs); 2% leaves 20 ms of such jitter per
// second.
const DefaultStreamingRequestsPerSecond = MaxStreamingRequestsPerSecond * 49 / 50

// StreamOptions tune StreamRecordsWith. Zero values take the defaults.
type StreamOptions struct {
	// Limit bounds every body: smaller than this many bytes (DefaultStreamingPayloadBytes).
	Limit int
	// InFlight is the most bodies posted at once (1). With more than one, bodies are still
	// handed out in record order but may be applied in any order among those in flight
	// together: a key upserted twice in one stream may end with either version. Data Cloud
	// applies streaming data asynchronously, in micro-batches, and documents no order across
	// requests; InFlight 1 keeps at least the order in which they were sent.
	InFlight int
	// PerSecond bounds how many requests start per second (DefaultStreamingRequestsPerSecond).
	PerSecond float64
	// Progress, when not nil, is called after every accepted body with the running totals of
	// records and body bytes accepted, one call at a time, on another goroutine than the
	// caller's, never after StreamRecordsWith returns.
	Progress func(records, bytes int64)
}

// StreamRecords is StreamRecordsWith one body in flight.
func (c *Client) StreamRecords(ctx context.Context, source, object string, rr *RecordReader, limit int,
	progress func(records, bytes int64)) (records int64, err error) {
	return c.StreamRecordsWith(ctx, source, object, rr, StreamOptions{Limit: limit, InFlight: 1, Progress: progress})
}

// StreamRecordsWith reads records from rr, packs them into bodies smaller than o.Limit and
// upserts each body. It returns the number of records Data Cloud accepted. Bad input
// (*RecordError, *RecordTooLargeError) stops the stream; bodies sent before stay sent. The
// first failed upsert stops the stream too; bodies in flight with it finish or are cancelled.
//
// Packing the next body overlaps the upserts of the previous ones: up to o.InFlight requests
// run at once, started at most o.PerSecond times a second.
func (c *Client) StreamRecordsWith(ctx context.Context, source, object string, rr *RecordReader, o StreamOptions) (records int64, err error) {
	if _, err := sourcePath("upsert", source, object); err != nil {
		return 0, err
	}
	if rr == nil {
		return 0, errors.New("datacloud: stream records: record reader is nil")
	}
	if o.Limit <= 0 {
		o.Limit = DefaultStreamingPayloadBytes
	}
	o.InFlight = max(o.InFlight, 1)
	if o.PerSecond <= 0 {
		o.PerSecond = DefaultStreamingRequestsPerSecond
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u := newUpserter(ctx, c, source, object, o, cancel)
	packErr := packRecords(ctx, rr, NewPacker(o.Limit), u.enqueue)
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

// upserter posts queued bodies on InFlight goroutines, taking them in queue order.
type upserter struct {
	queue chan upsertBatch
	// free holds the copy buffers not in use. The Packer reuses a returned body's buffer as
	// soon as it returns the next body, which happens while that body may still be in
	// flight, so each queued body is copied into one of InFlight+1 buffers: those in flight
	// and one queued.
	free chan []byte
	wg   sync.WaitGroup
	ctx  context.Context
	pace *pacer

	mu             sync.Mutex // guards the totals, the error and progress calls
	records, bytes int64
	err            error
}

func newUpserter(ctx context.Context, c *Client, source, object string, o StreamOptions, stop context.CancelFunc) *upserter {
	u := &upserter{queue: make(chan upsertBatch, 1), free: make(chan []byte, o.InFlight+1), ctx: ctx,
		pace: &pacer{every: time.Duration(float64(time.Second) / o.PerSecond)}}
	for range o.InFlight + 1 {
		u.free <- nil
	}
	for range o.InFlight {
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			for b := range u.queue {
				err := u.pace.wait(ctx)
				if err == nil {
					err = c.UpsertBody(ctx, source, object, b.body)
				}
				u.mu.Lock()
				if err != nil {
					if u.err == nil && (ctx.Err() == nil || !errors.Is(err, context.Canceled)) {
						u.err = err
					}
					u.mu.Unlock()
					stop() // stops the reader and the other requests; queued bodies are dropped
					continue
				}
				u.records += int64(b.n)
				u.bytes += int64(len(b.body))
				if o.Progress != nil {
					o.Progress(u.records, u.bytes)
				}
				u.mu.Unlock()
				u.free <- b.body
			}
		}()
	}
	return u
}

// enqueue copies body and queues it, waiting while every buffer is in flight or queued.
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

// wait closes the queue, lets the goroutines post what is queued unless one failed, and
// returns the records accepted and the first upsert error.
func (u *upserter) wait() (records int64, err error) {
	close(u.queue)
	u.wg.Wait()
	return u.records, u.err
}

// pacer spaces request starts at least every apart.
type pacer struct {
	mu    sync.Mutex
	every time.Duration
	next  time.Time
}

// wait returns when the next request may start, or ctx's error.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.every)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("datacloud: stream records: %w", ctx.Err())
	}
}
