package datacloud

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Token is a Data Cloud tenant token: what the a360 exchange returns, normalised.
type Token struct {
	AccessToken string
	InstanceURL string // always "https://host" (or http://loopback), never a bare host
	TokenType   string // "Bearer"
	Dataspace   string
	IssuedAt    time.Time
	ExpiresAt   time.Time // zero means unknown: the token is used until rejected
}

// ExpiresWithin reports whether t is missing or expires within d of now.
func (t Token) ExpiresWithin(d time.Duration, now time.Time) bool {
	if t.AccessToken == "" {
		return true
	}
	return !t.ExpiresAt.IsZero() && !now.Add(d).Before(t.ExpiresAt)
}

// String describes the token without printing it.
func (t Token) String() string {
	return fmt.Sprintf("Token{instance_url=%s, dataspace=%s, expires_at=%s, access_token=[redacted]}",
		t.InstanceURL, t.Dataspace, t.ExpiresAt.UTC().Format(time.RFC3339))
}

// GoString keeps %#v from printing the token.
func (t Token) GoString() string { return t.String() }

// LogValue keeps slog from printing the token.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("instance_url", t.InstanceURL), slog.Time("expires_at", t.ExpiresAt))
}

// TokenSource supplies Data Cloud tokens. Implementations must be safe for concurrent use.
type TokenSource interface {
	Token(ctx context.Context) (Token, error)
}

// Invalidator is implemented by token sources that cache: the client calls Invalidate with
// the token Data Cloud rejected (401) before asking for a new one.
type Invalidator interface {
	Invalidate(rejected Token)
}

// TokenSourceFunc adapts a function to TokenSource.
type TokenSourceFunc func(ctx context.Context) (Token, error)

// Token calls f.
func (f TokenSourceFunc) Token(ctx context.Context) (Token, error) { return f(ctx) }

// StaticTokenSource always returns t (tests, one-shot tools).
func StaticTokenSource(t Token) TokenSource {
	return TokenSourceFunc(func(context.Context) (Token, error) { return t, nil })
}

// DefaultRefreshTimeout bounds one refresh of a CachedTokenSource.
const DefaultRefreshTimeout = 30 * time.Second

// CachedTokenSource reuses a token until it expires within a margin, like
// oauth2.ReuseTokenSource, but context-aware: concurrent callers share one refresh, the
// refresh runs detached from any single caller's cancellation (bounded by its own timeout),
// and each caller stops waiting when its own context ends.
type CachedTokenSource struct {
	src     TokenSource
	margin  time.Duration
	now     func() time.Time
	timeout time.Duration

	mu       sync.Mutex
	tok      Token
	have     bool
	inflight *refreshCall
}

type refreshCall struct {
	done chan struct{}
	tok  Token
	err  error
}

// CacheOption configures a CachedTokenSource.
type CacheOption func(*CachedTokenSource)

// WithCacheClock sets the clock used to judge expiry (tests).
func WithCacheClock(now func() time.Time) CacheOption {
	return func(c *CachedTokenSource) { c.now = now }
}

// WithRefreshTimeout bounds a refresh (default DefaultRefreshTimeout).
func WithRefreshTimeout(d time.Duration) CacheOption {
	return func(c *CachedTokenSource) { c.timeout = d }
}

// WithInitialToken seeds the cache, e.g. with a token read from the token secret.
func WithInitialToken(t Token) CacheOption {
	return func(c *CachedTokenSource) { c.tok, c.have = t, t.AccessToken != "" }
}

// NewCachedTokenSource wraps src; a cached token is refreshed once it expires within margin.
func NewCachedTokenSource(src TokenSource, margin time.Duration, opts ...CacheOption) *CachedTokenSource {
	c := &CachedTokenSource{src: src, margin: margin, now: time.Now, timeout: DefaultRefreshTimeout}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Token returns the cached token, or waits for a (shared) refresh. If a refresh fails while
// the cached token has not yet expired, the cached token is returned: the margin exists so
// that a failing refresh does not fail calls.
func (c *CachedTokenSource) Token(ctx context.Context) (Token, error) {
	c.mu.Lock()
	if c.have && !c.tok.ExpiresWithin(c.margin, c.now()) {
		t := c.tok
		c.mu.Unlock()
		return t, nil
	}
	if err := ctx.Err(); err != nil {
		c.mu.Unlock()
		return Token{}, fmt.Errorf("datacloud: token: %w", err)
	}
	call := c.inflight
	if call == nil {
		call = &refreshCall{done: make(chan struct{})}
		c.inflight = call
		go c.refresh(context.WithoutCancel(ctx), call)
	}
	c.mu.Unlock()

	select {
	case <-call.done:
		return call.tok, call.err
	case <-ctx.Done():
		return Token{}, fmt.Errorf("datacloud: token: %w", ctx.Err())
	}
}

func (c *CachedTokenSource) refresh(ctx context.Context, call *refreshCall) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	tok, err := c.src.Token(ctx)

	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		c.tok, c.have = tok, true
	case c.have && !c.tok.ExpiresWithin(0, c.now()):
		tok, err = c.tok, nil
	}
	call.tok, call.err = tok, err
	c.inflight = nil
	close(call.done)
}

// Invalidate drops the cached token if it is the rejected one (a newer token fetched by a
// concurrent caller is kept), and passes the call on to src when it caches too.
func (c *CachedTokenSource) Invalidate(rejected Token) {
	c.mu.Lock()
	if c.have && c.tok.AccessToken == rejected.AccessToken {
		c.tok, c.have = Token{}, false
	}
	c.mu.Unlock()
	if inv, ok := c.src.(Invalidator); ok {
		inv.Invalidate(rejected)
	}
}
