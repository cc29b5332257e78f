package datacloud

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestAuthenticatorToken(t *testing.T) {
	tests := []struct {
		name          string
		key           func(t *testing.T) string
		dataspace     string
		audience      string
		tenantURL     string // exchange answer; "" = the fake server's own full URL
		hosts         string
		expiresIn     any
		wantInstance  string // "" = the fake server's URL
		wantTTL       time.Duration
		wantAudience  string
		wantDataspace bool
	}{
		{name: "pkcs1 full url", key: pkcs1PEM, wantTTL: 7193 * time.Second, wantAudience: ProductionLoginURL},
		{name: "pkcs8", key: pkcs8PEM, wantTTL: 7193 * time.Second, wantAudience: ProductionLoginURL},
		{name: "dataspace and audience", key: pkcs1PEM, dataspace: "marketing", audience: "https://acme.my.site.com",
			wantTTL: 7193 * time.Second, wantAudience: "https://acme.my.site.com", wantDataspace: true},
		{name: "bare tenant host", key: pkcs1PEM, tenantURL: "abc123.c360a.salesforce.com", hosts: "127.0.0.1,.c360a.salesforce.com",
			wantInstance: "https://abc123.c360a.salesforce.com", wantTTL: 7193 * time.Second, wantAudience: ProductionLoginURL},
		{name: "expires_in missing", key: pkcs1PEM, expiresIn: nil, wantTTL: 7200 * time.Second, wantAudience: ProductionLoginURL},
		{name: "expires_in as string", key: pkcs1PEM, expiresIn: "3600", wantTTL: time.Hour, wantAudience: ProductionLoginURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSF(t)
			f.tenantURL = tt.tenantURL
			if tt.name == "expires_in missing" || tt.name == "expires_in as string" {
				f.exchange = func(w http.ResponseWriter, r *http.Request) {
					r.ParseForm()
					body := map[string]any{"access_token": "eyJ.dc-token.sig", "instance_url": f.srv.URL}
					if tt.expiresIn != nil {
						body["expires_in"] = tt.expiresIn
					}
					writeJSON(w, 200, body)
				}
			}
			c := f.creds(t)
			c.PrivateKeyPEM = tt.key(t)
			c.Dataspace = tt.dataspace
			c.Audience = tt.audience
			var opts []AuthOption
			if tt.hosts != "" {
				h, err := ParseAllowedHosts(tt.hosts)
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, WithAuthAllowedHosts(h))
			}
			tok, err := f.auth(t, c, opts...).Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := tt.wantInstance
			if want == "" {
				want = f.srv.URL
			}
			if tok.InstanceURL != want {
				t.Errorf("InstanceURL = %q, want %q", tok.InstanceURL, want)
			}
			if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.Dataspace != tt.dataspace {
				t.Errorf("token = %+v", tok)
			}
			if !tok.IssuedAt.Equal(f.now) || !tok.ExpiresAt.Equal(f.now.Add(tt.wantTTL)) {
				t.Errorf("issued %v expires %v, want %v + %v", tok.IssuedAt, tok.ExpiresAt, f.now, tt.wantTTL)
			}
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(f.assertions[0], claims); err != nil {
				t.Fatal(err)
			}
			if claims["aud"] != tt.wantAudience || claims["iss"] != "3MVG9-client" || claims["sub"] != "integration@example.com" {
				t.Errorf("claims = %v", claims)
			}
			if exp, _ := claims.GetExpirationTime(); !exp.Equal(f.now.Add(2 * time.Minute)) {
				t.Errorf("exp = %v, want now+2m", exp)
			}
			if tt.expiresIn == nil && tt.name != "expires_in missing" {
				form := f.exchangeForms[0]
				if form.Get("subject_token") != f.coreTokens[0] || form.Get("subject_token_type") != accessTokenType {
					t.Errorf("exchange form = %v", form)
				}
				if got := form.Has("dataspace"); got != tt.wantDataspace || form.Get("dataspace") != tt.dataspace {
					t.Errorf("dataspace in form = %q (present %v)", form.Get("dataspace"), got)
				}
			}
		})
	}
}

// authFailures are every failure of the login and exchange steps listed in datacloud-api.md
// §1 and §2, plus transport-level oddities.
var authFailures = []struct {
	name            string
	login, exchange func(f *fakeSF) http.HandlerFunc
	wantOp          string
	wantStatus      int
	wantCode        string
	wantDesc        string
	wantErr         string
}{
	// §1: all seven rows.
	{name: "login not approved", login: fixed(oauthErr(400, "invalid_grant", "user hasn't approved this consumer")),
		wantOp: "login", wantStatus: 400, wantCode: "invalid_grant", wantDesc: "user hasn't approved this consumer",
		wantErr: "datacloud: login: invalid_grant: user hasn't approved this consumer"},
	{name: "login invalid assertion", login: fixed(oauthErr(400, "invalid_grant", "invalid assertion")),
		wantOp: "login", wantStatus: 400, wantCode: "invalid_grant", wantDesc: "invalid assertion"},
	{name: "login expired", login: fixed(oauthErr(400, "invalid_grant", "expired authorization code")),
		wantOp: "login", wantStatus: 400, wantCode: "invalid_grant", wantDesc: "expired authorization code"},
	{name: "login audience", login: fixed(oauthErr(400, "invalid_grant", "audience is invalid")),
		wantOp: "login", wantStatus: 400, wantCode: "invalid_grant", wantDesc: "audience is invalid"},
	{name: "login auth failure", login: fixed(oauthErr(400, "invalid_grant", "authentication failure")),
		wantOp: "login", wantStatus: 400, wantCode: "invalid_grant", wantDesc: "authentication failure"},
	{name: "login client id", login: fixed(oauthErr(400, "invalid_client_id", "client identifier invalid")),
		wantOp: "login", wantStatus: 400, wantCode: "invalid_client_id", wantDesc: "client identifier invalid",
		wantErr: "datacloud: login: invalid_client_id: client identifier invalid"},
	{name: "login grant type", login: fixed(oauthErr(400, "unsupported_grant_type", "grant type not supported")),
		wantOp: "login", wantStatus: 400, wantCode: "unsupported_grant_type", wantDesc: "grant type not supported"},
	// Oddities of the login endpoint.
	{name: "login html 503", login: fixed(reply(503, "<html><head><title>Service Unavailable</title></head><body><h1>Down for maintenance</h1></body></html>")),
		wantOp: "login", wantStatus: 503, wantDesc: "Service Unavailable", wantErr: "datacloud: login: HTTP 503: Service Unavailable"},
	{name: "login 200 not json", login: fixed(reply(200, "<html>hello</html>")),
		wantOp: "login", wantStatus: 200, wantCode: "invalid_response", wantDesc: "response is not JSON"},
	{name: "login 200 no token", login: fixed(reply(200, `{"instance_url":"http://127.0.0.1"}`)),
		wantOp: "login", wantStatus: 200, wantCode: "invalid_response", wantDesc: "response has no access_token"},
	{name: "login 200 no instance url", login: fixed(reply(200, `{"access_token":"00Dx!core-token-without-url"}`)),
		wantOp: "login", wantStatus: 200, wantCode: "invalid_response", wantDesc: "response has no instance_url"},
	{name: "login echoes the assertion", login: func(f *fakeSF) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			oauthErr(400, "invalid_grant", "bad assertion "+r.PostForm.Get("assertion"))(w, r)
		}
	}, wantOp: "login", wantStatus: 400, wantCode: "invalid_grant", wantDesc: "bad assertion [redacted]"},
	// §2: exchange failures.
	{name: "exchange invalid grant", exchange: fixed(oauthErr(400, "invalid_grant", "invalid subject token")),
		wantOp: "exchange", wantStatus: 400, wantCode: "invalid_grant", wantDesc: "invalid subject token",
		wantErr: "datacloud: exchange: invalid_grant: invalid subject token"},
	{name: "exchange invalid scope", exchange: fixed(oauthErr(400, "invalid_scope", "the access token has no cdp scope")),
		wantOp: "exchange", wantStatus: 400, wantCode: "invalid_scope", wantDesc: "the access token has no cdp scope"},
	{name: "exchange 200 with error_description", exchange: fixed(reply(200, `{"error_description":"Data Cloud is not provisioned"}`)),
		wantOp: "exchange", wantStatus: 200, wantDesc: "Data Cloud is not provisioned", wantErr: "datacloud: exchange: HTTP 200: Data Cloud is not provisioned"},
	{name: "exchange 200 error and token", exchange: fixed(reply(200, `{"access_token":"eyJ.half-token","error":"server_error","error_description":"try later"}`)),
		wantOp: "exchange", wantStatus: 200, wantCode: "server_error", wantDesc: "try later"},
	{name: "exchange 401 html", exchange: fixed(reply(401, "<!DOCTYPE html><html><body><p>Unauthorized</p><script>var x=1;</script></body></html>")),
		wantOp: "exchange", wantStatus: 401, wantDesc: "Unauthorized"},
	{name: "exchange 500 empty", exchange: fixed(reply(500, "")),
		wantOp: "exchange", wantStatus: 500, wantErr: "datacloud: exchange: HTTP 500"},
	{name: "exchange 200 no instance url", exchange: fixed(reply(200, `{"access_token":"eyJ.dc-token-no-url"}`)),
		wantOp: "exchange", wantStatus: 200, wantCode: "invalid_response", wantDesc: "response has no instance_url"},
	{name: "exchange echoes the core token", exchange: func(f *fakeSF) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			oauthErr(400, "invalid_grant", "token "+r.PostForm.Get("subject_token")+" is no good")(w, r)
		}
	}, wantOp: "exchange", wantStatus: 400, wantCode: "invalid_grant", wantDesc: "token [redacted] is no good"},
}

func fixed(h http.HandlerFunc) func(*fakeSF) http.HandlerFunc {
	return func(*fakeSF) http.HandlerFunc { return h }
}

func TestAuthenticatorErrors(t *testing.T) {
	for _, tt := range authFailures {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSF(t)
			if tt.login != nil {
				f.login = tt.login(f)
			}
			if tt.exchange != nil {
				f.exchange = tt.exchange(f)
			}
			_, err := f.auth(t, f.creds(t)).Token(context.Background())
			var oe *OAuthError
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v (%T), want *OAuthError", err, err)
			}
			if oe.Op != tt.wantOp || oe.StatusCode != tt.wantStatus || oe.Code != tt.wantCode || oe.Description != tt.wantDesc {
				t.Errorf("got %+v, want op=%s status=%d code=%q desc=%q", *oe, tt.wantOp, tt.wantStatus, tt.wantCode, tt.wantDesc)
			}
			if tt.wantErr != "" && err.Error() != tt.wantErr {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.wantErr)
			}
		})
	}
}

func TestAuthenticatorRetriesWithAFreshLogin(t *testing.T) {
	f := newFakeSF(t)
	var exchanges atomic.Int32
	f.exchange = func(w http.ResponseWriter, r *http.Request) {
		if exchanges.Add(1) == 1 {
			reply(503, "<html><title>busy</title></html>")(w, r)
			return
		}
		f.defaultExchange(w, r)
	}
	tok, err := f.auth(t, f.creds(t), WithAuthRetry(fastRetry(3))).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || f.loginCalls != 2 || len(f.coreTokens) != 2 {
		t.Errorf("login calls = %d, core tokens = %d; a retry must log in again", f.loginCalls, len(f.coreTokens))
	}
	if got := f.exchangeForms[0].Get("subject_token"); got != f.coreTokens[1] {
		t.Errorf("the retried exchange used %q, want the second core token", got)
	}
}

func TestAuthenticatorDoesNotRetryClientErrors(t *testing.T) {
	f := newFakeSF(t)
	f.login = oauthErr(400, "invalid_grant", "authentication failure")
	if _, err := f.auth(t, f.creds(t), WithAuthRetry(fastRetry(5))).Token(context.Background()); err == nil {
		t.Fatal("want error")
	}
	if f.loginCalls != 1 {
		t.Errorf("login calls = %d, want 1", f.loginCalls)
	}
}

func TestAuthenticatorConnectionError(t *testing.T) {
	f := newFakeSF(t)
	f.login = hijackClose(t)
	_, err := f.auth(t, f.creds(t)).Token(context.Background())
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Op != "login" || !strings.HasPrefix(err.Error(), "datacloud: login: POST /services/oauth2/token: connection error") {
		t.Fatalf("err = %v", err)
	}
}

// TestAuthenticatorHostAllowList: no request, and so no assertion or token, goes to a host
// that is not allowed.
func TestAuthenticatorHostAllowList(t *testing.T) {
	var foreignHits atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		writeJSON(w, 200, map[string]any{"access_token": "stolen", "instance_url": "x", "expires_in": 1})
	}))
	t.Cleanup(foreign.Close)
	// Only 127.0.0.1 is allowed; the foreign server is addressed as localhost.
	foreignURL := strings.Replace(foreign.URL, "127.0.0.1", "localhost", 1)
	onlyIP, err := ParseAllowedHosts("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name             string
		coreURL, tenant  string
		wantReason       string
		wantExchangeSent bool
	}{
		{name: "core instance url foreign", coreURL: foreignURL, wantReason: "not in the allowed hosts"},
		{name: "tenant url foreign", tenant: foreignURL, wantReason: "not in the allowed hosts", wantExchangeSent: true},
		{name: "tenant plain http", tenant: "http://abc.c360a.salesforce.com", wantReason: "plain http", wantExchangeSent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			foreignHits.Store(0)
			f := newFakeSF(t)
			f.coreURL, f.tenantURL = tt.coreURL, tt.tenant
			a := f.auth(t, f.creds(t), WithAuthAllowedHosts(onlyIP))
			_, err := a.Token(context.Background())
			var he *HostNotAllowedError
			if !errors.As(err, &he) || !strings.Contains(he.Reason, tt.wantReason) {
				t.Fatalf("err = %v, want HostNotAllowedError %q", err, tt.wantReason)
			}
			if (f.exchangeCalls > 0) != tt.wantExchangeSent {
				t.Errorf("exchange calls = %d", f.exchangeCalls)
			}
			// And a client built on it sends nothing either.
			c, err := NewClient(a, WithAllowedHosts(onlyIP), WithRetryPolicy(fastRetry(1)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.QueryV2(context.Background(), "SELECT 1"); !errors.As(err, &he) {
				t.Errorf("client err = %v, want HostNotAllowedError", err)
			}
			if n := foreignHits.Load(); n != 0 {
				t.Errorf("the foreign host received %d requests", n)
			}
		})
	}
}

func TestNewAuthenticatorChecksLoginURL(t *testing.T) {
	tests := []struct {
		name, login, wantErr string
	}{
		{"foreign login host", "https://login.evil.example", "not in the allowed hosts"},
		{"plain http login", "http://login.salesforce.com", "plain http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Credentials{ClientID: "c", Username: "u", PrivateKeyPEM: pkcs1PEM(t), LoginURL: tt.login}
			_, err := NewAuthenticator(c)
			var he *HostNotAllowedError
			if !errors.As(err, &he) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if _, err := NewAuthenticator(Credentials{ClientID: "c", Username: "u", PrivateKeyPEM: "nope"}); err == nil ||
		!strings.Contains(err.Error(), "no PEM block") {
		t.Errorf("bad key: err = %v", err)
	}
	a, err := NewAuthenticator(Credentials{ClientID: "c", Username: "u", PrivateKeyPEM: pkcs8PEM(t)}, WithAuthHTTPClient(nil))
	if err != nil || a.creds.LoginURL != ProductionLoginURL || a.hc == nil {
		t.Errorf("defaults: %v %v", a, err)
	}
}

func TestAuthenticatorHonoursContext(t *testing.T) {
	f := newFakeSF(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.login = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := f.auth(t, f.creds(t), WithAuthRetry(fastRetry(5))).Token(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}
