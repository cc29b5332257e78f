package datacloudtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// OAuth grant and token type names.
const (
	GrantJWTBearer        = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantCDPExchange      = "urn:salesforce:grant-type:external:cdp"
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeJWT          = "urn:ietf:params:oauth:token-type:jwt"
	coreScope             = "cdp_ingest_api cdp_query_api api"
	apiVersion            = "65.0"
	maxOAuthFormBodyBytes = 64 << 10
)

// oauthError answers Salesforce's OAuth error body.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// baseURL is this origin's URL as the client reached it.
func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// parseOAuthForm reads a form from the body and the query string, as Salesforce accepts both.
func parseOAuthForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxOAuthFormBodyBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed request body")
		return false
	}
	return true
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !parseOAuthForm(w, r) {
		return
	}
	assertion := r.Form.Get("assertion")
	s.rememberSecret(assertion)
	if r.Form.Get("grant_type") != GrantJWTBearer {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	app, username, code, desc := s.verifyAssertion(r, assertion)
	if code != "" {
		oauthError(w, http.StatusBadRequest, code, desc)
		return
	}
	s.mu.Lock()
	t := s.issueCoreLocked(app, username)
	sig := make([]byte, 32)
	for i := range sig {
		sig[i] = byte(s.rng.UintN(256))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": t.value,
		"scope":        coreScope,
		"instance_url": baseURL(r),
		"id":           "https://login.salesforce.com/id/" + s.orgID + "/" + t.userID,
		"token_type":   "Bearer",
		"issued_at":    strconv.FormatInt(t.issued.UnixMilli(), 10),
		"signature":    base64.StdEncoding.EncodeToString(sig),
	})
}

// verifyAssertion checks a JWT bearer assertion; a non-empty code is the OAuth error.
func (s *Server) verifyAssertion(r *http.Request, assertion string) (app *App, username, code, desc string) {
	const invalid = "invalid assertion"
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	var unverified jwt.MapClaims
	if _, _, err := parser.ParseUnverified(assertion, &unverified); err != nil || assertion == "" {
		return nil, "", "invalid_grant", invalid
	}
	iss, _ := unverified.GetIssuer()
	s.mu.Lock()
	a, ok := s.apps[iss]
	now := s.nowLocked()
	s.mu.Unlock()
	if !ok {
		return nil, "", "invalid_client_id", "client identifier invalid"
	}
	var claims jwt.MapClaims
	if _, err := parser.ParseWithClaims(assertion, &claims, func(*jwt.Token) (any, error) { return a.PublicKey, nil }); err != nil {
		return nil, "", "invalid_grant", invalid
	}
	aud, err := claims.GetAudience()
	if err != nil || !audienceOK(aud, r.Host, a.Audiences) {
		return nil, "", "invalid_grant", "audience is invalid"
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, "", "invalid_grant", invalid
	}
	if !now.Before(exp.Time) {
		return nil, "", "invalid_grant", "expired authorization code"
	}
	if exp.Time.Sub(now) > s.opts.MaxAssertionLifetime {
		return nil, "", "invalid_grant", invalid
	}
	sub, _ := claims.GetSubject()
	if !slices.Contains(a.Usernames, sub) {
		return nil, "", "invalid_grant", "user hasn't approved this consumer"
	}
	return a, sub, "", ""
}

// audienceOK accepts the login hosts, this origin and extra audiences, with or without
// scheme and trailing slash.
func audienceOK(aud []string, host string, extra []string) bool {
	norm := func(v string) string {
		v = strings.ToLower(strings.TrimSpace(v))
		v = strings.TrimPrefix(strings.TrimPrefix(v, "https://"), "http://")
		return strings.TrimRight(v, "/")
	}
	allowed := []string{"login.salesforce.com", "test.salesforce.com", norm(host)}
	if h, port, ok := strings.Cut(norm(host), ":"); ok && (h == "127.0.0.1" || h == "localhost") {
		allowed = append(allowed, "127.0.0.1:"+port, "localhost:"+port)
	}
	for _, e := range extra {
		allowed = append(allowed, norm(e))
	}
	for _, a := range aud {
		if slices.Contains(allowed, norm(a)) {
			return true
		}
	}
	return false
}

// coreToken returns the valid core token presented as Bearer, or nil.
func (s *Server) coreToken(value string) *token {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.core[value]
	if !ok || !t.valid(s.nowLocked()) {
		return nil
	}
	return t
}

func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	t := s.coreToken(bearer(r.Header.Get("Authorization")))
	if t == nil {
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("Bad_OAuth_Token")) //nolint:errcheck // best effort to a test client
		return
	}
	base := baseURL(r)
	idURL := "https://login.salesforce.com/id/" + s.orgID + "/" + t.userID
	writeJSON(w, http.StatusOK, map[string]any{
		"sub": idURL, "user_id": t.userID, "organization_id": s.orgID,
		"preferred_username": t.username, "nickname": strings.SplitN(t.username, "@", 2)[0],
		"name": t.username, "email": t.username, "email_verified": true, "active": true,
		"user_type": "STANDARD", "language": "en_US", "locale": "en_US", "utcOffset": 0,
		"updated_at": t.issued.Format("2006-01-02T15:04:05Z"), "is_app_installed": true,
		"urls": map[string]string{
			"enterprise":    base + "/services/Soap/c/" + apiVersion + "/" + s.orgID,
			"partner":       base + "/services/Soap/u/" + apiVersion + "/" + s.orgID,
			"rest":          base + "/services/data/v" + apiVersion + "/",
			"sobjects":      base + "/services/data/v" + apiVersion + "/sobjects/",
			"query":         base + "/services/data/v" + apiVersion + "/query/",
			"profile":       base + "/" + t.userID,
			"custom_domain": base,
		},
	})
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !parseOAuthForm(w, r) {
		return
	}
	if !s.Revoke(r.Form.Get("token")) {
		oauthError(w, http.StatusBadRequest, "unsupported_token_type", "this token type is not supported")
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handleExchange(w http.ResponseWriter, r *http.Request) {
	if !parseOAuthForm(w, r) {
		return
	}
	if r.Form.Get("grant_type") != GrantCDPExchange {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	if r.Form.Get("subject_token_type") != TokenTypeAccessToken {
		oauthError(w, http.StatusBadRequest, "invalid_request", "invalid subject_token_type")
		return
	}
	core := s.coreToken(r.Form.Get("subject_token"))
	if core == nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid subject token")
		return
	}
	ds := r.Form.Get("dataspace")
	s.mu.Lock()
	app := s.apps[core.clientID]
	if ds != "" && ds != "default" && (app == nil || !slices.Contains(app.Dataspaces, ds)) {
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_request", "invalid dataspace")
		return
	}
	t := s.issueTenantLocked(core, ds)
	s.mu.Unlock()
	instance := "http://" + r.Host
	if r.TLS != nil {
		instance = r.Host
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":      t.value,
		"instance_url":      instance,
		"token_type":        "Bearer",
		"issued_token_type": TokenTypeJWT,
		"expires_in":        int64(t.expires.Sub(t.issued) / time.Second),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only emulator-built values reach here; a failure is a bug worth a 500.
		http.Error(w, "datacloudtest: encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client may have gone
}
