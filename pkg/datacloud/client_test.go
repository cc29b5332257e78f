package datacloud

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tenantFailures are the tenant API failures of datacloud-api.md §8 (and their oddities),
// answered to a query with retries allowed.
var tenantFailures = []struct {
	name        string
	handler     http.HandlerFunc
	wantStatus  int
	wantCode    string
	wantMessage string
	wantIEC     string
	wantRetry   time.Duration
	wantCalls   int32
	rateLimited bool
	wantErr     string
	noRetry     bool // a real Retry-After would make the retries sleep
}{
	{name: "401 spring body", handler: reply(401, `{"timestamp":"2021-01-08T11:53:29.668+0000","error":"Unauthorized","message":"Authorization header verification failed","internalErrorCode":"COMMON_ERROR_GENERIC","details":{"status":"UNAUTHENTICATED: Invalid JWT (not before or expired)","statusCode":401}}`),
		wantStatus: 401, wantCode: "Unauthorized", wantMessage: "Authorization header verification failed", wantIEC: "COMMON_ERROR_GENERIC", wantCalls: 1,
		wantErr: "datacloud: query: POST /api/v2/query: 401 Unauthorized: Authorization header verification failed (COMMON_ERROR_GENERIC)"},
	{name: "404", handler: reply(404, `{"timestamp":"2021-01-08T11:53:29.668+0000","error":"Not Found","message":"Not Found"}`),
		wantStatus: 404, wantCode: "Not Found", wantMessage: "Not Found", wantCalls: 1, wantErr: "datacloud: query: POST /api/v2/query: 404 Not Found"},
	{name: "429 with retry-after", handler: withHeader("Retry-After", "0", reply(429, `{"timestamp":"x","error":"Too many requests","message":"Too many requests"}`)),
		wantStatus: 429, wantCode: "Too many requests", wantMessage: "Too many requests", wantCalls: 3, rateLimited: true},
	{name: "429 with retry-after date", handler: withHeader("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT", reply(429, `{"error":"Too many requests"}`)),
		wantStatus: 429, wantCode: "Too many requests", wantCalls: 1, rateLimited: true, noRetry: true},
	{name: "429 without retry-after", handler: reply(429, `{"error":"Too many requests","message":"Too many requests"}`),
		wantStatus: 429, wantCode: "Too many requests", wantMessage: "Too many requests", wantCalls: 3, rateLimited: true},
	{name: "500", handler: reply(500, `{"timestamp":"x","error":"Internal Server Error","message":"Internal Server Error","internalErrorCode":"COMMON_ERROR_GENERIC","details":{"status":"Internal Server Error","statusCode":500}}`),
		wantStatus: 500, wantCode: "Internal Server Error", wantMessage: "Internal Server Error", wantIEC: "COMMON_ERROR_GENERIC", wantCalls: 3},
	{name: "html error page", handler: reply(502, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>istio-envoy</center></body></html>"),
		wantStatus: 502, wantMessage: "502 Bad Gateway", wantCalls: 3, wantErr: "datacloud: query: POST /api/v2/query: 502: 502 Bad Gateway"},
	{name: "html without title", handler: reply(503, "<html><body><h1>Service</h1>\n\n<p>Unavailable   now</p></body></html>"),
		wantStatus: 503, wantMessage: "Service Unavailable now", wantCalls: 3},
	{name: "409 conflict", handler: reply(409, `{"error":"Conflict","message":"Job state cannot be changed"}`),
		wantStatus: 409, wantCode: "Conflict", wantMessage: "Job state cannot be changed", wantCalls: 1},
	{name: "400 bad sql", handler: reply(400, `{"error":"Bad Request","message":"line 1:8: mismatched input"}`),
		wantStatus: 400, wantCode: "Bad Request", wantMessage: "line 1:8: mismatched input", wantCalls: 1},
	{name: "403 core style", handler: reply(403, `[{"message":"Insufficient privileges","errorCode":"INSUFFICIENT_ACCESS"}]`),
		wantStatus: 403, wantCode: "INSUFFICIENT_ACCESS", wantMessage: "Insufficient privileges", wantCalls: 1},
	{name: "empty body", handler: reply(404, ""), wantStatus: 404, wantCode: "Not Found", wantCalls: 1},
	{name: "echoed token", handler: func(w http.ResponseWriter, r *http.Request) {
		reply(400, `{"error":"Bad Request","message":"header `+r.Header.Get("Authorization")+` is odd"}`)(w, r)
	}, wantStatus: 400, wantCode: "Bad Request", wantMessage: "header Bearer [redacted] is odd", wantCalls: 1},
}

func withHeader(k, v string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(k, v)
		h(w, r)
	}
}

func TestClientAPIErrors(t *testing.T) {
	for _, tt := range tenantFailures {
		t.Run(tt.name, func(t *testing.T) {
			opts := []Option{WithClock(func() time.Time { return time.Date(2015, 10, 21, 7, 27, 58, 0, time.UTC) })}
			if tt.noRetry {
				opts = append(opts, WithRetryPolicy(fastRetry(1)))
			}
			tn := setup(t, opts...)
			var calls atomic.Int32
			tn.mux.HandleFunc("POST /api/v2/query", func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				tt.handler(w, r)
			})
			_, err := tn.client.QueryV2(context.Background(), "SELECT 1")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			if ae.Op != "query" || ae.Method != "POST" || ae.Path != "/api/v2/query" || ae.StatusCode != tt.wantStatus ||
				ae.ErrorCode != tt.wantCode || ae.Message != tt.wantMessage || ae.InternalErrorCode != tt.wantIEC {
				t.Errorf("got %+v", *ae)
			}
			var rl *RateLimitError
			if errors.As(err, &rl) != tt.rateLimited {
				t.Errorf("RateLimitError = %v, want %v", rl, tt.rateLimited)
			}
			if tt.name == "429 with retry-after date" && ae.RetryAfter != 2*time.Second {
				t.Errorf("RetryAfter = %v, want 2s", ae.RetryAfter)
			}
			if n := calls.Load(); n != tt.wantCalls {
				t.Errorf("calls = %d, want %d", n, tt.wantCalls)
			}
			if tt.wantErr != "" && err.Error() != tt.wantErr {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.wantErr)
			}
			if IsUnauthorized(err) != (tt.wantStatus == 401) {
				t.Errorf("IsUnauthorized = %v", IsUnauthorized(err))
			}
		})
	}
}

func TestClientSendsTheRightHeaders(t *testing.T) {
	tn := setup(t, WithUserAgent("ingest-test/2"))
	var got http.Header
	tn.mux.HandleFunc("POST /api/v1/ingest/sources/Event_API/runner_profiles", func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		reply(202, `{"accepted":true}`)(w, r)
	})
	if err := tn.client.UpsertBody(context.Background(), "Event_API", "runner_profiles", []byte(`{"data":[{"id":1}]}`)); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"Authorization": "Bearer " + testTenantToken, "Content-Type": "application/json",
		"Accept": "application/json", "User-Agent": "ingest-test/2"} {
		if got.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, got.Get(k), want)
		}
	}
}

// rotatingSource issues token-1, token-2, ... and counts its calls.
type rotatingSource struct {
	url   string
	calls atomic.Int32
}

func (s *rotatingSource) Token(context.Context) (Token, error) {
	n := s.calls.Add(1)
	return Token{AccessToken: "rotating-token-" + string(rune('0'+n)), InstanceURL: s.url, ExpiresAt: time.Now().Add(time.Hour)}, nil
}

func TestClientReauthenticatesOnceOn401(t *testing.T) {
	tests := []struct {
		name       string
		accept     string // the token the server accepts
		wantErr    bool
		wantTokens int32
		wantCalls  int32
	}{
		{name: "second token accepted", accept: "rotating-token-2", wantTokens: 2, wantCalls: 2},
		{name: "every token rejected", accept: "none", wantErr: true, wantTokens: 2, wantCalls: 2},
		{name: "first token accepted", accept: "rotating-token-1", wantTokens: 1, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if r.Header.Get("Authorization") != "Bearer "+tt.accept {
					reply(401, `{"error":"Unauthorized","message":"Authorization header verification failed"}`)(w, r)
					return
				}
				reply(200, `{"metadata":[]}`)(w, r)
			}))
			t.Cleanup(srv.Close)
			src := &rotatingSource{url: srv.URL}
			c, err := NewClient(NewCachedTokenSource(src, time.Minute), WithAllowedHosts(loopbackHosts(t)), WithRetryPolicy(fastRetry(3)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Metadata(context.Background(), MetadataOptions{})
			if (err != nil) != tt.wantErr || (tt.wantErr && !IsUnauthorized(err)) {
				t.Fatalf("err = %v", err)
			}
			if src.calls.Load() != tt.wantTokens || calls.Load() != tt.wantCalls {
				t.Errorf("token fetches = %d (want %d), requests = %d (want %d)", src.calls.Load(), tt.wantTokens, calls.Load(), tt.wantCalls)
			}
		})
	}
}

func TestClient401WithoutInvalidatorIsNotRetried(t *testing.T) {
	tn := setup(t)
	var calls atomic.Int32
	tn.mux.HandleFunc("GET /api/v1/metadata", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		reply(401, `{"error":"Unauthorized"}`)(w, r)
	})
	if _, err := tn.client.Metadata(context.Background(), MetadataOptions{}); !IsUnauthorized(err) || calls.Load() != 1 {
		t.Fatalf("err = %v, calls = %d", err, calls.Load())
	}
}

func TestClientChecksTenantHostBeforeSendingTheToken(t *testing.T) {
	var hits atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(foreign.Close)
	tests := []struct {
		name, url, want string
	}{
		{"foreign host", strings.Replace(foreign.URL, "127.0.0.1", "localhost", 1), "not in the allowed hosts"},
		{"no instance url", "", "the token has no instance URL"},
	}
	onlyIP, _ := ParseAllowedHosts("127.0.0.1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(StaticTokenSource(Token{AccessToken: testTenantToken, InstanceURL: tt.url}), WithAllowedHosts(onlyIP))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetJob(context.Background(), "job-1")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if hits.Load() != 0 {
				t.Errorf("the foreign host received %d requests", hits.Load())
			}
		})
	}
}

func TestClientReturnsTokenSourceErrors(t *testing.T) {
	boom := errors.New("datacloud: login: invalid_grant: authentication failure")
	c, err := NewClient(TokenSourceFunc(func(context.Context) (Token, error) { return Token{}, boom }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetJob(context.Background(), "j"); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewClient(nil); err == nil {
		t.Error("NewClient(nil) should fail")
	}
}

// recordPolicy retries up to max attempts with a fixed tiny delay and records what it saw.
type recordPolicy struct {
	mu    sync.Mutex
	max   int
	delay time.Duration
	errs  []error
}

func (p *recordPolicy) Backoff(attempt int, err error) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, err)
	return p.delay, attempt < p.max && IsRetryable(err)
}

func TestClientRetriesHonourRetryAfterThroughThePolicy(t *testing.T) {
	pol := &recordPolicy{max: 3, delay: time.Millisecond}
	tn := setup(t, WithRetryPolicy(pol))
	var calls atomic.Int32
	tn.mux.HandleFunc("POST /api/v1/ingest/sources/s/o", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			withHeader("Retry-After", "7", reply(429, `{"error":"Too many requests"}`))(w, r)
			return
		}
		reply(202, `{"accepted":true}`)(w, r)
	})
	if err := tn.client.UpsertBody(context.Background(), "s", "o", []byte(`{"data":[{}]}`)); err != nil {
		t.Fatal(err)
	}
	if len(pol.errs) != 1 || retryAfterOf(pol.errs[0]) != 7*time.Second {
		t.Fatalf("policy saw %v", pol.errs)
	}
	// The default policy turns that into a wait of at least 7s.
	if d, ok := DefaultRetryPolicy().Backoff(1, pol.errs[0]); !ok || d < 7*time.Second {
		t.Errorf("default backoff = %v, %v", d, ok)
	}
}

func TestClientNeverSleepsPastTheDeadline(t *testing.T) {
	pol := &recordPolicy{max: 5, delay: time.Hour}
	tn := setup(t, WithRetryPolicy(pol))
	var calls atomic.Int32
	tn.mux.HandleFunc("GET /api/v1/ingest/jobs/j1", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		reply(503, `{"error":"Service Unavailable"}`)(w, r)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := tn.client.GetJob(ctx, "j1")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 {
		t.Fatalf("err = %v, want the last 503", err)
	}
	if ctx.Err() != nil || calls.Load() != 1 {
		t.Errorf("ctx.Err() = %v, calls = %d: the client waited instead of returning", ctx.Err(), calls.Load())
	}
}

func TestClientStopsWhenContextIsCancelled(t *testing.T) {
	pol := &recordPolicy{max: 5, delay: time.Hour}
	tn := setup(t, WithRetryPolicy(pol))
	ctx, cancel := context.WithCancel(context.Background())
	tn.mux.HandleFunc("GET /api/v1/ingest/jobs/j1", func(w http.ResponseWriter, r *http.Request) {
		cancel()
		reply(500, `{"error":"Internal Server Error"}`)(w, r)
	})
	if _, err := tn.client.GetJob(ctx, "j1"); err == nil {
		t.Fatal("want error")
	}
}

func TestClientRetriesByMode(t *testing.T) {
	tests := []struct {
		name        string
		call        func(c *Client) error
		route       string
		fail        http.HandlerFunc // first answer; later answers succeed
		okStatus    int
		wantCalls   int32
		wantUnknown bool
		wantStatus  int // of the APIError inside, when any
	}{
		{name: "upload reset is outcome unknown", call: upload, route: "PUT /api/v1/ingest/jobs/j1/batches",
			okStatus: 202, wantCalls: 1, wantUnknown: true},
		{name: "upload 500 is outcome unknown", call: upload, route: "PUT /api/v1/ingest/jobs/j1/batches",
			fail: reply(500, `{"error":"Internal Server Error"}`), okStatus: 202, wantCalls: 1, wantUnknown: true, wantStatus: 500},
		{name: "upload 504 is outcome unknown", call: upload, route: "PUT /api/v1/ingest/jobs/j1/batches",
			fail: reply(504, `<html><title>Gateway Timeout</title></html>`), okStatus: 202, wantCalls: 1, wantUnknown: true, wantStatus: 504},
		{name: "upload 503 is retried", call: upload, route: "PUT /api/v1/ingest/jobs/j1/batches",
			fail: reply(503, `{"error":"Service Unavailable"}`), okStatus: 202, wantCalls: 2},
		{name: "upload 429 is retried", call: upload, route: "PUT /api/v1/ingest/jobs/j1/batches",
			fail: reply(429, `{"error":"Too many requests"}`), okStatus: 202, wantCalls: 2},
		{name: "upload 400 is final", call: upload, route: "PUT /api/v1/ingest/jobs/j1/batches",
			fail: reply(400, `{"error":"Bad Request"}`), okStatus: 202, wantCalls: 1, wantStatus: 400},
		{name: "create job 502 is outcome unknown", call: createJob, route: "POST /api/v1/ingest/jobs",
			fail: reply(502, `bad gateway`), okStatus: 201, wantCalls: 1, wantUnknown: true, wantStatus: 502},
		{name: "create job reset is outcome unknown", call: createJob, route: "POST /api/v1/ingest/jobs",
			okStatus: 201, wantCalls: 1, wantUnknown: true},
		{name: "create job 429 is retried", call: createJob, route: "POST /api/v1/ingest/jobs",
			fail: reply(429, `{"error":"Too many requests"}`), okStatus: 201, wantCalls: 2},
		{name: "upsert reset is retried", call: upsert, route: "POST /api/v1/ingest/sources/s/o",
			okStatus: 202, wantCalls: 2},
		{name: "upsert 500 is retried", call: upsert, route: "POST /api/v1/ingest/sources/s/o",
			fail: reply(500, `{"error":"Internal Server Error"}`), okStatus: 202, wantCalls: 2},
		{name: "close job 502 is retried", call: closeJob, route: "PATCH /api/v1/ingest/jobs/j1",
			fail: reply(502, ``), okStatus: 200, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			var calls atomic.Int32
			fail := tt.fail
			if fail == nil {
				fail = hijackClose(t)
			}
			tn.mux.HandleFunc(tt.route, func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					fail(w, r)
					return
				}
				reply(tt.okStatus, `{"id":"j1","state":"Open","accepted":true}`)(w, r)
			})
			err := tt.call(tn.client)
			if got := errors.Is(err, ErrOutcomeUnknown); got != tt.wantUnknown {
				t.Errorf("errors.Is(ErrOutcomeUnknown) = %v, err = %v", got, err)
			}
			if tt.wantStatus == 0 && !tt.wantUnknown && err != nil {
				t.Errorf("err = %v, want success", err)
			}
			var ae *APIError
			if tt.wantStatus != 0 && (!errors.As(err, &ae) || ae.StatusCode != tt.wantStatus) {
				t.Errorf("err = %v, want an APIError %d inside", err, tt.wantStatus)
			}
			if tt.wantUnknown && IsRetryable(err) {
				t.Error("an outcome-unknown error must not be retryable")
			}
			if n := calls.Load(); n != tt.wantCalls {
				t.Errorf("calls = %d, want %d", n, tt.wantCalls)
			}
		})
	}
}

func upload(c *Client) error { return c.UploadJobData(context.Background(), "j1", []byte("id\n1\n")) }
func upsert(c *Client) error {
	return c.UpsertBody(context.Background(), "s", "o", []byte(`{"data":[{"id":1}]}`))
}
func createJob(c *Client) error {
	_, err := c.CreateJob(context.Background(), JobSpec{Object: "o", SourceName: "s", Operation: "upsert"})
	return err
}
func closeJob(c *Client) error { _, err := c.CloseJob(context.Background(), "j1"); return err }

func TestClientRetriesRefusedConnectionsEvenForUploads(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now: every dial is refused
	pol := &recordPolicy{max: 3, delay: time.Millisecond}
	c, err := NewClient(StaticTokenSource(Token{AccessToken: testTenantToken, InstanceURL: url}),
		WithAllowedHosts(loopbackHosts(t)), WithRetryPolicy(pol))
	if err != nil {
		t.Fatal(err)
	}
	err = upload(c)
	var ce *ConnError
	if !errors.As(err, &ce) || errors.Is(err, ErrOutcomeUnknown) || !ce.notSent() {
		t.Fatalf("err = %v, want a refused ConnError", err)
	}
	if len(pol.errs) != 3 {
		t.Errorf("policy consulted %d times, want 3", len(pol.errs))
	}
}

// TestRedirectsStayOnAllowedHosts: neither the tenant token (header) nor an assertion or
// subject token (a replayed POST body) follows a redirect to a host off the list.
func TestRedirectsStayOnAllowedHosts(t *testing.T) {
	var foreignHits atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		reply(200, `{"metadata":[]}`)(w, r)
	}))
	t.Cleanup(foreign.Close)
	foreignURL := strings.Replace(foreign.URL, "127.0.0.1", "localhost", 1)
	onlyIP, _ := ParseAllowedHosts("127.0.0.1")
	redirect := func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, foreignURL+r.URL.Path, http.StatusTemporaryRedirect)
	}

	t.Run("tenant", func(t *testing.T) {
		tn := setup(t, WithAllowedHosts(onlyIP))
		tn.mux.HandleFunc("GET /api/v1/metadata", redirect)
		_, err := tn.client.Metadata(context.Background(), MetadataOptions{})
		var he *HostNotAllowedError
		if !errors.As(err, &he) || IsRetryable(err) {
			t.Fatalf("err = %v, want a final HostNotAllowedError", err)
		}
	})
	t.Run("login", func(t *testing.T) {
		f := newFakeSF(t)
		f.login = redirect
		_, err := f.auth(t, f.creds(t), WithAuthAllowedHosts(onlyIP), WithAuthRetry(fastRetry(3))).Token(context.Background())
		var he *HostNotAllowedError
		if !errors.As(err, &he) || f.loginCalls != 1 {
			t.Fatalf("err = %v after %d login calls", err, f.loginCalls)
		}
	})
	t.Run("same host is followed", func(t *testing.T) {
		tn := setup(t)
		tn.mux.HandleFunc("GET /api/v1/metadata", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/api/v1/metadata/", http.StatusTemporaryRedirect)
		})
		tn.mux.HandleFunc("GET /api/v1/metadata/", reply(200, `{"metadata":[1]}`))
		if md, err := tn.client.Metadata(context.Background(), MetadataOptions{}); err != nil || string(md) != `{"metadata":[1]}` {
			t.Fatalf("%s %v", md, err)
		}
	})
	if n := foreignHits.Load(); n != 0 {
		t.Errorf("the foreign host received %d requests", n)
	}
}

func TestClientDoesNotSendWhenCancelled(t *testing.T) {
	tn := setup(t)
	var calls atomic.Int32
	tn.mux.HandleFunc("PUT /api/v1/ingest/jobs/j1/batches", func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := tn.client.UploadJobData(ctx, "j1", []byte("id\n1\n"))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrOutcomeUnknown) || calls.Load() != 0 {
		t.Fatalf("err = %v, calls = %d", err, calls.Load())
	}
}
