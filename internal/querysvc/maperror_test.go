package querysvc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/tokenstore"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

func TestMapError(t *testing.T) {
	api := func(status int, msg string) *datacloud.APIError {
		return &datacloud.APIError{Op: "query", Method: "POST", Path: "/api/v2/query", StatusCode: status, Message: msg}
	}
	tests := []struct {
		name       string
		err        error
		op         operation
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{name: "no token", err: fmt.Errorf("wrapped: %w", &tokenstore.NoTokenError{Reason: "no token is stored and no credentials are configured"}),
			wantStatus: 503, wantCode: "no_token", wantMsg: "no token is stored"},
		{name: "401 after the re-auth retry", err: api(401, "Authorization header verification failed"), wantStatus: 503, wantCode: "no_token"},
		{name: "rate limited", err: &datacloud.RateLimitError{APIError: &datacloud.APIError{StatusCode: 429, RetryAfter: 1500 * time.Millisecond}}, wantStatus: 429, wantCode: "throttled"},
		{name: "bare 429", err: api(429, "Too many requests"), wantStatus: 429, wantCode: "throttled"},
		{name: "403", err: api(403, "insufficient scope"), wantStatus: 502, wantCode: "upstream_error", wantMsg: "403: insufficient scope"},
		{name: "500", err: api(500, "Internal Server Error"), wantStatus: 502, wantCode: "upstream_error"},
		{name: "sql rejected", err: api(400, "mismatched input 'FORM'"), wantStatus: 400, wantCode: "query_rejected", wantMsg: "mismatched input 'FORM'"},
		{name: "batch gone", err: api(404, "not found"), op: opNextBatch, wantStatus: 410, wantCode: "cursor_expired"},
		{name: "metadata rejected", err: api(400, "invalid entityType"), op: opMetadata, wantStatus: 400, wantCode: "invalid_request"},
		{name: "metadata 500", err: api(500, ""), op: opMetadata, wantStatus: 502, wantCode: "upstream_error"},
		{name: "host not allowed", err: &datacloud.HostNotAllowedError{URL: "https://evil.example", Reason: "not allowed"}, wantStatus: 502, wantCode: "upstream_error", wantMsg: "DATACLOUD_ALLOWED_HOSTS"},
		{name: "connection", err: &datacloud.ConnError{Op: "query", Err: errors.New("connection refused")}, wantStatus: 502, wantCode: "upstream_error"},
		{name: "deadline", err: fmt.Errorf("x: %w", context.DeadlineExceeded), wantStatus: 502, wantCode: "upstream_error", wantMsg: "in time"},
		{name: "unknown", err: errors.New("secret internal detail"), wantStatus: 502, wantCode: "upstream_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mapError(tt.err, tt.op)
			if e.status != tt.wantStatus || e.code != tt.wantCode || !strings.Contains(e.message, tt.wantMsg) {
				t.Fatalf("got %d %s %q, want %d %s containing %q", e.status, e.code, e.message, tt.wantStatus, tt.wantCode, tt.wantMsg)
			}
			if strings.Contains(e.message, "secret internal detail") || strings.Contains(e.message, "datacloud:") {
				t.Fatalf("message carries Go error text: %q", e.message)
			}
			if tt.name == "rate limited" && e.retryAfter != 2 {
				t.Fatalf("retryAfter = %d, want 2 (rounded up)", e.retryAfter)
			}
		})
	}
}
