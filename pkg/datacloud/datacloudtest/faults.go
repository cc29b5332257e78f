package datacloudtest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Fault makes matching requests fail (or slow down) before the emulator handles them.
type Fault struct {
	// Route is a Go ServeMux pattern such as "PUT /api/v1/ingest/jobs/{id}/batches" or
	// "POST /services/oauth2/token"; empty matches every request.
	Route string
	// Status, when non-zero, is answered instead of handling the request.
	Status int
	// RetryAfter is the Retry-After header of the answer; empty leaves it out.
	RetryAfter string
	// Body is the answer's body; empty means the tenant's JSON error body for Status.
	// A body not starting with '{' or '[' is sent as text/html (a gateway page).
	Body string
	// Times is how many requests the fault hits; 0 means every matching request.
	Times int
	// Reset closes the connection without an answer, after reading ResetAfterBytes of the body.
	Reset           bool
	ResetAfterBytes int64
	// Delay holds the request this long (real time) before it goes on or fails.
	Delay time.Duration
	// RevokeToken revokes the request's bearer token first; with Status 0 the request then
	// gets the emulator's own 401, as when a token is revoked mid-run.
	RevokeToken bool
}

type faultState struct {
	f    Fault
	mux  *http.ServeMux
	left int // < 0: forever
}

// InjectFault adds a fault; faults are tried in the order they were added.
func (s *Server) InjectFault(f Fault) (err error) {
	fs := &faultState{f: f, left: f.Times}
	if f.Times == 0 {
		fs.left = -1
	}
	if f.Route != "" {
		fs.mux = http.NewServeMux()
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("datacloudtest: fault route %q: %v", f.Route, r)
			}
		}()
		fs.mux.HandleFunc(f.Route, func(http.ResponseWriter, *http.Request) {})
	}
	s.mu.Lock()
	s.faults = append(s.faults, fs)
	s.mu.Unlock()
	return nil
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// takeFault returns the first live fault matching r and uses one of its hits.
func (s *Server) takeFault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fs := range s.faults {
		if fs.left == 0 {
			continue
		}
		if fs.mux != nil {
			if _, pattern := fs.mux.Handler(r); pattern == "" {
				continue
			}
		}
		if fs.left > 0 {
			fs.left--
		}
		f := fs.f
		return &f
	}
	return nil
}

// applyFault reports whether a fault answered the request.
func (s *Server) applyFault(w *statusRecorder, r *http.Request) bool {
	f := s.takeFault(r)
	if f == nil {
		return false
	}
	if f.RevokeToken {
		s.Revoke(bearer(r.Header.Get("Authorization")))
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			w.reset = true // the client gave up: no answer, logged as status 0
			return true
		}
	}
	if f.Reset {
		if f.ResetAfterBytes > 0 {
			io.CopyN(io.Discard, r.Body, f.ResetAfterBytes) //nolint:errcheck // a short body is fine
		}
		w.reset = true
		w.logRequest()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler) // no hijacking (HTTP/2, recorder): abort the stream instead
		}
		conn.Close()
		return true
	}
	if f.Status == 0 {
		return false
	}
	// Drain the body so the client reads the answer rather than a broken pipe.
	io.Copy(io.Discard, io.LimitReader(r.Body, 1<<30)) //nolint:errcheck // best effort
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.gatewayHeaders(w)
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch body := strings.TrimSpace(f.Body); {
	case body == "" && f.Status == http.StatusTooManyRequests:
		writeJSON(w, f.Status, springBody{Timestamp: s.springTimestamp(), Error: "Too many requests", Message: "Too many requests"})
	case body == "":
		s.springError(w, f.Status, http.StatusText(f.Status))
	case body[0] == '{' || body[0] == '[':
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(f.Status)
		io.WriteString(w, f.Body) //nolint:errcheck // the client may have gone
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(f.Status)
		io.WriteString(w, f.Body) //nolint:errcheck // the client may have gone
	}
	return true
}
