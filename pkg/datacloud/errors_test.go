package datacloud

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestErrorStrings(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"oauth code and description", &OAuthError{Op: "login", StatusCode: 400, Code: "invalid_grant", Description: "user hasn't approved this consumer"},
			"datacloud: login: invalid_grant: user hasn't approved this consumer"},
		{"oauth code only", &OAuthError{Op: "exchange", StatusCode: 400, Code: "invalid_scope"}, "datacloud: exchange: invalid_scope"},
		{"oauth no code", &OAuthError{Op: "login", StatusCode: 503, Description: "Service Unavailable"}, "datacloud: login: HTTP 503: Service Unavailable"},
		{"oauth nothing", &OAuthError{Op: "login", StatusCode: 500}, "datacloud: login: HTTP 500"},
		{"api spring body", &APIError{Op: "query", Method: "POST", Path: "/api/v2/query", StatusCode: 401, ErrorCode: "Unauthorized",
			Message: "Authorization header verification failed", InternalErrorCode: "COMMON_ERROR_GENERIC"},
			"datacloud: query: POST /api/v2/query: 401 Unauthorized: Authorization header verification failed (COMMON_ERROR_GENERIC)"},
		{"api same error and message", &APIError{Op: "get job", Method: "GET", Path: "/api/v1/ingest/jobs/x", StatusCode: 404, ErrorCode: "Not Found", Message: "Not Found"},
			"datacloud: get job: GET /api/v1/ingest/jobs/x: 404 Not Found"},
		{"rate limit", &RateLimitError{&APIError{Op: "upsert", Method: "POST", Path: "/p", StatusCode: 429, ErrorCode: "Too many requests", RetryAfter: 2 * time.Second}},
			"datacloud: upsert: POST /p: 429 Too many requests: rate limited (retry after 2s)"},
		{"host", &HostNotAllowedError{URL: "https://evil.example", Reason: "not in the allowed hosts"}, "datacloud: host not allowed: https://evil.example: not in the allowed hosts"},
		{"conn", &ConnError{Op: "query", Method: "POST", Path: "/api/v2/query", Err: errors.New("EOF")}, "datacloud: query: POST /api/v2/query: connection error: EOF"},
		{"outcome unknown", &outcomeUnknownError{op: "upload job data", cause: errors.New("boom")},
			"datacloud: upload job data: outcome unknown (the request may have been processed): boom"},
		{"outcome unknown without a second prefix", &outcomeUnknownError{op: "create job",
			cause: &APIError{Op: "create job", Method: "POST", Path: "/api/v1/ingest/jobs", StatusCode: 502, ErrorCode: "Bad Gateway"}},
			"datacloud: create job: outcome unknown (the request may have been processed): POST /api/v1/ingest/jobs: 502 Bad Gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorClassification(t *testing.T) {
	api := func(code int) error { return &APIError{Op: "x", StatusCode: code} }
	tests := []struct {
		name                    string
		err                     error
		retryable, unauthorized bool
	}{
		{"nil", nil, false, false},
		{"401", api(401), false, true},
		{"401 wrapped", fmt.Errorf("outer: %w", api(401)), false, true},
		{"404", api(404), false, false},
		{"409", api(409), false, false},
		{"429", api(429), true, false},
		{"rate limit error", &RateLimitError{&APIError{StatusCode: 429}}, true, false},
		{"500", api(500), true, false},
		{"503", api(503), true, false},
		{"oauth 400", &OAuthError{StatusCode: 400}, false, false},
		{"oauth 503", &OAuthError{StatusCode: 503}, true, false},
		{"conn", &ConnError{Err: errors.New("reset")}, true, false},
		{"outcome unknown", &outcomeUnknownError{op: "x", cause: api(500)}, false, false},
		{"plain", errors.New("x"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRetryable(tt.err); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.retryable)
			}
			if got := IsUnauthorized(tt.err); got != tt.unauthorized {
				t.Errorf("IsUnauthorized = %v, want %v", got, tt.unauthorized)
			}
		})
	}
}

func TestRateLimitErrorUnwrapsToAPIError(t *testing.T) {
	var err error = &RateLimitError{&APIError{StatusCode: 429, RetryAfter: time.Second}}
	var ae *APIError
	var rl *RateLimitError
	if !errors.As(err, &ae) || ae.StatusCode != 429 || !errors.As(err, &rl) {
		t.Fatalf("errors.As failed: api=%v rl=%v", ae, rl)
	}
}

func TestConnErrorNotSent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"refused", &net.OpError{Op: "read", Err: syscall.ECONNREFUSED}, true},
		{"dial", &net.OpError{Op: "dial", Err: errors.New("no route")}, true},
		{"dns", &net.DNSError{Err: "no such host", Name: "x"}, true},
		{"reset on read", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, false},
		{"eof", errors.New("EOF"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (&ConnError{Err: tt.err}).notSent(); got != tt.want {
				t.Errorf("notSent = %v, want %v", got, tt.want)
			}
		})
	}
}
