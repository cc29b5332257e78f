package datacloud

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrOutcomeUnknown is wrapped by errors from calls that are not safe to repeat (CreateJob,
// UploadJobData) when the request may have reached Data Cloud but no answer came back: a
// connection broken mid-request, or a 500/502/504. The caller cannot know whether the data
// landed, so it should abort the job and start the file over in a new one.
var ErrOutcomeUnknown = errors.New("datacloud: outcome unknown: the request may have been processed")

// OAuthError is a failure of the login (/services/oauth2/token) or exchange
// (/services/a360/token) step, carrying Salesforce's own error and error_description.
type OAuthError struct {
	Op          string // "login" or "exchange"
	StatusCode  int
	Code        string // Salesforce "error", e.g. "invalid_grant"
	Description string // Salesforce "error_description", or a short text of a non-JSON body
}

// Error reads like "datacloud: login: invalid_grant: user hasn't approved this consumer".
func (e *OAuthError) Error() string {
	var b strings.Builder
	b.WriteString("datacloud: ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	switch {
	case e.Code != "" && e.Description != "":
		b.WriteString(e.Code + ": " + e.Description)
	case e.Code != "":
		b.WriteString(e.Code)
	default:
		b.WriteString("HTTP " + strconv.Itoa(e.StatusCode))
		if e.Description != "" {
			b.WriteString(": " + e.Description)
		}
	}
	return b.String()
}

// APIError is a non-2xx answer of the Data Cloud tenant API. The body fields follow the
// Spring-style error JSON Data Cloud returns ({"error","message","internalErrorCode"}).
type APIError struct {
	Op                string // e.g. "create job", "upload job data", "query"
	Method, Path      string // the request's method and path (no host, no query string)
	StatusCode        int
	ErrorCode         string // body "error", e.g. "Unauthorized"
	Message           string // body "message", or a short text of a non-JSON (HTML) body
	InternalErrorCode string
	RetryAfter        time.Duration // parsed Retry-After header, 0 if none

	raw []byte // the (capped) body, for callers inside the package that need more fields
}

// Error reads like "datacloud: query: POST /api/v2/query: 401 Unauthorized: Authorization header verification failed".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "datacloud: %s: %s %s: %d", e.Op, e.Method, e.Path, e.StatusCode)
	if e.ErrorCode != "" {
		b.WriteString(" " + e.ErrorCode)
	}
	if e.Message != "" && e.Message != e.ErrorCode {
		b.WriteString(": " + e.Message)
	}
	if e.InternalErrorCode != "" {
		b.WriteString(" (" + e.InternalErrorCode + ")")
	}
	return b.String()
}

// RateLimitError is a 429 that persisted after the retries. errors.As finds both it and the
// *APIError inside it.
type RateLimitError struct{ *APIError }

// Error adds "rate limited" to the API error so the log line says what happened.
func (e *RateLimitError) Error() string {
	s := e.APIError.Error() + ": rate limited"
	if e.RetryAfter > 0 {
		s += " (retry after " + e.RetryAfter.String() + ")"
	}
	return s
}

// Unwrap returns the *APIError.
func (e *RateLimitError) Unwrap() error { return e.APIError }

// HostNotAllowedError says a login, instance or tenant URL points at a host outside the
// allow-list (DATACLOUD_ALLOWED_HOSTS), or uses plain HTTP on a host that is not loopback.
// Nothing was sent to it.
type HostNotAllowedError struct {
	URL    string // scheme and host only
	Reason string
}

// Error reads like "datacloud: host not allowed: https://evil.example: not in the allowed hosts".
func (e *HostNotAllowedError) Error() string {
	return "datacloud: host not allowed: " + e.URL + ": " + e.Reason
}

// ConnError is a transport failure (connection refused or reset, DNS, TLS, timeout) of a
// request to Data Cloud or to the Salesforce login endpoints.
type ConnError struct {
	Op           string
	Method, Path string
	Err          error
}

// Error reads like "datacloud: query: POST /api/v2/query: connection error: ...".
func (e *ConnError) Error() string {
	return fmt.Sprintf("datacloud: %s: %s %s: connection error: %v", e.Op, e.Method, e.Path, e.Err)
}

// Unwrap returns the transport error.
func (e *ConnError) Unwrap() error { return e.Err }

// notSent reports whether the transport error certainly happened before any byte of the
// request left this process (dial failures: refused, DNS, no route).
func (e *ConnError) notSent() bool {
	if errors.Is(e.Err, syscall.ECONNREFUSED) {
		return true
	}
	var dns *net.DNSError
	if errors.As(e.Err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(e.Err, &op) && op.Op == "dial"
}

// outcomeUnknownError wraps both ErrOutcomeUnknown and the failure that made the outcome unknown.
type outcomeUnknownError struct {
	op    string
	cause error
}

func (e *outcomeUnknownError) Error() string {
	prefix := "datacloud: " + e.op + ": "
	return prefix + "outcome unknown (the request may have been processed): " + strings.TrimPrefix(e.cause.Error(), prefix)
}

func (e *outcomeUnknownError) Unwrap() []error { return []error{ErrOutcomeUnknown, e.cause} }

// IsUnauthorized reports whether err is a 401 from the Data Cloud API: the token was rejected.
func IsUnauthorized(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == 401
}

// IsRetryable reports whether repeating the failed call may succeed: 429, 5xx and broken
// connections. Errors wrapping ErrOutcomeUnknown are not retryable: repeating could
// duplicate data.
func IsRetryable(err error) bool {
	var he *HostNotAllowedError
	if err == nil || errors.Is(err, ErrOutcomeUnknown) || errors.As(err, &he) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode == 429 || ae.StatusCode >= 500
	}
	var oe *OAuthError
	if errors.As(err, &oe) {
		return oe.StatusCode == 429 || oe.StatusCode >= 500
	}
	var ce *ConnError
	return errors.As(err, &ce)
}

// retryAfterOf returns the server's Retry-After carried by err, or 0.
func retryAfterOf(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}
