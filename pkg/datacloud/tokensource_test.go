package datacloud

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingSource issues "tok-N" tokens valid for ttl from now(); block, when set, holds every
// call until closed.
type countingSource struct {
	calls atomic.Int32
	ttl   time.Duration
	now   func() time.Time
	block chan struct{}
	err   error
	ctxs  chan context.Context
}

func (s *countingSource) Token(ctx context.Context) (Token, error) {
	n := s.calls.Add(1)
	if s.ctxs != nil {
		s.ctxs <- ctx
	}
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
	if s.err != nil {
		return Token{}, s.err
	}
	return Token{AccessToken: fmt.Sprintf("tok-%d", n), InstanceURL: "https://t.c360a.salesforce.com", ExpiresAt: s.now().Add(s.ttl)}, nil
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func TestCachedTokenSourceMargin(t *testing.T) {
	clk := newClock()
	src := &countingSource{ttl: time.Hour, now: clk.Now}
	c := NewCachedTokenSource(src, 5*time.Minute, WithCacheClock(clk.Now))
	ctx := context.Background()
	steps := []struct {
		name    string
		advance time.Duration
		want    string
	}{
		{"first call fetches", 0, "tok-1"},
		{"reused while fresh", 30 * time.Minute, "tok-1"},
		{"reused just outside the margin", 24*time.Minute + 59*time.Second, "tok-1"},
		{"refreshed inside the margin", time.Second, "tok-2"},
		{"new token reused", time.Minute, "tok-2"},
	}
	for _, st := range steps {
		clk.Add(st.advance)
		tok, err := c.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != st.want {
			t.Errorf("%s: got %s, want %s", st.name, tok.AccessToken, st.want)
		}
	}
}

func TestCachedTokenSourceSharesOneRefresh(t *testing.T) {
	clk := newClock()
	src := &countingSource{ttl: time.Hour, now: clk.Now, block: make(chan struct{})}
	c := NewCachedTokenSource(src, time.Minute, WithCacheClock(clk.Now))
	const n = 50
	var wg sync.WaitGroup
	got := make(chan string, n)
	for range n {
		wg.Go(func() {
			tok, err := c.Token(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- tok.AccessToken
		})
	}
	// Wait (bounded) until the one refresh started, then let it finish.
	deadline := time.After(10 * time.Second)
	for src.calls.Load() == 0 {
		select {
		case <-deadline:
			t.Fatal("no refresh started")
		case <-time.After(time.Millisecond):
		}
	}
	close(src.block)
	wg.Wait()
	close(got)
	for tok := range got {
		if tok != "tok-1" {
			t.Errorf("a caller got %q", tok)
		}
	}
	if calls := src.calls.Load(); calls != 1 {
		t.Errorf("refreshes = %d, want 1", calls)
	}
}

func TestCachedTokenSourceCallerContext(t *testing.T) {
	clk := newClock()
	src := &countingSource{ttl: time.Hour, now: clk.Now, block: make(chan struct{}), ctxs: make(chan context.Context, 1)}
	c := NewCachedTokenSource(src, time.Minute, WithCacheClock(clk.Now), WithRefreshTimeout(10*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Token(ctx)
		done <- err
	}()
	refreshCtx := <-src.ctxs
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "datacloud: token: ") {
		t.Fatalf("err = %v, want the caller's cancellation", err)
	}
	// The refresh itself goes on, detached from the cancelled caller, and has its own deadline.
	if refreshCtx.Err() != nil {
		t.Fatalf("refresh context ended with the caller: %v", refreshCtx.Err())
	}
	if _, ok := refreshCtx.Deadline(); !ok {
		t.Error("refresh context has no deadline")
	}
	close(src.block)
	tok, err := c.Token(context.Background())
	if err != nil || tok.AccessToken != "tok-1" || src.calls.Load() != 1 {
		t.Errorf("after the refresh: %v %v, calls %d", tok, err, src.calls.Load())
	}
	// A cancelled context still gets a cached token.
	if _, err := c.Token(ctx); err != nil {
		t.Errorf("cached token with a cancelled ctx: %v", err)
	}
}

func TestCachedTokenSourceCancelledBeforeRefresh(t *testing.T) {
	src := &countingSource{ttl: time.Hour, now: time.Now}
	c := NewCachedTokenSource(src, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Token(ctx); !errors.Is(err, context.Canceled) || src.calls.Load() != 0 {
		t.Fatalf("err = %v, calls = %d", err, src.calls.Load())
	}
}

func TestCachedTokenSourceInvalidate(t *testing.T) {
	clk := newClock()
	src := &countingSource{ttl: time.Hour, now: clk.Now}
	c := NewCachedTokenSource(src, time.Minute, WithCacheClock(clk.Now))
	ctx := context.Background()
	t1, _ := c.Token(ctx)
	c.Invalidate(Token{AccessToken: "some-other-token"})
	if tok, _ := c.Token(ctx); tok.AccessToken != "tok-1" {
		t.Fatalf("invalidating another token dropped the cache: %s", tok.AccessToken)
	}
	c.Invalidate(t1)
	t2, _ := c.Token(ctx)
	if t2.AccessToken != "tok-2" {
		t.Fatalf("after Invalidate got %s, want tok-2", t2.AccessToken)
	}
	// A late Invalidate of the old token (another caller's 401) keeps the new one.
	c.Invalidate(t1)
	if tok, _ := c.Token(ctx); tok.AccessToken != "tok-2" || src.calls.Load() != 2 {
		t.Errorf("stale Invalidate refreshed again: %s, calls %d", tok.AccessToken, src.calls.Load())
	}
}

// invalidatingSource records Invalidate calls passed down the chain.
type invalidatingSource struct {
	countingSource
	rejected []string
}

func (s *invalidatingSource) Invalidate(t Token) { s.rejected = append(s.rejected, t.AccessToken) }

func TestCachedTokenSourceForwardsInvalidate(t *testing.T) {
	src := &invalidatingSource{countingSource: countingSource{ttl: time.Hour, now: time.Now}}
	c := NewCachedTokenSource(src, time.Minute)
	tok, _ := c.Token(context.Background())
	c.Invalidate(tok)
	if len(src.rejected) != 1 || src.rejected[0] != "tok-1" {
		t.Errorf("inner source saw %v", src.rejected)
	}
}

func TestCachedTokenSourceRefreshFailure(t *testing.T) {
	clk := newClock()
	boom := errors.New("datacloud: login: invalid_grant: authentication failure")
	src := &countingSource{ttl: time.Hour, now: clk.Now}
	c := NewCachedTokenSource(src, 10*time.Minute, WithCacheClock(clk.Now))
	ctx := context.Background()
	if _, err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	src.err = boom
	clk.Add(55 * time.Minute) // inside the margin, not expired
	if tok, err := c.Token(ctx); err != nil || tok.AccessToken != "tok-1" {
		t.Fatalf("within margin a failed refresh should keep the token: %v %v", tok, err)
	}
	clk.Add(10 * time.Minute) // expired
	if _, err := c.Token(ctx); !errors.Is(err, boom) {
		t.Fatalf("expired: err = %v, want the refresh error", err)
	}
}

func TestCachedTokenSourceInitialToken(t *testing.T) {
	src := &countingSource{ttl: time.Hour, now: time.Now}
	seed := Token{AccessToken: "seeded", ExpiresAt: time.Now().Add(time.Hour)}
	c := NewCachedTokenSource(src, time.Minute, WithInitialToken(seed))
	if tok, _ := c.Token(context.Background()); tok.AccessToken != "seeded" || src.calls.Load() != 0 {
		t.Errorf("got %s after %d calls", tok.AccessToken, src.calls.Load())
	}
}

func TestTokenExpiresWithin(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		tok  Token
		d    time.Duration
		want bool
	}{
		{"empty token", Token{}, 0, true},
		{"no expiry", Token{AccessToken: "a"}, time.Hour, false},
		{"fresh", Token{AccessToken: "a", ExpiresAt: now.Add(time.Hour)}, time.Minute, false},
		{"inside margin", Token{AccessToken: "a", ExpiresAt: now.Add(time.Minute)}, time.Minute, true},
		{"expired", Token{AccessToken: "a", ExpiresAt: now.Add(-time.Second)}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tok.ExpiresWithin(tt.d, now); got != tt.want {
				t.Errorf("ExpiresWithin = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTokenNeverPrintsTheSecret(t *testing.T) {
	tok := Token{AccessToken: "eyJsecret-token-value", InstanceURL: "https://t.c360a.salesforce.com", ExpiresAt: time.Now()}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("t", "token", tok)
	for name, s := range map[string]string{"%v": fmt.Sprintf("%v", tok), "%+v": fmt.Sprintf("%+v", tok),
		"%#v": fmt.Sprintf("%#v", tok), "slog": buf.String()} {
		if strings.Contains(s, "secret-token") || !strings.Contains(s, "t.c360a.salesforce.com") {
			t.Errorf("%s: %s", name, s)
		}
	}
}
