package datacloud

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// testKey is one RSA key shared by the package's tests (generating one takes a while).
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pkcs1PEM(t *testing.T) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey())}))
}

func pkcs8PEM(t *testing.T) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(testKey())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// loopbackHosts allows the httptest servers (127.0.0.1).
func loopbackHosts(t *testing.T) AllowedHosts {
	t.Helper()
	h, err := ParseAllowedHosts("127.0.0.1,localhost")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fastRetry retries like the default policy but with millisecond waits.
func fastRetry(attempts int) RetryPolicy {
	return ExponentialBackoff{MaxAttempts: attempts, Base: time.Millisecond, Cap: 2 * time.Millisecond}
}

const testTenantToken = "tenant-token-3f9a1c77e2b5d40a"

// tenant is a test Data Cloud tenant: an httptest server with a mux, and a client holding a
// static token for it.
type tenant struct {
	mux    *http.ServeMux
	srv    *httptest.Server
	client *Client
	tok    Token
}

// setup starts a tenant server; opts are added after the test defaults.
func setup(t *testing.T, opts ...Option) *tenant {
	t.Helper()
	tn := &tenant{mux: http.NewServeMux()}
	tn.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testTenantToken {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"timestamp":"2021-01-08T11:53:29.668+0000","error":"Unauthorized","message":"Authorization header verification failed","internalErrorCode":"COMMON_ERROR_GENERIC"}`))
			return
		}
		tn.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(tn.srv.Close)
	tn.tok = Token{AccessToken: testTenantToken, InstanceURL: tn.srv.URL, TokenType: "Bearer", ExpiresAt: time.Now().Add(time.Hour)}
	all := append([]Option{WithAllowedHosts(loopbackHosts(t)), WithRetryPolicy(fastRetry(3)),
		WithJobPollInterval(time.Millisecond, 4*time.Millisecond)}, opts...)
	c, err := NewClient(StaticTokenSource(tn.tok), all...)
	if err != nil {
		t.Fatal(err)
	}
	tn.client = c
	return tn
}

// reply returns a handler answering status and body (JSON unless it starts with '<').
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ct := "application/json"
		if len(body) > 0 && body[0] == '<' {
			ct = "text/html; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// hijackClose is a handler that drops the connection without answering (a reset mid-request).
func hijackClose(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("response writer cannot hijack")
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}
}
