package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// Identities registered in every world's emulator.
const (
	clientID = "e2e-connected-app"
	username = "integration@e2e.example.com"
)

// invokeTimeout bounds one invoke from the test's side (the function's own timeout is
// shorter).
const invokeTimeout = 2 * time.Minute

var worldSeq atomic.Int64

// world is one test's system: a fresh Data Cloud emulator over TLS with a registered app, a
// bucket and the two secrets on the shared AWS backend.
type world struct {
	t   *testing.T
	be  *backend
	DC  *datacloudtest.Server
	srv *datacloudtest.Running
	Key *datacloudtest.KeyPair
	// Bucket, TokenSecret and CredSecret are this world's own names.
	Bucket, TokenSecret, CredSecret string
}

// newWorld builds a world; opts configures the emulator (zero for defaults).
func newWorld(t *testing.T, be *backend, opts datacloudtest.Options) *world {
	t.Helper()
	n := worldSeq.Add(1)
	w := &world{
		t:           t,
		be:          be,
		Bucket:      fmt.Sprintf("e2e-%d-%d", time.Now().UnixNano()%1e9, n),
		TokenSecret: fmt.Sprintf("e2e/%d/token", n),
		CredSecret:  fmt.Sprintf("e2e/%d/credentials", n),
	}
	if opts.StreamingRequestsPerSecond == 0 { // as Data Cloud does: the functions must keep to it
		opts.StreamingRequestsPerSecond = datacloud.MaxStreamingRequestsPerSecond
	}
	w.DC = datacloudtest.New(opts)
	t.Cleanup(func() { _ = w.DC.Close() })
	w.srv = w.DC.StartTLS()
	t.Cleanup(func() { _ = w.srv.Close() })
	addSecrets(w.DC.IssuedSecrets)

	w.Key = sharedKey(t)
	if err := w.DC.RegisterApp(datacloudtest.App{ClientID: clientID, Usernames: []string{username}, CertificatePEM: w.Key.CertPEM}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := be.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(w.Bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	w.putSecret(w.CredSecret, w.credentials(w.srv.URL))
	// As template.yaml creates it: an empty JSON object until tokenrefresh first runs.
	w.putSecret(w.TokenSecret, "{}")
	return w
}

// credentials is the credentials secret's JSON (contract §2.1) with loginURL.
func (w *world) credentials(loginURL string) string {
	b, _ := json.Marshal(map[string]string{
		"client_id":   clientID,
		"username":    username,
		"private_key": w.Key.PKCS8PEM,
		"login_url":   loginURL,
		// No audience: the default (https://login.salesforce.com) applies.
	})
	return string(b)
}

// LoginURL is the emulator's origin (https://127.0.0.1:port).
func (w *world) LoginURL() string { return w.srv.URL }

// InstanceURL is what a token's instance_url must be: the exchange answers a bare host,
// which means https.
func (w *world) InstanceURL() string { return w.srv.URL }

// putSecret creates a secret, or stores a new current value when it exists.
func (w *world) putSecret(id, value string) {
	w.t.Helper()
	ctx := context.Background()
	_, err := w.be.SM.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(value)})
	if err != nil && strings.Contains(err.Error(), "ResourceExists") {
		_, err = w.be.SM.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(value)})
	}
	if err != nil {
		w.t.Fatalf("put secret %s: %v", id, err)
	}
}

// getSecret returns a secret's current value.
func (w *world) getSecret(id string) string {
	w.t.Helper()
	out, err := w.be.SM.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		w.t.Fatalf("get secret %s: %v", id, err)
	}
	return aws.ToString(out.SecretString)
}

// storedToken is the token secret's JSON (contract §2.2).
type storedToken struct {
	AccessToken string `json:"access_token"`
	InstanceURL string `json:"instance_url"`
	TokenType   string `json:"token_type"`
	IssuedAt    string `json:"issued_at"`
	ExpiresAt   string `json:"expires_at"`
	Dataspace   string `json:"dataspace"`
}

// seedToken stores a valid Data Cloud token issued by the emulator (skipping tokenrefresh)
// expiring in ttl, and returns it.
func (w *world) seedToken(ttl time.Duration) storedToken {
	w.t.Helper()
	now := time.Now().UTC()
	tok := storedToken{
		AccessToken: w.DC.IssueTenantToken(username),
		InstanceURL: w.InstanceURL(),
		TokenType:   "Bearer",
		IssuedAt:    now.Format(time.RFC3339),
		ExpiresAt:   now.Add(ttl).Format(time.RFC3339),
	}
	b, _ := json.Marshal(tok)
	w.putSecret(w.TokenSecret, string(b))
	return tok
}

// Env is the environment every function gets: the backend, the secrets, the emulator's CA
// and host, and debug logging (so more of the code's log lines are checked for leaks).
func (w *world) Env(extra ...string) []string {
	env := append([]string{}, w.be.Env...)
	env = append(env,
		"DATACLOUD_TOKEN_SECRET="+w.TokenSecret,
		"DATACLOUD_CREDENTIALS_SECRET="+w.CredSecret,
		"DATACLOUD_ALLOWED_HOSTS=127.0.0.1,localhost",
		"SSL_CERT_FILE="+w.srv.CACertFile,
		"LOG_LEVEL=debug",
	)
	return append(env, extra...)
}

// fn is a function running under the RIE in a world.
type fn struct {
	w    *world
	name string
	rt   *lambdarun.Runtime
}

// fnOptions tunes a function run.
type fnOptions struct {
	Timeout time.Duration // default 60s
	Env     []string      // added to (and overriding) the world's Env
	// Without drops variables (by name) from the environment, to test init failures.
	Without []string
}

// start runs a function's bootstrap under the RIE with the world's environment.
func (w *world) start(name string, o fnOptions) *fn {
	w.t.Helper()
	boot := bootstrap(w.t, name)
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	env := w.Env(o.Env...)
	if len(o.Without) > 0 {
		drop := map[string]bool{}
		for _, k := range o.Without {
			drop[k] = true
		}
		kept := env[:0:0]
		for _, kv := range env {
			if k, _, _ := strings.Cut(kv, "="); !drop[k] {
				kept = append(kept, kv)
			}
		}
		env = kept
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := lambdarun.Start(ctx, lambdarun.Config{
		Bootstrap:    boot,
		Env:          env,
		Timeout:      o.Timeout,
		MemoryMB:     256,
		FunctionName: name,
		Stdout:       transcript,
		Stderr:       transcript,
	})
	if err != nil {
		transcript.record("start error", []byte(err.Error()))
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = rt.Close() })
	return &fn{w: w, name: name, rt: rt}
}

// invoke sends payload (a []byte, string or anything JSON-encodable) and returns the result.
// Everything the invoke produced goes to the transcript.
func (f *fn) invoke(payload any) lambdarun.Result {
	f.w.t.Helper()
	var body []byte
	switch p := payload.(type) {
	case []byte:
		body = p
	case string:
		body = []byte(p)
	default:
		var err error
		if body, err = json.Marshal(p); err != nil {
			f.w.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
	defer cancel()
	res, err := f.rt.Invoke(ctx, body)
	transcript.record(f.name+" answer", res.Payload)
	if err != nil {
		transcript.record(f.name+" invoke error", []byte(err.Error()))
		f.w.t.Fatalf("invoke %s: %v", f.name, err)
	}
	return res
}

// mustSucceed fails the test unless the invoke succeeded, showing its logs.
func mustSucceed(t *testing.T, res lambdarun.Result) {
	t.Helper()
	if res.FunctionError != "" {
		t.Fatalf("function error %s: %s\n%s", res.FunctionError, res.ErrorMessage, res.Logs)
	}
}

// mustFail fails the test unless the invoke failed.
func mustFail(t *testing.T, res lambdarun.Result) {
	t.Helper()
	if res.FunctionError == "" {
		t.Fatalf("invoke succeeded with %s, want a function error\n%s", res.Payload, res.Logs)
	}
}

// decode unmarshals an answer.
func decode[T any](t *testing.T, res lambdarun.Result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.Payload, &v); err != nil {
		t.Fatalf("answer %q: %v", res.Payload, err)
	}
	return v
}

// hostOf returns the host:port of a URL.
func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
