package datacloudtest

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// App is a connected app (external client app) the emulator knows.
type App struct {
	ClientID  string   // consumer key: the assertion's iss
	Usernames []string // users pre-authorized for the app: the assertion's sub
	// CertificatePEM is the certificate uploaded to the app; PublicKey may be given instead.
	CertificatePEM string
	PublicKey      *rsa.PublicKey
	// Dataspaces lists data spaces the exchange accepts besides "default".
	Dataspaces []string
	// Audiences lists extra accepted aud values (a My Domain URL, an Experience site).
	Audiences []string
}

// RegisterApp adds (or replaces) a connected app.
func (s *Server) RegisterApp(app App) error {
	if app.ClientID == "" {
		return errors.New("datacloudtest: register app: empty client id")
	}
	if app.PublicKey == nil {
		pub, err := publicKeyFromCert(app.CertificatePEM)
		if err != nil {
			return fmt.Errorf("datacloudtest: register app: %w", err)
		}
		app.PublicKey = pub
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := app
	s.apps[app.ClientID] = &a
	for _, u := range app.Usernames {
		s.userIDLocked(u)
	}
	return nil
}

func publicKeyFromCert(certPEM string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return nil, errors.New("no PEM block in certificate")
	}
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok {
			return pub, nil
		}
		return nil, errors.New("certificate key is not RSA")
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		if pub, ok := k.(*rsa.PublicKey); ok {
			return pub, nil
		}
		return nil, errors.New("public key is not RSA")
	}
	return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
}

// token is an issued core or Data Cloud token.
type token struct {
	value     string
	tenant    bool
	clientID  string
	username  string
	userID    string
	dataspace string
	issued    time.Time
	expires   time.Time
	revoked   bool
}

func (t *token) valid(now time.Time) bool { return !t.revoked && now.Before(t.expires) }

const (
	alnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	tokenTail = alnum + "._"
)

func (s *Server) randString(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// sfID returns an 18-character Salesforce-style id with the given key prefix.
func (s *Server) sfID(prefix string) string {
	return prefix + "5g0000" + s.randString(18-len(prefix)-6, alnum)
}

// uuid returns a random (seeded) version 4 UUID.
func (s *Server) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (s *Server) userIDLocked(username string) string {
	id, ok := s.users[username]
	if !ok {
		id = s.sfID("005")
		s.users[username] = id
	}
	return id
}

// issueCoreLocked makes a core token shaped like Salesforce's "00D…!AQ…".
func (s *Server) issueCoreLocked(app *App, username string) *token {
	now := s.nowLocked()
	t := &token{
		value:    s.orgID[:15] + "!AQ" + s.randString(4, alnum) + "AQ" + s.randString(100, tokenTail),
		clientID: app.ClientID, username: username, userID: s.userIDLocked(username),
		issued: now, expires: now.Add(s.opts.TokenTTL),
	}
	s.core[t.value] = t
	s.secrets = append(s.secrets, t.value)
	return t
}

// issueTenantLocked makes a Data Cloud token that looks like a JWT (three base64url parts).
func (s *Server) issueTenantLocked(core *token, dataspace string) *token {
	now := s.nowLocked()
	exp := now.Add(s.opts.TokenTTL)
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]string{"kid": "CORE_ATJWT." + s.orgID, "typ": "JWT", "alg": "ES256"})
	claims, _ := json.Marshal(map[string]any{
		"sub": core.userID, "iss": "https://login.salesforce.com", "aud": "api",
		"scp": "cdp_ingest_api cdp_query_api api", "orgId": s.orgID, "dataspace": dataspace,
		"iat": now.Unix(), "exp": exp.Unix(), "jti": s.uuid(),
	})
	t := &token{
		value:  enc.EncodeToString(hdr) + "." + enc.EncodeToString(claims) + "." + s.randString(86, alnum+"-_"),
		tenant: true, clientID: core.clientID, username: core.username, userID: core.userID,
		dataspace: dataspace, issued: now, expires: exp,
	}
	s.tenant[t.value] = t
	s.secrets = append(s.secrets, t.value)
	return t
}

// rememberSecret records a secret the emulator saw (an assertion) for leak tests.
func (s *Server) rememberSecret(v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	s.secrets = append(s.secrets, v)
	s.mu.Unlock()
}

// IssuedSecrets returns every core token, Data Cloud token and assertion the emulator
// issued or received, so tests can assert none of them leaked into logs or outputs.
func (s *Server) IssuedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.secrets...)
}

// Revoke invalidates a core or Data Cloud token; it reports whether the token was known.
func (s *Server) Revoke(value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revokeLocked(value)
}

func (s *Server) revokeLocked(value string) bool {
	if t, ok := s.core[value]; ok {
		t.revoked = true
		return true
	}
	if t, ok := s.tenant[value]; ok {
		t.revoked = true
		return true
	}
	return false
}

// RevokeAll invalidates every token issued so far.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.core {
		t.revoked = true
	}
	for _, t := range s.tenant {
		t.revoked = true
	}
}

// TenantTokens returns the Data Cloud tokens still valid now.
func (s *Server) TenantTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	var out []string
	for _, t := range s.tenant {
		if t.valid(now) {
			out = append(out, t.value)
		}
	}
	return out
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// IssueTenantToken issues a Data Cloud token for username directly, for tests of the
// tenant API that skip the login and exchange.
func (s *Server) IssueTenantToken(username string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	core := s.issueCoreLocked(&App{ClientID: "datacloudtest"}, username)
	return s.issueTenantLocked(core, "").value
}

// TokenInfo describes an issued token, for tests that check what a client asked for.
type TokenInfo struct {
	Tenant    bool // a Data Cloud token (else a core token)
	ClientID  string
	Username  string
	Dataspace string // the exchange's dataspace ("" when none was sent)
	IssuedAt  time.Time
	ExpiresAt time.Time
	Revoked   bool
}

// Token describes an issued core or Data Cloud token.
func (s *Server) Token(value string) (TokenInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenant[value]
	if !ok {
		t, ok = s.core[value]
	}
	if !ok {
		return TokenInfo{}, false
	}
	return TokenInfo{
		Tenant: t.tenant, ClientID: t.clientID, Username: t.username, Dataspace: t.dataspace,
		IssuedAt: t.issued, ExpiresAt: t.expires, Revoked: t.revoked,
	}, true
}
