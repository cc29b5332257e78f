package querysvc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/dcbridge/datacloud-lambda/internal/tokenstore"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// Error codes of {"error":{"code": ...}}.
const (
	codeInvalidJSON      = "invalid_json"
	codeInvalidRequest   = "invalid_request"
	codeBodyTooLarge     = "body_too_large"
	codeMissingSQL       = "missing_sql"
	codeInvalidCursor    = "invalid_cursor"
	codeCursorExpired    = "cursor_expired"
	codeQueryRejected    = "query_rejected"
	codeNotFound         = "not_found"
	codeThrottled        = "throttled"
	codeNoToken          = "no_token"
	codeUpstream         = "upstream_error"
	codeResponseTooLarge = "response_too_large"
)

// apiError is an error answer. Its message is written for the caller and holds nothing
// internal: no token, key, stack trace or raw Go error text.
type apiError struct {
	status     int
	code       string
	message    string
	retryAfter int // seconds, 0 for none
}

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// operation says which Data Cloud call failed, for mapping its 4xx answers.
type operation int

const (
	opQuery     operation = iota // QueryV2 or QueryV1: a 4xx rejects the SQL
	opNextBatch                  // a 4xx means the batch id is gone
	opMetadata                   // a 4xx rejects the parameters
)

// mapError turns a failure of a Data Cloud call into an answer (contract §5).
func mapError(err error, op operation) *apiError {
	var nt *tokenstore.NoTokenError
	if errors.As(err, &nt) {
		return errf(http.StatusServiceUnavailable, codeNoToken, "no usable Data Cloud token: %s", nt.Reason)
	}
	var rl *datacloud.RateLimitError
	if errors.As(err, &rl) {
		e := errf(http.StatusTooManyRequests, codeThrottled, "Data Cloud is still throttling requests after retries; try again later")
		if rl.RetryAfter > 0 {
			e.retryAfter = int(rl.RetryAfter.Seconds() + 0.999)
		}
		return e
	}
	var ae *datacloud.APIError
	if errors.As(err, &ae) {
		return mapAPIError(ae, op)
	}
	var he *datacloud.HostNotAllowedError
	if errors.As(err, &he) {
		return errf(http.StatusBadGateway, codeUpstream, "the Data Cloud instance URL is not an allowed host (DATACLOUD_ALLOWED_HOSTS)")
	}
	var ce *datacloud.ConnError
	if errors.As(err, &ce) {
		return errf(http.StatusBadGateway, codeUpstream, "Data Cloud could not be reached")
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return errf(http.StatusBadGateway, codeUpstream, "Data Cloud did not answer in time")
	}
	return errf(http.StatusBadGateway, codeUpstream, "the Data Cloud request failed")
}

func mapAPIError(ae *datacloud.APIError, op operation) *apiError {
	msg := ae.Message
	if msg == "" {
		msg = ae.ErrorCode
	}
	status := strconv.Itoa(ae.StatusCode)
	switch {
	case ae.StatusCode == http.StatusUnauthorized:
		return errf(http.StatusServiceUnavailable, codeNoToken, "Data Cloud rejected the token even after a refresh")
	case ae.StatusCode == http.StatusTooManyRequests:
		return errf(http.StatusTooManyRequests, codeThrottled, "Data Cloud is still throttling requests after retries; try again later")
	case ae.StatusCode >= 500 || ae.StatusCode == http.StatusForbidden:
		return errf(http.StatusBadGateway, codeUpstream, "Data Cloud answered %s: %s", status, clip(msg))
	case op == opNextBatch && (ae.StatusCode == http.StatusNotFound || ae.StatusCode == http.StatusGone || ae.StatusCode == http.StatusBadRequest):
		return errf(http.StatusGone, codeCursorExpired, "the cursor's result batch is no longer available (batches can be read once, within an hour); run the query again")
	case ae.StatusCode >= 400 && op == opMetadata:
		return errf(http.StatusBadRequest, codeInvalidRequest, "Data Cloud rejected the metadata request: %s", clip(msg))
	case ae.StatusCode >= 400:
		return errf(http.StatusBadRequest, codeQueryRejected, "Data Cloud rejected the query: %s", clip(msg))
	}
	return errf(http.StatusBadGateway, codeUpstream, "Data Cloud answered %s", status)
}

// clip bounds a Data Cloud message quoted in an answer.
func clip(s string) string {
	const max = 1000
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
