package tokenstore

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
)

// DefaultRefreshMargin is DATACLOUD_REFRESH_MARGIN's default: a scheduled run refreshes when
// the stored token expires within it.
const DefaultRefreshMargin = 45 * time.Minute

// Result is tokenrefresh's answer. It never carries the token.
type Result struct {
	Refreshed   bool   `json:"refreshed"`
	ExpiresAt   string `json:"expires_at"`
	InstanceURL string `json:"instance_url"`
}

// EventError is an invocation event tokenrefresh cannot read.
type EventError struct{ Reason string }

func (e *EventError) Error() string { return "datacloud: tokenrefresh: invalid event: " + e.Reason }

// Handler is the tokenrefresh function (contract §3): an EventBridge scheduled event, or any
// other JSON such as {}, refreshes only when the stored token is missing, unreadable or
// expires within Margin; {"force": true} always refreshes. On failure the stored token is
// untouched and the error is a *RefreshError naming the step.
type Handler struct {
	Store      *Store
	Refresher  *Refresher
	Margin     time.Duration    // DefaultRefreshMargin when zero
	Now        func() time.Time // time.Now when nil
	Log        *slog.Logger     // discarded when nil
	Metrics    *obs.Metrics     // flushed to MetricsOut after each invocation
	MetricsOut io.Writer
}

// Handle runs one invocation.
func (h *Handler) Handle(ctx context.Context, event json.RawMessage) (Result, error) {
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if h.Metrics != nil && h.MetricsOut != nil {
		defer func() { _ = h.Metrics.Flush(h.MetricsOut) }()
	}
	force, err := parseForce(event)
	if err != nil {
		return Result{}, err
	}
	reason := "forced"
	if !force {
		res, fresh, why := h.check(ctx)
		if fresh {
			log.InfoContext(ctx, "token still fresh, not refreshed", "expires_at", res.ExpiresAt, "margin", h.margin().String())
			return res, nil
		}
		reason = why
	}
	log.InfoContext(ctx, "refreshing token", "reason", reason)
	start := time.Now()
	tok, err := h.Refresher.Refresh(ctx)
	if err != nil {
		log.ErrorContext(ctx, "token refresh failed", "error", err.Error(), "duration_ms", time.Since(start).Milliseconds())
		return Result{}, err
	}
	h.Metrics.Count(obs.TokenRefreshes, 1)
	res := Result{Refreshed: true, ExpiresAt: formatTime(tok.ExpiresAt), InstanceURL: tok.InstanceURL}
	log.InfoContext(ctx, "token refreshed", "expires_at", res.ExpiresAt, "instance_url", res.InstanceURL,
		"duration_ms", time.Since(start).Milliseconds())
	return res, nil
}

// check reads the stored token: fresh when it does not expire within the margin.
func (h *Handler) check(ctx context.Context) (res Result, fresh bool, reason string) {
	tok, err := h.Store.Get(ctx)
	switch {
	case errors.Is(err, ErrNotStored):
		return Result{}, false, "no token is stored"
	case err != nil:
		return Result{}, false, "stored token unreadable: " + err.Error()
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	if tok.ExpiresWithin(h.margin(), now()) {
		return Result{}, false, "stored token expires within " + h.margin().String()
	}
	return Result{ExpiresAt: formatTime(tok.ExpiresAt), InstanceURL: tok.InstanceURL}, true, ""
}

func (h *Handler) margin() time.Duration {
	if h.Margin > 0 {
		return h.Margin
	}
	return DefaultRefreshMargin
}

// parseForce reads {"force": true}. Anything that is not a JSON object (an EventBridge
// scheduled event is an object without "force") counts as scheduled.
func parseForce(event json.RawMessage) (bool, error) {
	var obj map[string]json.RawMessage
	if len(event) == 0 || json.Unmarshal(event, &obj) != nil {
		return false, nil
	}
	raw, ok := obj["force"]
	if !ok || string(raw) == "null" {
		return false, nil
	}
	var force bool
	if err := json.Unmarshal(raw, &force); err != nil {
		return false, &EventError{Reason: `"force" must be true or false`}
	}
	return force, nil
}
