package datacloud

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestExponentialBackoff(t *testing.T) {
	e503 := &APIError{StatusCode: 503}
	tests := []struct {
		name    string
		policy  ExponentialBackoff
		attempt int
		err     error
		want    time.Duration
		wantOK  bool
	}{
		{"first retry, top of range", ExponentialBackoff{MaxAttempts: 5, Base: time.Second, Cap: 20 * time.Second, Rand: one}, 1, e503, time.Second, true},
		{"doubles", ExponentialBackoff{MaxAttempts: 5, Base: time.Second, Cap: 20 * time.Second, Rand: one}, 3, e503, 4 * time.Second, true},
		{"capped", ExponentialBackoff{MaxAttempts: 50, Base: time.Second, Cap: 20 * time.Second, Rand: one}, 40, e503, 20 * time.Second, true},
		{"full jitter", ExponentialBackoff{MaxAttempts: 5, Base: time.Second, Cap: 20 * time.Second, Rand: half}, 2, e503, time.Second, true},
		{"no cap does not overflow", ExponentialBackoff{MaxAttempts: 200, Base: time.Second, Rand: one}, 150, e503, time.Second << 33, true},
		{"jitter can be zero", ExponentialBackoff{MaxAttempts: 5, Base: time.Second, Rand: zero}, 2, e503, 0, true},
		{"retry-after wins over jitter", ExponentialBackoff{MaxAttempts: 5, Base: time.Second, Cap: 20 * time.Second, Rand: zero}, 1,
			&APIError{StatusCode: 429, RetryAfter: 3 * time.Second}, 3 * time.Second, true},
		{"retry-after above the cap", ExponentialBackoff{MaxAttempts: 5, Base: time.Second, Cap: 2 * time.Second, Rand: one}, 1,
			&RateLimitError{&APIError{StatusCode: 429, RetryAfter: 30 * time.Second}}, 30 * time.Second, true},
		{"attempts exhausted", ExponentialBackoff{MaxAttempts: 3, Base: time.Second, Rand: one}, 3, e503, 0, false},
		{"not retryable", ExponentialBackoff{MaxAttempts: 3, Base: time.Second, Rand: one}, 1, &APIError{StatusCode: 400}, 0, false},
		{"outcome unknown", ExponentialBackoff{MaxAttempts: 3, Base: time.Second, Rand: one}, 1, &outcomeUnknownError{op: "x", cause: e503}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := tt.policy.Backoff(tt.attempt, tt.err)
			if d != tt.want || ok != tt.wantOK {
				t.Errorf("Backoff = %v, %v; want %v, %v", d, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func one() float64  { return 1 }
func half() float64 { return 0.5 }
func zero() float64 { return 0 }

func TestDefaultRetryPolicyRange(t *testing.T) {
	p := DefaultRetryPolicy()
	for attempt := 1; attempt < DefaultMaxAttempts; attempt++ {
		for range 20 {
			d, ok := p.Backoff(attempt, &APIError{StatusCode: 500})
			if !ok || d < 0 || d > DefaultBackoffCap {
				t.Fatalf("attempt %d: %v %v", attempt, d, ok)
			}
		}
	}
	if _, ok := p.Backoff(DefaultMaxAttempts, &APIError{StatusCode: 500}); ok {
		t.Error("the 5th failed attempt must be the last")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-3", 0},
		{"Wed, 21 Oct 2015 07:28:30 GMT", 30 * time.Second},
		{"Wed, 21 Oct 2015 07:27:00 GMT", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSleepCtx(t *testing.T) {
	tests := []struct {
		name   string
		ctx    func() (context.Context, context.CancelFunc)
		d      time.Duration
		wantOK bool
	}{
		{"short wait", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, time.Millisecond, true},
		{"zero wait", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, 0, true},
		{"past the deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Minute)
		}, time.Hour, false},
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, time.Hour, false},
		{"cancelled zero wait", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			if got := sleepCtx(ctx, tt.d); got != tt.wantOK {
				t.Errorf("sleepCtx = %v, want %v", got, tt.wantOK)
			}
		})
	}
	if backoffWait(context.Background(), nil, 1, errors.New("x")) {
		t.Error("a nil policy must not retry")
	}
}
