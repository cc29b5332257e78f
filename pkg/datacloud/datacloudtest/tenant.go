package datacloudtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Rate-limit headers as recorded on tenant responses (500 per second, 1000 per day).
const (
	rateLimitHeader = "500, 500;w=1, 1000;w=86400"
	ratePerSecond   = 500
)

type rateWindow struct {
	second int64
	count  int
}

// slidingWindow remembers when the last len(starts) accepted requests arrived, oldest at next
// once the ring is full.
type slidingWindow struct {
	starts []time.Time
	next   int
	full   bool
}

// admit records a request arriving at now and reports whether it fits: fewer than
// len(starts) requests were accepted in the second before now. An empty window admits all.
func (sw *slidingWindow) admit(now time.Time) bool {
	if len(sw.starts) == 0 {
		return true
	}
	if sw.full && now.Sub(sw.starts[sw.next]) < time.Second {
		return false
	}
	sw.starts[sw.next] = now
	sw.next = (sw.next + 1) % len(sw.starts)
	sw.full = sw.full || sw.next == 0
	return true
}

// streamingLimit answers 429 to a streaming ingestion request over
// Options.StreamingRequestsPerSecond.
func (s *Server) streamingLimit(h tenantHandler) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t *token) {
		s.mu.Lock()
		ok := s.ingest.admit(s.nowLocked())
		s.mu.Unlock()
		if ok {
			h(w, r, t)
			return
		}
		io.Copy(io.Discard, io.LimitReader(r.Body, int64(s.Options().MaxStreamingBytes))) //nolint:errcheck // best effort, as for an injected 429
		w.Header().Set("x-ratelimit-remaining", "0")
		writeJSON(w, http.StatusTooManyRequests, springBody{Timestamp: s.springTimestamp(), Error: "Too many requests", Message: "Too many requests"})
	}
}

// tenantHandler is a tenant API handler that receives the caller's Data Cloud token.
type tenantHandler func(w http.ResponseWriter, r *http.Request, t *token)

// tenantAPI checks the Data Cloud token and adds the gateway's headers.
func (s *Server) tenantAPI(h tenantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.gatewayHeaders(w)
		value := bearer(r.Header.Get("Authorization"))
		s.mu.Lock()
		t, ok := s.tenant[value]
		now := s.nowLocked()
		s.mu.Unlock()
		switch {
		case value == "":
			s.unauthorized(w, "UNAUTHENTICATED: Missing or malformed Authorization header")
		case !ok || t.revoked:
			s.unauthorized(w, "UNAUTHENTICATED: Invalid JWT")
		case !now.Before(t.expires):
			s.unauthorized(w, "UNAUTHENTICATED: Invalid JWT (not before or expired)")
		default:
			h(w, r, t)
		}
	}
}

func (s *Server) gatewayHeaders(w http.ResponseWriter) {
	s.mu.Lock()
	sec := s.nowLocked().Unix()
	if s.rate.second != sec {
		s.rate = rateWindow{second: sec}
	}
	s.rate.count++
	remaining := max(ratePerSecond-s.rate.count, 0)
	trace := s.randString(32, "0123456789abcdef")
	s.mu.Unlock()
	h := w.Header()
	h.Set("x-ratelimit-limit", rateLimitHeader)
	h.Set("x-ratelimit-remaining", strconv.Itoa(remaining))
	h.Set("x-ratelimit-reset", "1")
	h.Set("x-trace-id", trace)
	h.Set("server", "istio-envoy")
}

// springBody is the tenant services' error body.
type springBody struct {
	Timestamp         string        `json:"timestamp"`
	Error             string        `json:"error"`
	Message           string        `json:"message"`
	InternalErrorCode string        `json:"internalErrorCode,omitempty"`
	Details           *springDetail `json:"details,omitempty"`
}

type springDetail struct {
	Status     string `json:"status"`
	StatusCode int    `json:"statusCode"`
}

func (s *Server) springTimestamp() string {
	return s.now().Format("2006-01-02T15:04:05.000+0000")
}

// springError answers {"timestamp","error","message","internalErrorCode","details"}.
func (s *Server) springError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, springBody{
		Timestamp: s.springTimestamp(), Error: http.StatusText(status), Message: message,
		InternalErrorCode: "COMMON_ERROR_GENERIC",
		Details:           &springDetail{Status: message, StatusCode: status},
	})
}

func (s *Server) springErrorf(w http.ResponseWriter, status int, format string, args ...any) {
	s.springError(w, status, fmt.Sprintf(format, args...))
}

func (s *Server) unauthorized(w http.ResponseWriter, detail string) {
	writeJSON(w, http.StatusUnauthorized, springBody{
		Timestamp: s.springTimestamp(), Error: "Unauthorized",
		Message: "Authorization header verification failed", InternalErrorCode: "COMMON_ERROR_GENERIC",
		Details: &springDetail{Status: detail, StatusCode: http.StatusUnauthorized},
	})
}

// readJSON decodes a JSON request body of at most limit bytes into v.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		s.springErrorf(w, http.StatusBadRequest, "invalid JSON body: %v", err)
		return false
	}
	return true
}

// pageParams reads limit (1..maxLimit, default def) and offset (≥ 0) or answers 400.
func (s *Server) pageParams(w http.ResponseWriter, q url.Values, def, maxLimit int) (limit, offset int, ok bool) {
	limit = def
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			s.springErrorf(w, http.StatusBadRequest, "invalid limit %q: must be between 1 and %d", v, maxLimit)
			return 0, 0, false
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.springErrorf(w, http.StatusBadRequest, "invalid offset %q", v)
			return 0, 0, false
		}
		offset = n
	}
	return limit, offset, true
}

// timestampMicros formats like the bulk API: 2021-10-28T17:14:58.692891Z.
func timestampMicros(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }
