package datacloud

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeSF is a small Salesforce login + a360 exchange server for the package's own tests
// (the full emulator lives in datacloudtest, which these tests must not import).
type fakeSF struct {
	t   *testing.T
	srv *httptest.Server
	now time.Time

	// login and exchange, when set, replace the default (validating, succeeding) handlers.
	login, exchange http.HandlerFunc
	// coreURL and tenantURL are the instance_url values answered (default: this server).
	coreURL, tenantURL string

	mu            sync.Mutex
	assertions    []string
	coreTokens    []string
	tenantTokens  []string
	exchangeForms []url.Values
	loginCalls    int
	exchangeCalls int
}

func newFakeSF(t *testing.T) *fakeSF {
	t.Helper()
	f := &fakeSF{t: t, now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.loginCalls++
		f.mu.Unlock()
		if f.login != nil {
			r.ParseForm()
			f.record(&f.assertions, r.PostForm.Get("assertion"))
			f.login(w, r)
			return
		}
		f.defaultLogin(w, r)
	})
	mux.HandleFunc("POST /services/a360/token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.exchangeCalls++
		f.mu.Unlock()
		if f.exchange != nil {
			f.exchange(w, r)
			return
		}
		f.defaultExchange(w, r)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSF) record(list *[]string, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*list = append(*list, v)
}

// secrets returns every token and assertion the server saw or issued.
func (f *fakeSF) secrets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	s = append(s, f.assertions...)
	s = append(s, f.coreTokens...)
	return append(s, f.tenantTokens...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func oauthErr(status int, code, desc string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
}

func (f *fakeSF) defaultLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != jwtBearerGrant {
		oauthErr(400, "unsupported_grant_type", "grant type not supported")(w, r)
		return
	}
	assertion := r.PostForm.Get("assertion")
	f.record(&f.assertions, assertion)
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return &testKey().PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return f.now }),
		jwt.WithIssuedAt(), jwt.WithExpirationRequired())
	if err != nil {
		oauthErr(400, "invalid_grant", "invalid assertion")(w, r)
		return
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if exp.Sub(iat.Time) > 3*time.Minute {
		oauthErr(400, "invalid_grant", "assertion lives too long")(w, r)
		return
	}
	if claims["iss"] != "3MVG9-client" || claims["sub"] != "integration@example.com" {
		oauthErr(400, "invalid_client_id", "client identifier invalid")(w, r)
		return
	}
	if _, isString := claims["aud"].(string); !isString {
		oauthErr(400, "invalid_grant", "audience is invalid")(w, r)
		return
	}
	core := fmt.Sprintf("00Dcore!AQEA.core-token-%d-8c1d", len(f.coreTokens)+1)
	f.record(&f.coreTokens, core)
	inst := f.coreURL
	if inst == "" {
		inst = f.srv.URL
	}
	writeJSON(w, 200, map[string]string{"access_token": core, "instance_url": inst, "token_type": "Bearer",
		"id": "https://login.salesforce.com/id/00D/005", "scope": "cdp_ingest_api api"})
}

func (f *fakeSF) defaultExchange(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	f.exchangeForms = append(f.exchangeForms, r.PostForm)
	known := false
	for _, c := range f.coreTokens {
		known = known || c == r.PostForm.Get("subject_token")
	}
	f.mu.Unlock()
	if r.PostForm.Get("grant_type") != cdpExchangeGrant || r.PostForm.Get("subject_token_type") != accessTokenType || !known {
		oauthErr(400, "invalid_request", "bad exchange")(w, r)
		return
	}
	dc := fmt.Sprintf("eyJraWQiOi.dc-token-%d.sig", len(f.tenantTokens)+1)
	f.record(&f.tenantTokens, dc)
	inst := f.tenantURL
	if inst == "" {
		inst = f.srv.URL
	}
	writeJSON(w, 200, map[string]any{"access_token": dc, "instance_url": inst, "token_type": "Bearer",
		"issued_token_type": "urn:ietf:params:oauth:token-type:jwt", "expires_in": 7193})
}

// creds returns valid credentials logging in at this server.
func (f *fakeSF) creds(t *testing.T) Credentials {
	t.Helper()
	return Credentials{ClientID: "3MVG9-client", Username: "integration@example.com", PrivateKeyPEM: pkcs1PEM(t), LoginURL: f.srv.URL}
}

// auth returns an Authenticator for this server, without retries unless opts say otherwise.
func (f *fakeSF) auth(t *testing.T, c Credentials, opts ...AuthOption) *Authenticator {
	t.Helper()
	all := append([]AuthOption{WithAuthAllowedHosts(loopbackHosts(t)), WithAuthClock(func() time.Time { return f.now }),
		WithAuthRetry(fastRetry(1))}, opts...)
	a, err := NewAuthenticator(c, all...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
