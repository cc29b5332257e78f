package datacloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Size caps for reading response bodies.
const (
	maxErrorBody    = 64 << 10  // error bodies: enough for any JSON error or an HTML page's start
	maxResponseBody = 256 << 20 // success bodies: a query batch is at most ~32 MB
)

// DefaultUserAgent is sent on every request unless WithUserAgent says otherwise.
const DefaultUserAgent = "datacloud-lambda-go/1"

// Client calls the Data Cloud tenant API. Every request goes through one path (newRequest,
// do, checkResponse): the Authorization header is set in one place, on a clone, after the
// tenant URL passed the allow-list. It is safe for concurrent use.
type Client struct {
	ts        TokenSource
	hc        *http.Client
	retry     RetryPolicy
	hosts     AllowedHosts
	userAgent string
	log       *slog.Logger
	now       func() time.Time
	pollMin   time.Duration
	pollMax   time.Duration
}

// Option configures a Client.
type Option func(*Client)

// defaultHTTPClient is http.DefaultClient with 64 KiB connection buffers instead of 4 KiB: an
// upload of many megabytes then takes a sixteenth of the writes (and TLS records) it would.
var defaultHTTPClient = func() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.WriteBufferSize, tr.ReadBufferSize = 64<<10, 64<<10
	return &http.Client{Transport: tr}
}()

// WithHTTPClient sets the HTTP client (timeouts, TLS roots). Default: http.DefaultClient's
// transport with 64 KiB connection buffers.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithRetryPolicy sets the retry policy. Default DefaultRetryPolicy().
func WithRetryPolicy(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// WithAllowedHosts sets the hosts the token may be sent to. Default DefaultAllowedHosts.
func WithAllowedHosts(a AllowedHosts) Option { return func(c *Client) { c.hosts = a } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithLogger sets the logger for retries (debug level). Default: discard.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithClock sets the clock (Retry-After dates).
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithJobPollInterval sets WaitJob's polling interval: it starts at min and doubles up to max.
// Default 2s to 30s.
func WithJobPollInterval(minInterval, maxInterval time.Duration) Option {
	return func(c *Client) { c.pollMin, c.pollMax = minInterval, maxInterval }
}

// NewClient returns a client that takes its tokens (and the tenant URL) from ts.
func NewClient(ts TokenSource, opts ...Option) (*Client, error) {
	if ts == nil {
		return nil, errors.New("datacloud: new client: token source is nil")
	}
	c := &Client{
		ts: ts, hc: defaultHTTPClient, retry: DefaultRetryPolicy(), userAgent: DefaultUserAgent,
		log: slog.New(slog.DiscardHandler), now: time.Now, pollMin: 2 * time.Second, pollMax: 30 * time.Second,
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient
	}
	c.hc = guardRedirects(c.hc, c.hosts)
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// retryMode says which failures of a call may be repeated.
type retryMode int

const (
	// retrySafe: repeating cannot duplicate data (reads, upserts by key, deletes, state changes).
	retrySafe retryMode = iota
	// retryUnsent: retry only when the request certainly was not processed (429, 503, refused
	// connection); any other failure after sending wraps ErrOutcomeUnknown.
	retryUnsent
)

// call describes one API call.
type call struct {
	op       string // operation name for errors, e.g. "create job"
	method   string
	path     string     // escaped path, e.g. /api/v1/ingest/jobs/ID
	query    url.Values // may be nil
	rawQuery string     // used instead of query when set (ids=a,b keeps its commas)
	body     []byte
	// open, when set instead of body, returns a fresh reader of the body for every attempt
	// (as http.Request.GetBody does), so that a streamed body can be sent again.
	open        func() (io.ReadCloser, error)
	openMax     int64 // the most bytes open's readers can yield; 0: unknown
	sizeAll     bool  // read open's body whole, whatever its size (the server answered 411)
	contentType string
	mode        retryMode
}

// do runs c through auth, retries and error mapping, and returns the 2xx response body.
func (c *Client) do(ctx context.Context, cl call) ([]byte, int, error) {
	reauthed := false
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			// Checked here so that a call cancelled before sending is never "outcome unknown".
			return nil, 0, fmt.Errorf("datacloud: %s: %w", cl.op, err)
		}
		tok, err := c.ts.Token(ctx)
		if err != nil {
			return nil, 0, err
		}
		body, status, err := c.attempt(ctx, cl, tok)
		if err == nil {
			return body, status, nil
		}
		var ae *APIError
		isAPI := errors.As(err, &ae)
		if isAPI && ae.StatusCode == http.StatusLengthRequired && cl.open != nil && !cl.sizeAll {
			// The server takes no body of unknown length: send it again, read whole first and
			// sized (it was refused before being processed).
			c.log.WarnContext(ctx, "datacloud: body of unknown length refused (411); sending it sized", "op", cl.op)
			cl.sizeAll = true
			attempt--
			continue
		}
		if isAPI && ae.StatusCode == http.StatusUnauthorized && !reauthed {
			if inv, ok := c.ts.(Invalidator); ok {
				// The token was rejected, not the request: one fresh token, one more try.
				inv.Invalidate(tok)
				reauthed = true
				attempt--
				continue
			}
		}
		if cl.mode == retryUnsent && !certainlyNotProcessed(err) {
			if IsRetryable(err) { // 500/502/504 or a broken connection after sending
				return nil, 0, &outcomeUnknownError{op: cl.op, cause: err}
			}
			return nil, 0, err
		}
		if backoffWait(ctx, c.retry, attempt, err) {
			c.log.DebugContext(ctx, "datacloud retry", "op", cl.op, "method", cl.method, "path", cl.path,
				"attempt", attempt, "error", err.Error())
			continue
		}
		if isAPI && ae.StatusCode == http.StatusTooManyRequests {
			return nil, 0, &RateLimitError{APIError: ae}
		}
		return nil, 0, err
	}
}

// certainlyNotProcessed reports whether a failure proves the server did not act on the
// request: 429 (throttled before processing), 503 (unavailable), or a failed dial.
func certainlyNotProcessed(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode == http.StatusTooManyRequests || ae.StatusCode == http.StatusServiceUnavailable ||
			ae.StatusCode < 500 // other 4xx are final anyway
	}
	var ce *ConnError
	return errors.As(err, &ce) && ce.notSent()
}

// attempt sends cl once with tok.
func (c *Client) attempt(ctx context.Context, cl call, tok Token) ([]byte, int, error) {
	req, err := c.newRequest(ctx, cl, tok)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.hc.Do(authorize(req, tok))
	if err != nil {
		return nil, 0, &ConnError{Op: cl.op, Method: cl.method, Path: cl.path, Err: redactErr(err, tok.AccessToken)}
	}
	defer resp.Body.Close()
	if err := c.checkResponse(resp, cl, tok); err != nil {
		return nil, resp.StatusCode, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, 0, &ConnError{Op: cl.op, Method: cl.method, Path: cl.path, Err: redactErr(err, tok.AccessToken)}
	}
	if len(body) > maxResponseBody {
		return nil, 0, fmt.Errorf("datacloud: %s: response larger than %d bytes", cl.op, maxResponseBody)
	}
	return body, resp.StatusCode, nil
}

// newRequest builds the request on the token's tenant URL, after checking that URL against
// the allow-list. It carries no credentials: authorize adds them.
func (c *Client) newRequest(ctx context.Context, cl call, tok Token) (*http.Request, error) {
	base := normalizeInstanceURL(tok.InstanceURL)
	if base == "" {
		return nil, fmt.Errorf("datacloud: %s: the token has no instance URL", cl.op)
	}
	if err := c.hosts.Check(base); err != nil {
		return nil, err
	}
	u := base + cl.path
	if cl.rawQuery != "" {
		u += "?" + cl.rawQuery
	} else if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	sized := false
	if cl.open != nil {
		rc, err := cl.open()
		if err != nil {
			return nil, fmt.Errorf("datacloud: %s: read body: %w", cl.op, err)
		}
		body = rc
		limit := int64(maxSizedStreamBody)
		if cl.sizeAll {
			limit = max(cl.openMax, MaxUploadBytes)
		}
		if cl.openMax <= limit { // else it is bound to be larger: no need to look
			if body, sized, err = sizeStreamedBody(rc, limit); err != nil {
				return nil, fmt.Errorf("datacloud: %s: read body: %w", cl.op, err)
			}
		}
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		if rc, ok := body.(io.Closer); ok {
			rc.Close()
		}
		return nil, fmt.Errorf("datacloud: %s: build request: %w", cl.op, err)
	}
	if cl.open != nil {
		req.GetBody = cl.open
		if sb, ok := body.(*sizedBody); ok && sized {
			req.ContentLength = sb.size
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(sb.again()), nil }
		}
		req.Header.Set("Content-Type", cl.contentType)
	}
	if cl.body != nil {
		b := cl.body
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.Header.Set("Content-Type", cl.contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	return req, nil
}

// maxSizedStreamBody is the largest streamed body (call.open) that is sent with a
// Content-Length, read into memory first (when call.openMax does not already say it may be
// larger). A larger one goes out as it is read, with no length
// (chunked transfer encoding over HTTP/1.1, an unsized body over HTTP/2). Data Cloud documents
// neither way, and some servers and proxies refuse a body of unknown length (411 Length
// Required) or read it as empty; so only bodies too large to hold cheaply are sent unsized,
// and one refused with 411 is sent again read whole (call.sizeAll).
const maxSizedStreamBody = 8 << 20

// sizeStreamedBody reads up to limit bytes of rc, in 1 MiB pieces (no buffer
// grown by doubling: the pieces are all the memory it takes). When rc ends within them it is
// closed and they are the body, with its length set by http.NewRequest (sized); otherwise the
// body is those bytes followed by the rest of rc, which closing the body closes.
func sizeStreamedBody(rc io.ReadCloser, limit int64) (body io.Reader, sized bool, err error) {
	const piece = 1 << 20
	var pieces []io.Reader
	var total int64
	for total <= limit {
		p := make([]byte, min(piece, limit+1-total))
		n, rerr := io.ReadFull(rc, p)
		if n > 0 {
			pieces = append(pieces, bytes.NewReader(p[:n]))
			total += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			rc.Close()
			return &sizedBody{pieces: pieces, size: total}, true, nil
		}
		if rerr != nil {
			rc.Close()
			return nil, false, rerr
		}
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(append(pieces, rc)...), rc}, false, nil
}

// sizedBody is a body read whole into pieces, of a known size.
type sizedBody struct {
	pieces []io.Reader // *bytes.Reader each
	size   int64
	r      io.Reader
}

func (b *sizedBody) Read(p []byte) (int, error) {
	if b.r == nil {
		b.r = io.MultiReader(b.pieces...)
	}
	return b.r.Read(p)
}

// again returns a reader of the same bytes from the start.
func (b *sizedBody) again() *sizedBody {
	pieces := make([]io.Reader, len(b.pieces))
	for i, p := range b.pieces {
		r := *p.(*bytes.Reader)
		r.Seek(0, io.SeekStart) //nolint:errcheck // cannot fail at 0
		pieces[i] = &r
	}
	return &sizedBody{pieces: pieces, size: b.size}
}

// authorize is the one place the token is attached; it clones so that the caller's request
// (and anything logging it) never holds the header.
func authorize(req *http.Request, tok Token) *http.Request {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return r
}

// checkResponse returns nil for 2xx and an *APIError otherwise, reading at most maxErrorBody.
func (c *Client) checkResponse(resp *http.Response, cl call, tok Token) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	raw = redactBytes(raw, tok.AccessToken)
	ae := &APIError{
		Op: cl.op, Method: cl.method, Path: cl.path, StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now()), raw: raw,
	}
	var body struct {
		Error             any    `json:"error"`
		Message           any    `json:"message"`
		InternalErrorCode string `json:"internalErrorCode"`
	}
	if json.Unmarshal(raw, &body) == nil {
		ae.ErrorCode, ae.Message, ae.InternalErrorCode = shortString(body.Error), shortString(body.Message), body.InternalErrorCode
	} else if arr := []struct{ Message, ErrorCode string }{}; json.Unmarshal(raw, &arr) == nil && len(arr) > 0 {
		// Core REST style: [{"message":"...","errorCode":"INVALID_SESSION_ID"}]
		ae.ErrorCode, ae.Message = arr[0].ErrorCode, arr[0].Message
	} else {
		ae.Message = shortText(raw)
	}
	if ae.ErrorCode == "" && ae.Message == "" {
		ae.ErrorCode = http.StatusText(resp.StatusCode)
	}
	return ae
}

func shortString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return truncate(v, 500)
	default:
		b, _ := json.Marshal(v)
		return truncate(string(b), 500)
	}
}

var (
	reTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	reDrop  = regexp.MustCompile(`(?is)<(script|style)[^>]*>.*?</(script|style)>`)
	reTag   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// shortText turns a non-JSON body (typically a gateway's HTML page) into one short line:
// the page title, else its text.
func shortText(raw []byte) string {
	if len(raw) > 16<<10 { // a page's title and first words are near its start
		raw = raw[:16<<10]
	}
	s := string(raw)
	if m := reTitle.FindStringSubmatch(s); m != nil && strings.TrimSpace(m[1]) != "" {
		s = m[1]
	} else {
		s = reTag.ReplaceAllString(reDrop.ReplaceAllString(s, " "), " ")
	}
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "?")), " ")
	return truncate(s, 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) { // do not cut a UTF-8 sequence in half
		n--
	}
	return s[:n] + "..."
}

// redactBytes removes secrets a misbehaving server might echo back.
func redactBytes(b []byte, secrets ...string) []byte {
	for _, s := range secrets {
		if len(s) >= 8 {
			b = bytes.ReplaceAll(b, []byte(s), []byte("[redacted]"))
		}
	}
	return b
}

func redactString(s string, secrets ...string) string {
	return string(redactBytes([]byte(s), secrets...))
}

// redactErr keeps the chain of a transport error (errors.Is still works) but redacts its text.
func redactErr(err error, secrets ...string) error {
	if msg := err.Error(); redactString(msg, secrets...) != msg {
		return &redactedError{msg: redactString(msg, secrets...), err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// decodeJSON decodes body into v with UseNumber so that large numbers survive.
func decodeJSON(op string, body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("datacloud: %s: decode response: %w", op, err)
	}
	return nil
}

// pathSeg escapes one path segment, refusing empty values (they would change the route).
func pathSeg(op, what, v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("datacloud: %s: %s is empty", op, what)
	}
	return url.PathEscape(v), nil
}

// pageQuery builds the limit, offset and ordering parameters, leaving zero values out.
func pageQuery(limit, offset int, orderKey, orderBy string) url.Values {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	if orderBy != "" {
		q.Set(orderKey, orderBy)
	}
	return q
}
