package datacloud

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestNoSecretInAnyError drives every login, exchange and tenant failure of the other
// tables, collects the error strings (and the debug log of the retries) and searches them
// for every token, assertion and line of key material involved.
func TestNoSecretInAnyError(t *testing.T) {
	var texts []string
	secrets := []string{testTenantToken}
	for _, p := range []string{pkcs1PEM(t), pkcs8PEM(t)} {
		for line := range strings.Lines(p) {
			if line = strings.TrimSpace(line); !strings.HasPrefix(line, "-----") && len(line) >= 16 {
				secrets = append(secrets, line)
			}
		}
	}
	collect := func(err error) {
		if err == nil {
			t.Error("a failure case did not fail")
			return
		}
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}

	for _, tt := range authFailures {
		f := newFakeSF(t)
		if tt.login != nil {
			f.login = tt.login(f)
		}
		if tt.exchange != nil {
			f.exchange = tt.exchange(f)
		}
		for _, key := range []string{pkcs1PEM(t), pkcs8PEM(t)} {
			c := f.creds(t)
			c.PrivateKeyPEM = key
			_, err := f.auth(t, c).Token(context.Background())
			collect(err)
		}
		secrets = append(secrets, f.secrets()...)
	}
	// A tenant URL outside the allow-list, after a successful login and exchange.
	f := newFakeSF(t)
	f.tenantURL = "https://tenant.evil.example"
	_, err := f.auth(t, f.creds(t)).Token(context.Background())
	collect(err)
	secrets = append(secrets, f.secrets()...)

	var logBuf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, tt := range tenantFailures {
		tn := setup(t, WithLogger(logger))
		tn.mux.HandleFunc("POST /api/v2/query", tt.handler)
		_, err := tn.client.QueryV2(context.Background(), "SELECT 1")
		collect(err)
	}
	for _, fail := range []http.HandlerFunc{hijackClose(t), reply(500, `{"error":"x","message":"Bearer `+testTenantToken+`"}`)} {
		tn := setup(t, WithLogger(logger))
		tn.mux.HandleFunc("PUT /api/v1/ingest/jobs/j1/batches", fail)
		collect(upload(tn.client))
	}
	texts = append(texts, logBuf.String())

	if len(secrets) < 20 {
		t.Fatalf("only %d secrets collected; the fake servers issued too few", len(secrets))
	}
	for _, s := range secrets {
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Errorf("secret %.12s... appears in %q", s, text)
			}
		}
	}
	if !strings.Contains(logBuf.String(), "datacloud retry") {
		t.Error("the retries were not logged, so the log check proves nothing")
	}
}

func TestRedactErrKeepsTheChain(t *testing.T) {
	inner := fmt.Errorf("dial: %w", context.DeadlineExceeded)
	wrapped := fmt.Errorf("sending secret-value-123: %w", inner)
	got := redactErr(wrapped, "secret-value-123")
	if strings.Contains(got.Error(), "secret-value-123") || !strings.Contains(got.Error(), "[redacted]") {
		t.Errorf("Error() = %q", got.Error())
	}
	if !errorsIs(got, context.DeadlineExceeded) {
		t.Error("the chain was lost")
	}
	if same := redactErr(inner, "secret-value-123"); same != inner {
		t.Error("an error without secrets should be returned as is")
	}
	if redactErr(inner, "short") != inner {
		t.Error("short strings are not redacted")
	}
}

func errorsIs(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestShortTextAndTruncate(t *testing.T) {
	long := strings.Repeat("é", 300) // 2 bytes each
	tests := []struct {
		name, in, want string
	}{
		{"title", "<html><head><title> Bad\n Gateway </title></head></html>", "Bad Gateway"},
		{"script dropped", "<body><script>alert(1)</script><p>Oops</p></body>", "Oops"},
		{"invalid utf-8", "a\xffb", "a?b"},
		{"truncated on a rune boundary", long, strings.Repeat("é", 100) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shortText([]byte(tt.in)); got != tt.want {
				t.Errorf("shortText = %q, want %q", got, tt.want)
			}
		})
	}
	if got := shortString(map[string]any{"k": 1}); got != `{"k":1}` {
		t.Errorf("shortString(object) = %q", got)
	}
	if got := shortString(nil); got != "" {
		t.Errorf("shortString(nil) = %q", got)
	}
}

func TestClientOptions(t *testing.T) {
	hc := &http.Client{Timeout: time.Second}
	c, err := NewClient(StaticTokenSource(Token{}), WithHTTPClient(hc), WithLogger(nil))
	if err != nil || c.hc.Timeout != time.Second || c.hc.CheckRedirect == nil || c.log == nil {
		t.Fatalf("%v %v", c, err)
	}
	if hc.CheckRedirect != nil {
		t.Error("the caller's HTTP client was modified")
	}
	c, _ = NewClient(StaticTokenSource(Token{}), WithHTTPClient(nil))
	tr, ok := c.hc.Transport.(*http.Transport)
	if !ok || tr != defaultHTTPClient.Transport || tr.WriteBufferSize != 64<<10 || defaultHTTPClient.CheckRedirect != nil {
		t.Error("nil HTTP client not replaced by a copy of the default (64 KiB buffers)")
	}
}
