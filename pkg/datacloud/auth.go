package datacloud

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// OAuth constants (datacloud-api.md §1, §2).
const (
	jwtBearerGrant     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	cdpExchangeGrant   = "urn:salesforce:grant-type:external:cdp"
	accessTokenType    = "urn:ietf:params:oauth:token-type:access_token"
	loginPath          = "/services/oauth2/token"
	exchangePath       = "/services/a360/token"
	assertionLifetime  = 2 * time.Minute // Salesforce accepts at most ~3 minutes
	defaultTokenExpiry = 7200 * time.Second
)

// Authenticator gets Data Cloud tokens with the JWT bearer flow and the a360 exchange. It
// does not cache: every Token call logs in anew (wrap it in a CachedTokenSource).
type Authenticator struct {
	creds Credentials
	key   *rsa.PrivateKey
	hc    *http.Client
	hosts AllowedHosts
	now   func() time.Time
	retry RetryPolicy
}

// AuthOption configures an Authenticator.
type AuthOption func(*Authenticator)

// WithAuthHTTPClient sets the HTTP client for the login and exchange calls.
func WithAuthHTTPClient(hc *http.Client) AuthOption { return func(a *Authenticator) { a.hc = hc } }

// WithAuthAllowedHosts sets the hosts that login, core instance and tenant URLs may point at.
func WithAuthAllowedHosts(h AllowedHosts) AuthOption { return func(a *Authenticator) { a.hosts = h } }

// WithAuthClock sets the clock for the assertion's iat/exp and the token's expiry.
func WithAuthClock(now func() time.Time) AuthOption { return func(a *Authenticator) { a.now = now } }

// WithAuthRetry sets the retry policy for the whole login+exchange flow. Each retry starts
// over with a fresh assertion: a core token may be exchanged only once.
func WithAuthRetry(p RetryPolicy) AuthOption { return func(a *Authenticator) { a.retry = p } }

// NewAuthenticator validates creds (including the private key and the login URL's host).
func NewAuthenticator(creds Credentials, opts ...AuthOption) (*Authenticator, error) {
	key, err := creds.parse()
	if err != nil {
		return nil, err
	}
	if creds.LoginURL == "" {
		creds.LoginURL = ProductionLoginURL
	}
	creds.LoginURL = normalizeInstanceURL(creds.LoginURL)
	a := &Authenticator{
		creds: creds, key: key, hc: http.DefaultClient, now: time.Now,
		retry: ExponentialBackoff{MaxAttempts: 3, Base: 500 * time.Millisecond, Cap: 5 * time.Second},
	}
	for _, o := range opts {
		o(a)
	}
	if a.hc == nil {
		a.hc = http.DefaultClient
	}
	a.hc = guardRedirects(a.hc, a.hosts)
	if err := a.hosts.Check(creds.LoginURL); err != nil {
		return nil, err
	}
	return a, nil
}

// Token logs in (JWT bearer), exchanges the core token for a Data Cloud token and returns
// it. Errors: *OAuthError (Op "login" or "exchange"), *HostNotAllowedError, *ConnError.
func (a *Authenticator) Token(ctx context.Context) (Token, error) {
	for attempt := 1; ; attempt++ {
		tok, err := a.token(ctx)
		if err == nil || !backoffWait(ctx, a.retry, attempt, err) {
			return tok, err
		}
	}
}

func (a *Authenticator) token(ctx context.Context) (Token, error) {
	if err := a.hosts.Check(a.creds.LoginURL); err != nil {
		return Token{}, err
	}
	assertion, err := a.assertion()
	if err != nil {
		return Token{}, err
	}
	core, err := a.post(ctx, "login", a.creds.LoginURL+loginPath, url.Values{
		"grant_type": {jwtBearerGrant},
		"assertion":  {assertion},
	}, assertion)
	if err != nil {
		return Token{}, err
	}
	coreURL := normalizeInstanceURL(core.InstanceURL)
	if coreURL == "" {
		return Token{}, &OAuthError{Op: "login", StatusCode: http.StatusOK, Code: "invalid_response", Description: "response has no instance_url"}
	}
	if err := a.hosts.Check(coreURL); err != nil {
		return Token{}, err
	}
	form := url.Values{
		"grant_type":         {cdpExchangeGrant},
		"subject_token":      {core.AccessToken},
		"subject_token_type": {accessTokenType},
	}
	if a.creds.Dataspace != "" {
		form.Set("dataspace", a.creds.Dataspace)
	}
	issued := a.now()
	dc, err := a.post(ctx, "exchange", coreURL+exchangePath, form, core.AccessToken)
	if err != nil {
		return Token{}, err
	}
	tenant := normalizeInstanceURL(dc.InstanceURL)
	if tenant == "" {
		return Token{}, &OAuthError{Op: "exchange", StatusCode: http.StatusOK, Code: "invalid_response", Description: "response has no instance_url"}
	}
	if err := a.hosts.Check(tenant); err != nil {
		return Token{}, err
	}
	ttl := defaultTokenExpiry
	if s, err := strconv.ParseFloat(string(dc.ExpiresIn), 64); err == nil && s > 0 {
		ttl = time.Duration(s * float64(time.Second))
	}
	tt := dc.TokenType
	if tt == "" {
		tt = "Bearer"
	}
	return Token{
		AccessToken: dc.AccessToken, InstanceURL: tenant, TokenType: tt, Dataspace: a.creds.Dataspace,
		IssuedAt: issued.UTC(), ExpiresAt: issued.Add(ttl).UTC(),
	}, nil
}

// assertion signs the JWT bearer assertion (RS256).
func (a *Authenticator) assertion() (string, error) {
	now := a.now()
	claims := jwt.MapClaims{
		"iss": a.creds.ClientID,
		"sub": a.creds.Username,
		"aud": a.creds.EffectiveAudience(),
		"iat": now.Unix(),
		"exp": now.Add(assertionLifetime).Unix(),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.key)
	if err != nil {
		return "", errors.New("datacloud: login: signing the JWT assertion failed")
	}
	return s, nil
}

// oauthResponse covers both the login and the exchange answers.
type oauthResponse struct {
	AccessToken      string      `json:"access_token"`
	InstanceURL      string      `json:"instance_url"`
	TokenType        string      `json:"token_type"`
	ExpiresIn        json.Number `json:"expires_in"`
	Error            string      `json:"error"`
	ErrorDescription string      `json:"error_description"`
}

// post sends a form to an OAuth endpoint and decodes the answer. secret is redacted from
// anything a misbehaving server echoes into an error.
func (a *Authenticator) post(ctx context.Context, op, endpoint string, form url.Values, secret string) (*oauthResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("datacloud: %s: build request: %w", op, redactErr(err, secret))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		u, _ := url.Parse(endpoint)
		return nil, &ConnError{Op: op, Method: http.MethodPost, Path: u.Path, Err: redactErr(err, secret)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		u, _ := url.Parse(endpoint)
		return nil, &ConnError{Op: op, Method: http.MethodPost, Path: u.Path, Err: redactErr(err, secret)}
	}
	raw = redactBytes(raw, secret)
	var r oauthResponse
	jsonErr := json.Unmarshal(raw, &r)
	switch {
	case jsonErr == nil && (r.Error != "" || r.ErrorDescription != "" || resp.StatusCode != http.StatusOK):
		// A 200 with error_description is a failure too (the JDBC driver checks for it).
		return nil, &OAuthError{Op: op, StatusCode: resp.StatusCode, Code: shortString(r.Error), Description: shortString(r.ErrorDescription)}
	case jsonErr != nil && resp.StatusCode != http.StatusOK:
		return nil, &OAuthError{Op: op, StatusCode: resp.StatusCode, Description: shortText(raw)}
	case jsonErr != nil:
		return nil, &OAuthError{Op: op, StatusCode: resp.StatusCode, Code: "invalid_response", Description: "response is not JSON"}
	case r.AccessToken == "":
		return nil, &OAuthError{Op: op, StatusCode: resp.StatusCode, Code: "invalid_response", Description: "response has no access_token"}
	}
	return &r, nil
}
