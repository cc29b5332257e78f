package datacloud

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy decides whether a failed call is tried again.
type RetryPolicy interface {
	// Backoff says whether attempt (1-based, the attempt that just failed) may be retried
	// after err, and after how long.
	Backoff(attempt int, err error) (time.Duration, bool)
}

// Defaults of DefaultRetryPolicy.
const (
	DefaultMaxAttempts = 5
	DefaultBackoffBase = 500 * time.Millisecond
	DefaultBackoffCap  = 20 * time.Second
)

// ExponentialBackoff retries errors IsRetryable accepts, up to MaxAttempts attempts in all,
// waiting a random time in [0, min(Cap, Base·2^(attempt-1))) ("full jitter"), but at least
// the server's Retry-After. MaxAttempts <= 1 never retries.
type ExponentialBackoff struct {
	MaxAttempts int
	Base, Cap   time.Duration
	Rand        func() float64 // in [0,1); nil means math/rand
}

// Backoff implements RetryPolicy.
func (b ExponentialBackoff) Backoff(attempt int, err error) (time.Duration, bool) {
	if attempt >= b.MaxAttempts || !IsRetryable(err) {
		return 0, false
	}
	d := b.Base
	for i := 1; i < attempt && (b.Cap <= 0 || d < b.Cap) && d < math.MaxInt64/2; i++ {
		d *= 2
	}
	if b.Cap > 0 && d > b.Cap {
		d = b.Cap
	}
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	d = time.Duration(r() * float64(d))
	if ra := retryAfterOf(err); ra > d {
		d = ra
	}
	return d, true
}

// DefaultRetryPolicy retries 5 attempts in all, 500ms base, 20s cap.
func DefaultRetryPolicy() RetryPolicy {
	return ExponentialBackoff{MaxAttempts: DefaultMaxAttempts, Base: DefaultBackoffBase, Cap: DefaultBackoffCap}
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// sleepCtx waits d, unless ctx ends first or the wait would pass ctx's deadline; it reports
// whether the full wait happened.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	// Deadlines are wall-clock times, so this compares with time.Now, not an injected clock.
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
		return false
	}
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// backoffWait asks policy about a failed attempt and waits; it reports whether to retry.
func backoffWait(ctx context.Context, policy RetryPolicy, attempt int, err error) bool {
	if policy == nil {
		return false
	}
	d, ok := policy.Backoff(attempt, err)
	return ok && sleepCtx(ctx, d)
}
