package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// Defaults of a SecretTokenSource.
const (
	// DefaultMargin is how long before expires_at a cached token stops being used.
	DefaultMargin = 2 * time.Minute
	// DefaultRefreshTimeout bounds one shared read-or-refresh, whoever waits for it.
	DefaultRefreshTimeout = 30 * time.Second
	// recheckInterval spaces secret re-reads while only a nearly expired token is available
	// (no credentials to refresh it), so every call does not cost a GetSecretValue.
	recheckInterval = 10 * time.Second
)

// NoTokenError says no usable Data Cloud token exists: the stored one is missing, malformed,
// expired or was rejected, and it could not be refreshed (no credentials configured, or the
// refresh failed). querytrigger answers 503 for it.
type NoTokenError struct {
	Reason string // safe to show: never holds a token or key
	Err    error  // the refresh or read failure, if any
}

// Error reads like "datacloud: token: no usable token: stored token was rejected and no credentials are configured".
func (e *NoTokenError) Error() string {
	s := "datacloud: token: no usable token: " + e.Reason
	if e.Err != nil {
		s += ": " + strings.TrimPrefix(e.Err.Error(), "datacloud: ")
	}
	return s
}

// Unwrap returns the underlying failure.
func (e *NoTokenError) Unwrap() error { return e.Err }

// SecretTokenSource is a datacloud.TokenSource and datacloud.Invalidator backed by the token
// secret (contract §3). It reads the secret once per warm container and keeps the token
// until margin before expires_at. When the stored token is unusable and a Refresher is
// configured, it refreshes (and stores) the token itself. Concurrent callers share one
// read-or-refresh, which runs detached from any single caller's cancellation.
type SecretTokenSource struct {
	store     *Store
	refresher *Refresher // nil: no credentials configured
	margin    time.Duration
	timeout   time.Duration
	now       func() time.Time
	log       *slog.Logger
	metrics   *obs.Metrics

	mu        sync.Mutex
	tok       datacloud.Token
	have      bool
	recheckAt time.Time // when have but within margin: re-read after this
	rejected  string    // the access token Data Cloud last rejected
	inflight  *flight
}

type flight struct {
	done chan struct{}
	tok  datacloud.Token
	err  error
}

// SourceOption configures a SecretTokenSource.
type SourceOption func(*SecretTokenSource)

// WithMargin sets how long before expiry a token is no longer used (default DefaultMargin).
func WithMargin(d time.Duration) SourceOption { return func(s *SecretTokenSource) { s.margin = d } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) SourceOption { return func(s *SecretTokenSource) { s.now = now } }

// WithLogger sets the logger for refresh events.
func WithLogger(l *slog.Logger) SourceOption { return func(s *SecretTokenSource) { s.log = l } }

// WithMetrics counts TokenRefreshes.
func WithMetrics(m *obs.Metrics) SourceOption { return func(s *SecretTokenSource) { s.metrics = m } }

// WithTimeout bounds one shared read-or-refresh (default DefaultRefreshTimeout).
func WithTimeout(d time.Duration) SourceOption { return func(s *SecretTokenSource) { s.timeout = d } }

// NewSecretTokenSource returns a token source over store. refresher may be nil (the
// consumer has no credentials secret and depends on tokenrefresh).
func NewSecretTokenSource(store *Store, refresher *Refresher, opts ...SourceOption) *SecretTokenSource {
	s := &SecretTokenSource{store: store, refresher: refresher, margin: DefaultMargin,
		timeout: DefaultRefreshTimeout, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Token returns the cached token, or waits for the shared read-or-refresh. Errors are
// *NoTokenError, or the caller's context error.
func (s *SecretTokenSource) Token(ctx context.Context) (datacloud.Token, error) {
	s.mu.Lock()
	now := s.now()
	if s.have && (!s.tok.ExpiresWithin(s.margin, now) || (now.Before(s.recheckAt) && !s.tok.ExpiresWithin(0, now))) {
		tok := s.tok
		s.mu.Unlock()
		return tok, nil
	}
	f := s.inflight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		s.inflight = f
		rejected := s.rejected
		// Detached: a caller giving up must not cancel the refresh the others wait for.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		go func() {
			defer cancel()
			s.finish(fctx, f, rejected)
		}()
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return datacloud.Token{}, fmt.Errorf("datacloud: token: %w", ctx.Err())
	}
}

func (s *SecretTokenSource) finish(ctx context.Context, f *flight, rejected string) {
	tok, nearExpiry, err := s.obtain(ctx, rejected)
	s.mu.Lock()
	if err == nil && tok.AccessToken != s.rejected {
		s.tok, s.have = tok, true
		s.recheckAt = time.Time{}
		if nearExpiry {
			s.recheckAt = s.now().Add(recheckInterval)
		}
	}
	s.inflight = nil
	s.mu.Unlock()
	f.tok, f.err = tok, err
	close(f.done)
}

// obtain reads the secret and, if its token is unusable, refreshes. nearExpiry says the
// token returned is within the margin (no refresh was possible), so it is re-checked soon.
func (s *SecretTokenSource) obtain(ctx context.Context, rejected string) (tok datacloud.Token, nearExpiry bool, err error) {
	now := s.now()
	stored, readErr := s.store.Get(ctx)
	var reason string
	switch {
	case readErr != nil && errors.Is(readErr, ErrNotStored):
		reason = "no token is stored"
	case readErr != nil && isMalformed(readErr):
		reason = "the stored token is malformed"
	case readErr != nil:
		reason = "the token secret could not be read"
	case rejected != "" && stored.AccessToken == rejected:
		reason = "the stored token was rejected by Data Cloud"
	case stored.ExpiresWithin(0, now):
		reason = "the stored token has expired"
	case stored.ExpiresWithin(s.margin, now):
		reason = "the stored token expires within " + s.margin.String()
	default:
		return stored, false, nil
	}
	// stillValid: the stored token may be used for now if nothing better can be had.
	stillValid := readErr == nil && stored.AccessToken != rejected && !stored.ExpiresWithin(0, now)
	if s.refresher == nil {
		if stillValid {
			return stored, true, nil
		}
		return datacloud.Token{}, false, &NoTokenError{Reason: reason + " and no credentials are configured", Err: unlessParse(readErr)}
	}
	s.log.InfoContext(ctx, "refreshing data cloud token", "reason", reason, "secret", s.store.SecretID())
	start := time.Now()
	fresh, err := s.refresher.Refresh(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "token refresh failed", "reason", reason, "error", err.Error())
		if stillValid {
			return stored, true, nil
		}
		return datacloud.Token{}, false, &NoTokenError{Reason: reason + " and the refresh failed", Err: err}
	}
	s.metrics.Count(obs.TokenRefreshes, 1)
	s.log.InfoContext(ctx, "data cloud token refreshed", "instance_url", fresh.InstanceURL,
		"expires_at", fresh.ExpiresAt.Format(time.RFC3339), "duration_ms", time.Since(start).Milliseconds())
	return fresh, false, nil
}

// Invalidate records that Data Cloud rejected tok (a 401): the next Token re-reads the
// secret and does not accept the same token again.
func (s *SecretTokenSource) Invalidate(rejected datacloud.Token) {
	if rejected.AccessToken == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected = rejected.AccessToken
	if s.have && s.tok.AccessToken == rejected.AccessToken {
		s.have = false
	}
}

func isMalformed(err error) bool {
	var me *MalformedError
	return errors.As(err, &me)
}

// unlessParse keeps AWS read failures (useful: access denied, throttling) and drops the
// expected missing/malformed ones, which the reason already says.
func unlessParse(err error) error {
	if err == nil || errors.Is(err, ErrNotStored) || isMalformed(err) {
		return nil
	}
	return err
}
