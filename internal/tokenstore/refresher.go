package tokenstore

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// Refresh steps, as they appear in RefreshError.Step.
const (
	StepReadCredentials = "read credentials"
	StepLogin           = "login"
	StepExchange        = "exchange"
	StepStoreToken      = "store token"
)

// RefreshError is a failed refresh; Step names where it failed. Lambda reports the type
// name ("RefreshError") as the errorType of a failed tokenrefresh invocation.
type RefreshError struct {
	Step string
	Err  error
}

// Error reads like "datacloud: refresh token: login: invalid_grant: user hasn't approved this consumer".
func (e *RefreshError) Error() string {
	detail := e.Err.Error()
	// The cause usually already starts "datacloud: <step>: "; say it once.
	detail = strings.TrimPrefix(detail, "datacloud: ")
	detail = strings.TrimPrefix(detail, e.Step+": ")
	return "datacloud: refresh token: " + e.Step + ": " + detail
}

// Unwrap returns the cause (e.g. a *datacloud.OAuthError).
func (e *RefreshError) Unwrap() error { return e.Err }

// AuthFactory builds the login+exchange token source for credentials. The default is
// datacloud.NewAuthenticator with the given options.
type AuthFactory func(datacloud.Credentials) (datacloud.TokenSource, error)

// NewAuthFactory returns an AuthFactory that builds a *datacloud.Authenticator with opts.
func NewAuthFactory(opts ...datacloud.AuthOption) AuthFactory {
	return func(c datacloud.Credentials) (datacloud.TokenSource, error) {
		return datacloud.NewAuthenticator(c, opts...)
	}
}

// Refresher runs the refresh flow: read the credentials secret, log in, exchange, store.
// The credentials are read on first use and kept; a login the credentials caused to fail
// drops them, so that a corrected secret is picked up without a cold start.
type Refresher struct {
	store   *Store
	credAPI GetSecretAPI
	credID  string
	newAuth AuthFactory

	mu   sync.Mutex
	auth datacloud.TokenSource
	host string // the login URL's host, to tell which step a host check failed in
}

// NewRefresher returns a refresher that reads credentials from the secret credID.
func NewRefresher(store *Store, credAPI GetSecretAPI, credID string, newAuth AuthFactory) *Refresher {
	if newAuth == nil {
		newAuth = NewAuthFactory()
	}
	return &Refresher{store: store, credAPI: credAPI, credID: credID, newAuth: newAuth}
}

// Refresh gets a new token and stores it. On failure nothing was stored (the stored token
// is as it was) and the error is a *RefreshError.
func (r *Refresher) Refresh(ctx context.Context) (datacloud.Token, error) {
	auth, host, err := r.authenticator(ctx)
	if err != nil {
		return datacloud.Token{}, &RefreshError{Step: StepReadCredentials, Err: err}
	}
	tok, err := auth.Token(ctx)
	if err != nil {
		step := authStep(err, host)
		if step == StepLogin {
			var oe *datacloud.OAuthError
			if errors.As(err, &oe) && oe.StatusCode >= 400 && oe.StatusCode < 500 {
				r.forget(auth)
			}
		}
		return datacloud.Token{}, &RefreshError{Step: step, Err: err}
	}
	if _, err := r.store.Put(ctx, tok); err != nil {
		return datacloud.Token{}, &RefreshError{Step: StepStoreToken, Err: err}
	}
	return tok, nil
}

func (r *Refresher) authenticator(ctx context.Context) (datacloud.TokenSource, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.auth != nil {
		return r.auth, r.host, nil
	}
	creds, err := ReadCredentials(ctx, r.credAPI, r.credID)
	if err != nil {
		return nil, "", err
	}
	auth, err := r.newAuth(creds)
	if err != nil {
		return nil, "", err
	}
	host := ""
	if u, err := url.Parse(creds.LoginURL); err == nil {
		host = u.Host
	}
	r.auth, r.host = auth, host
	return auth, host, nil
}

func (r *Refresher) forget(auth datacloud.TokenSource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.auth == auth {
		r.auth, r.host = nil, ""
	}
}

// authStep names the step an authenticator error belongs to.
func authStep(err error, loginHost string) string {
	var oe *datacloud.OAuthError
	if errors.As(err, &oe) && oe.Op != "" {
		return oe.Op
	}
	var ce *datacloud.ConnError
	if errors.As(err, &ce) && ce.Op != "" {
		return ce.Op
	}
	var he *datacloud.HostNotAllowedError
	if errors.As(err, &he) {
		if u, perr := url.Parse(he.URL); perr == nil && u.Host != "" && u.Host != loginHost {
			return StepExchange
		}
		return StepLogin
	}
	return StepLogin
}
