package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/internal/localstack"
	"github.com/dcbridge/datacloud-lambda/internal/s3object"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// Names the bench uses in the stack and the emulator.
const (
	benchBucket      = "bench-landing"
	benchTokenSecret = "bench/datacloud-token"
	benchCredSecret  = "bench/datacloud-credentials"
	benchClientID    = "bench-connected-app"
	benchUser        = "bench@example.com"
	benchSource      = "bench_api"
	benchObject      = "Contact"
)

// world is the running system one bench run measures against: the embedded S3 and Secrets
// Manager, a Data Cloud emulator, the built bootstraps and a token the functions read.
type world struct {
	cfg   Config
	log   io.Writer
	dir   string
	stack *localstack.Stack
	dc    *datacloudtest.Server
	dcRun *datacloudtest.Running
	s3    *s3.Client
	http  *http.Client // plain client for S3 (loopback HTTP)
	dcHC  *http.Client // trusts the emulator's certificate
	token datacloud.Token
	boots map[string]string // package → bootstrap path
}

// newWorld starts the stack and an emulator. dcOpts configures the emulator; boots caches
// built bootstraps across worlds.
func newWorld(ctx context.Context, cfg Config, log io.Writer, dir string, boots map[string]string, dcOpts datacloudtest.Options) (*world, error) {
	st, err := localstack.Start(ctx, localstack.Options{Buckets: []string{benchBucket}})
	if err != nil {
		return nil, err
	}
	w := &world{cfg: cfg, log: log, dir: dir, stack: st, boots: boots}
	w.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true}}
	w.dc = datacloudtest.New(dcOpts)
	if w.dcRun, err = w.dc.Listen("127.0.0.1:0", cfg.TLS); err != nil {
		w.Close()
		return nil, err
	}
	w.dcHC = w.dcRun.Client()
	w.dcHC.Timeout = 0 // large uploads take longer than the default
	if tr, ok := w.dcHC.Transport.(*http.Transport); ok {
		tr.DisableCompression = true
	}
	w.s3 = s3.New(s3.Options{
		Region:       st.Region,
		BaseEndpoint: aws.String(st.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	if err := w.seedSecrets(); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// seedSecrets registers a connected app and stores the credentials secret and a valid token
// secret (contract §2), so that no function needs to log in during a measurement.
func (w *world) seedSecrets() error {
	kp, err := datacloudtest.GenerateKeyPair()
	if err != nil {
		return err
	}
	if err := w.dc.RegisterApp(datacloudtest.App{ClientID: benchClientID, Usernames: []string{benchUser}, CertificatePEM: kp.CertPEM}); err != nil {
		return err
	}
	creds, _ := json.Marshal(map[string]string{
		"client_id": benchClientID, "username": benchUser, "private_key": kp.PKCS8PEM,
		"login_url": w.dcRun.URL, "audience": w.dcRun.URL,
	})
	if _, err := w.stack.PutSecret(benchCredSecret, string(creds)); err != nil {
		return err
	}
	now := time.Now().UTC()
	w.token = datacloud.Token{
		AccessToken: w.dc.IssueTenantToken(benchUser), InstanceURL: w.dcRun.URL, TokenType: "Bearer",
		IssuedAt: now, ExpiresAt: now.Add(datacloudtest.DefaultTokenTTL),
	}
	tok, _ := json.Marshal(map[string]string{
		"access_token": w.token.AccessToken, "instance_url": w.token.InstanceURL, "token_type": "Bearer",
		"issued_at": now.Format(time.RFC3339), "expires_at": w.token.ExpiresAt.Format(time.RFC3339),
	})
	_, err = w.stack.PutSecret(benchTokenSecret, string(tok))
	return err
}

// functionEnv is every function's environment: the stack, the secrets and the emulator.
func (w *world) functionEnv(extra ...string) []string {
	env := append([]string{}, w.stack.Env()...)
	env = append(env,
		"DATACLOUD_TOKEN_SECRET="+benchTokenSecret,
		"DATACLOUD_CREDENTIALS_SECRET="+benchCredSecret,
		"DATACLOUD_ALLOWED_HOSTS=127.0.0.1,localhost",
		"LOG_LEVEL=info",
	)
	if w.dcRun.CACertFile != "" {
		env = append(env, "SSL_CERT_FILE="+w.dcRun.CACertFile)
	}
	return append(env, extra...)
}

// client is a pkg/datacloud client with the functions' token.
func (w *world) client() (*datacloud.Client, error) {
	hosts, err := datacloud.ParseAllowedHosts("127.0.0.1,localhost")
	if err != nil {
		return nil, err
	}
	return datacloud.NewClient(datacloud.StaticTokenSource(w.token),
		datacloud.WithHTTPClient(w.dcHC), datacloud.WithAllowedHosts(hosts))
}

// bootstrap builds a main package once (stripped, as for Lambda) and returns its path.
func (w *world) bootstrap(ctx context.Context, pkg string) (string, error) {
	if p, ok := w.boots[pkg]; ok {
		return p, nil
	}
	out := filepath.Join(w.dir, "build", strings.NewReplacer("/", "_", ".", "_").Replace(pkg))
	p, err := lambdarun.Build(ctx, pkg, out, "", "")
	if err != nil {
		return "", err
	}
	w.boots[pkg] = p
	return p, nil
}

// startFunction runs a bootstrap under the RIE with the functions' environment.
func (w *world) startFunction(ctx context.Context, pkg, name string, timeout time.Duration, extra ...string) (*lambdarun.Runtime, error) {
	boot, err := w.bootstrap(ctx, pkg)
	if err != nil {
		return nil, err
	}
	env := append(w.functionEnv(extra...), w.cfg.ExtraEnv...)
	cfg := lambdarun.Config{Bootstrap: boot, Env: env, Timeout: timeout, MemoryMB: 1024, FunctionName: name}
	if w.cfg.Verbose {
		cfg.Stdout, cfg.Stderr = w.log, w.log
	}
	return lambdarun.Start(ctx, cfg)
}

// objectURL is the path-style URL of a key in the bench bucket.
func (w *world) objectURL(key string) string {
	return w.stack.URL + "/" + benchBucket + "/" + (&url.URL{Path: key}).EscapedPath()
}

// putFile lands a file in the bench bucket with a plain PUT and returns its ETag.
func (w *world) putFile(ctx context.Context, key, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, w.objectURL(key), f)
	if err != nil {
		return "", err
	}
	req.ContentLength = st.Size()
	resp, err := w.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("put s3://%s/%s: %w", benchBucket, key, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("put s3://%s/%s: %s", benchBucket, key, resp.Status)
	}
	return strings.Trim(resp.Header.Get("ETag"), `"`), nil
}

// deleteObject removes a landed file (the in-memory S3 would otherwise keep every case).
func (w *world) deleteObject(ctx context.Context, key string) {
	_, _ = w.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(key)})
}

// tags returns the object's tags.
func (w *world) tags(ctx context.Context, key string) (map[string]string, error) {
	return s3object.NewTagger(w.s3).Tags(ctx, s3object.Object{Bucket: benchBucket, Key: key})
}

// Close stops everything the world started.
func (w *world) Close() {
	if w.dcRun != nil {
		_ = w.dcRun.Close()
	}
	if w.dc != nil {
		_ = w.dc.Close()
	}
	if w.stack != nil {
		_ = w.stack.Close()
	}
}

// s3Event is a direct S3 ObjectCreated notification for one object.
func s3Event(key, etag string, size int64) []byte {
	ev := map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": localstack.DefaultRegion,
		"eventTime": time.Now().UTC().Format(time.RFC3339), "eventName": "ObjectCreated:Put",
		"s3": map[string]any{
			"s3SchemaVersion": "1.0",
			"bucket":          map[string]any{"name": benchBucket, "arn": "arn:aws:s3:::" + benchBucket},
			"object":          map[string]any{"key": key, "size": size, "eTag": etag}, // keys here need no escaping
		},
	}}}
	b, _ := json.Marshal(ev)
	return b
}
