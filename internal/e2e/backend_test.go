package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dcbridge/datacloud-lambda/internal/testenv"
)

// backend is an AWS API endpoint (S3 and Secrets Manager) the functions, the SDK and the aws
// CLI share. One instance per kind serves the whole test binary; tests keep apart by using
// their own bucket and secret names.
type backend struct {
	Name string
	// Env points the SDK and the CLI at the backend with test credentials.
	Env []string
	// Endpoint is the base URL (AWS_ENDPOINT_URL).
	Endpoint string
	S3       *s3.Client
	SM       *secretsmanager.Client
}

// backendKind starts one kind of backend. skip is non-empty when the kind cannot run here
// (a missing tool); require names the variable that turns that skip into a failure.
type backendKind struct {
	name    string
	require string
	start   func(ctx context.Context) (env []string, endpoint string, stop func(), skip string, err error)
}

// backendKinds lists every backend the suite runs against. Adding one is one line here.
var backendKinds = []backendKind{
	{name: "moto", require: "REQUIRE_MOTO", start: startMoto},
	{name: "embedded", require: "", start: startEmbedded},
}

func startMoto(ctx context.Context) ([]string, string, func(), string, error) {
	if _, err := exec.LookPath("moto_server"); err != nil {
		return nil, "", nil, "moto_server not on PATH", nil
	}
	m, err := testenv.StartMoto(ctx)
	if err != nil {
		return nil, "", nil, "", err
	}
	return m.Env(), m.URL, m.Close, "", nil
}

// started backends, shared by all tests; stopped by TestMain.
var (
	backendsMu sync.Mutex
	started    = map[string]*startedBackend{}
)

type startedBackend struct {
	be   *backend
	skip string
	err  error
	stop func()
}

// backends returns the backends to run against, starting each on first use. A backend that
// cannot run here is skipped in its own subtest (or fails it when its REQUIRE_ variable is 1).
func backends(t *testing.T) []backendKind {
	t.Helper()
	return backendKinds
}

// forEachBackend runs f as a subtest per backend.
func forEachBackend(t *testing.T, f func(t *testing.T, be *backend)) {
	t.Helper()
	for _, kind := range backends(t) {
		t.Run(kind.name, func(t *testing.T) {
			f(t, kind.get(t))
		})
	}
}

// get returns the running backend of this kind, starting it once.
func (k backendKind) get(t *testing.T) *backend {
	t.Helper()
	backendsMu.Lock()
	sb, ok := started[k.name]
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		env, endpoint, stop, skip, err := k.start(ctx)
		cancel()
		sb = &startedBackend{skip: skip, err: err, stop: stop}
		if err == nil && skip == "" {
			sb.be, sb.err = newBackend(k.name, env, endpoint)
		}
		started[k.name] = sb
	}
	backendsMu.Unlock()
	switch {
	case sb.err != nil:
		t.Fatalf("backend %s: %v", k.name, sb.err)
	case sb.skip != "":
		if k.require != "" && os.Getenv(k.require) == "1" {
			t.Fatalf("backend %s is required (%s=1): %s", k.name, k.require, sb.skip)
		}
		t.Skipf("backend %s: %s", k.name, sb.skip)
	}
	return sb.be
}

// stopBackends stops every backend started so far.
func stopBackends() {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	for name, sb := range started {
		if sb.stop != nil {
			sb.stop()
		}
		delete(started, name)
	}
}

func newBackend(name string, env []string, endpoint string) (*backend, error) {
	vars := envMap(env)
	for _, k := range []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		if vars[k] == "" {
			return nil, fmt.Errorf("backend %s: its Env() lacks %s", name, k)
		}
	}
	cfg := aws.Config{
		Region:      vars["AWS_REGION"],
		Credentials: credentials.NewStaticCredentialsProvider(vars["AWS_ACCESS_KEY_ID"], vars["AWS_SECRET_ACCESS_KEY"], vars["AWS_SESSION_TOKEN"]),
	}
	s3URL := firstNonEmpty(vars["AWS_ENDPOINT_URL_S3"], endpoint)
	smURL := firstNonEmpty(vars["AWS_ENDPOINT_URL_SECRETS_MANAGER"], endpoint)
	return &backend{
		Name:     name,
		Env:      env,
		Endpoint: endpoint,
		S3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.BaseEndpoint = aws.String(s3URL)
			o.UsePathStyle = true
		}),
		SM: secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
			o.BaseEndpoint = aws.String(smURL)
		}),
	}, nil
}

// envMap turns KEY=value pairs into a map (later values win).
func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
