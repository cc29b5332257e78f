package tokenstore

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/awsenv"
	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// Environment variables (contract §1).
const (
	EnvTokenSecret       = "DATACLOUD_TOKEN_SECRET"
	EnvCredentialsSecret = "DATACLOUD_CREDENTIALS_SECRET"
	EnvAllowedHosts      = "DATACLOUD_ALLOWED_HOSTS"
	EnvRefreshMargin     = "DATACLOUD_REFRESH_MARGIN"
)

// authHTTPTimeout bounds one login or exchange request.
const authHTTPTimeout = 20 * time.Second

// Config is what a function needs to reach the token secret and refresh it.
type Config struct {
	TokenSecret       string
	CredentialsSecret string // empty: this function cannot refresh (consumers without it)
	AllowedHosts      datacloud.AllowedHosts
	RefreshMargin     time.Duration // tokenrefresh's scheduled margin
}

// ConfigFromEnv reads the token variables. credentialsRequired is true for tokenrefresh.
// Errors are *awsenv.VarError naming the variable.
func ConfigFromEnv(env awsenv.Env, credentialsRequired bool) (Config, error) {
	var c Config
	var err error
	if c.TokenSecret, err = env.Required(EnvTokenSecret); err != nil {
		return Config{}, err
	}
	if credentialsRequired {
		if c.CredentialsSecret, err = env.Required(EnvCredentialsSecret); err != nil {
			return Config{}, err
		}
	} else {
		c.CredentialsSecret = env.String(EnvCredentialsSecret, "")
	}
	if c.AllowedHosts, err = datacloud.ParseAllowedHosts(env.String(EnvAllowedHosts, "")); err != nil {
		return Config{}, &awsenv.VarError{Name: EnvAllowedHosts, Reason: "is malformed: " + err.Error()}
	}
	if c.RefreshMargin, err = env.Duration(EnvRefreshMargin, DefaultRefreshMargin); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Build returns the store and, when a credentials secret is configured, the refresher.
// hc may be nil (a client with a timeout is used).
func (c Config) Build(sm SecretsAPI, hc *http.Client) (*Store, *Refresher) {
	store := NewStore(sm, c.TokenSecret)
	if c.CredentialsSecret == "" {
		return store, nil
	}
	if hc == nil {
		hc = &http.Client{Timeout: authHTTPTimeout}
	}
	auth := NewAuthFactory(datacloud.WithAuthAllowedHosts(c.AllowedHosts), datacloud.WithAuthHTTPClient(hc))
	return store, NewRefresher(store, sm, c.CredentialsSecret, auth)
}

// TokenSource returns the token source of a consumer function (s3ingest, querytrigger): the
// token secret, refreshed by the function itself when a credentials secret is configured.
func (c Config) TokenSource(sm SecretsAPI, opts ...SourceOption) *SecretTokenSource {
	store, refresher := c.Build(sm, nil)
	return NewSecretTokenSource(store, refresher, opts...)
}

// Client returns the Data Cloud client of a function that uses the stored token (s3ingest,
// querytrigger): tokens from TokenSource, logged to log and counted in metrics, sent only to
// the allowed hosts. opts come last, so they may add to or replace those settings.
func (c Config) Client(sm SecretsAPI, log *slog.Logger, metrics *obs.Metrics, opts ...datacloud.Option) (*datacloud.Client, error) {
	src := c.TokenSource(sm, WithLogger(log), WithMetrics(metrics))
	return datacloud.NewClient(src, append([]datacloud.Option{
		datacloud.WithAllowedHosts(c.AllowedHosts), datacloud.WithLogger(log)}, opts...)...)
}
