package datacloudtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testClientID = "3MVG9test.client.id"
	testUser     = "integration@example.com"
)

var (
	keyOnce sync.Once
	testKP  *KeyPair
)

// sharedKeyPair generates one RSA key for the whole test binary (generation is slow).
func sharedKeyPair(t *testing.T) *KeyPair {
	t.Helper()
	keyOnce.Do(func() { testKP = NewKeyPair(t) })
	return testKP
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is an emulator served over plain HTTP with one registered app.
type env struct {
	t     *testing.T
	s     *Server
	run   *Running
	kp    *KeyPair
	clock *fakeClock
	http  *http.Client
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	clock := newFakeClock()
	if opts.Clock == nil {
		opts.Clock = clock.Now
	}
	s := New(opts)
	kp := sharedKeyPair(t)
	if err := s.RegisterApp(App{ClientID: testClientID, Usernames: []string{testUser}, CertificatePEM: kp.CertPEM, Dataspaces: []string{"sales"}}); err != nil {
		t.Fatal(err)
	}
	run := s.Start()
	t.Cleanup(func() {
		run.Close()
		s.Close()
	})
	return &env{t: t, s: s, run: run, kp: kp, clock: clock, http: run.Client()}
}

// assertion signs a JWT bearer assertion; mutate adjusts the claims.
func (e *env) assertion(mutate func(jwt.MapClaims)) string {
	e.t.Helper()
	claims := jwt.MapClaims{
		"iss": testClientID, "sub": testUser, "aud": "https://login.salesforce.com",
		"exp": e.clock.Now().Add(2 * time.Minute).Unix(),
	}
	if mutate != nil {
		mutate(claims)
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(e.kp.Key)
	if err != nil {
		e.t.Fatal(err)
	}
	return signed
}

// postForm posts form values and decodes the JSON answer.
func (e *env) postForm(path string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	res, err := e.http.PostForm(e.run.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(res.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			e.t.Fatalf("%s: non-JSON answer %d %q", path, res.StatusCode, b)
		}
	}
	return res.StatusCode, body
}

// coreToken logs in with a valid assertion.
func (e *env) coreToken() string {
	e.t.Helper()
	code, body := e.postForm("/services/oauth2/token", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {e.assertion(nil)}})
	if code != 200 {
		e.t.Fatalf("login: %d %v", code, body)
	}
	return body["access_token"].(string)
}

// tenantToken logs in and exchanges.
func (e *env) tenantToken() string {
	e.t.Helper()
	code, body := e.postForm("/services/a360/token", url.Values{
		"grant_type": {GrantCDPExchange}, "subject_token": {e.coreToken()}, "subject_token_type": {TokenTypeAccessToken},
	})
	if code != 200 {
		e.t.Fatalf("exchange: %d %v", code, body)
	}
	return body["access_token"].(string)
}

// response is a decoded answer.
type response struct {
	code   int
	header http.Header
	raw    []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.raw, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %q", r.code, r.raw)
	}
	return m
}

// message returns the Spring error body's message.
func (r response) message(t *testing.T) string {
	t.Helper()
	m, _ := r.json(t)["message"].(string)
	return m
}

// do sends a tenant request; body may be a string, []byte or a value to encode as JSON.
func (e *env) do(method, path, tok string, body any, contentType string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
		if contentType == "" {
			contentType = "application/json"
		}
	}
	req, err := http.NewRequest(method, e.run.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{code: res.StatusCode, header: res.Header, raw: raw}
}

// mustStatus fails unless r has the wanted status.
func mustStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.code != want {
		t.Fatalf("status %d, want %d; body %s", r.code, want, r.raw)
	}
}

// doHeader sends a body-less request with a raw Authorization header.
func (e *env) doHeader(method, path, authorization string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.run.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return response{code: res.StatusCode, header: res.Header, raw: raw}
}
