package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/internal/s3object"
	"github.com/dcbridge/datacloud-lambda/internal/testenv"
	"github.com/dcbridge/datacloud-lambda/internal/tokenstore"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopSharedMoto()
	os.Exit(code)
}

const (
	testClientID = "3MVG9test"
	testUser     = "integration@example.com"
)

// syncBuffer collects log lines from concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is the whole pipeline on real parts: S3 and Secrets Manager on moto_server, the
// token store with a refresher, the Data Cloud client against the in-process emulator.
type fixture struct {
	t       testing.TB
	s3      *s3.Client
	bucket  string
	dc      *datacloudtest.Server
	run     *datacloudtest.Running
	client  *datacloud.Client
	in      *Ingester
	h       *Handler
	logs    *syncBuffer
	metrics *syncBuffer
}

type fixtureOpt func(*Config, *[]Option)

func withConfig(fn func(*Config)) fixtureOpt { return func(c *Config, _ *[]Option) { fn(c) } }

func newFixture(t testing.TB, opts ...fixtureOpt) *fixture {
	t.Helper()
	moto := testenv.SharedMoto(t)
	ctx := context.Background()
	f := &fixture{t: t, logs: &syncBuffer{}, metrics: &syncBuffer{}}
	creds := credentials.NewStaticCredentialsProvider("testing", "testing", "")
	f.s3 = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto.URL), UsePathStyle: true, Credentials: creds})
	sm := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto.URL), Credentials: creds})
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	suffix := hex.EncodeToString(rnd[:])
	f.bucket = "land-" + suffix
	if _, err := f.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(f.bucket)}); err != nil {
		t.Fatal(err)
	}

	f.dc = datacloudtest.New(datacloudtest.Options{Seed: 11})
	t.Cleanup(func() { f.dc.Close() })
	kp := datacloudtest.NewKeyPair(t)
	if err := f.dc.RegisterApp(datacloudtest.App{ClientID: testClientID, Usernames: []string{testUser}, CertificatePEM: kp.CertPEM}); err != nil {
		t.Fatal(err)
	}
	f.run = f.dc.Start()
	t.Cleanup(func() { f.run.Close() })
	hosts, err := datacloud.ParseAllowedHosts("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	credJSON, _ := json.Marshal(datacloud.Credentials{ClientID: testClientID, Username: testUser, PrivateKeyPEM: kp.PKCS8PEM, LoginURL: f.run.URL})
	credID := f.secret(sm, "creds-"+suffix, string(credJSON))
	tok := f.dc.IssueTenantToken(testUser)
	now := time.Now().UTC()
	tokenID := f.secret(sm, "token-"+suffix, fmt.Sprintf(`{"access_token":%q,"instance_url":%q,"token_type":"Bearer","issued_at":%q,"expires_at":%q,"dataspace":""}`,
		tok, f.run.URL, now.Format(time.RFC3339), now.Add(2*time.Hour).Format(time.RFC3339)))
	store := tokenstore.NewStore(sm, tokenID)
	refresher := tokenstore.NewRefresher(store, sm, credID, tokenstore.NewAuthFactory(
		datacloud.WithAuthAllowedHosts(hosts), datacloud.WithAuthHTTPClient(f.run.Client())))
	src := tokenstore.NewSecretTokenSource(store, refresher)

	log := obs.NewLogger(f.logs, slog.LevelDebug)
	metrics := obs.NewMetrics("s3ingest")
	f.client, err = datacloud.NewClient(src, datacloud.WithAllowedHosts(hosts), datacloud.WithHTTPClient(f.run.Client()),
		datacloud.WithRetryPolicy(CountRetries(datacloud.ExponentialBackoff{MaxAttempts: 4, Base: time.Millisecond, Cap: 5 * time.Millisecond}, metrics)),
		datacloud.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Prefix: "ingest/", MinMargin: time.Second}
	ingOpts := []Option{WithLogger(log), WithMetrics(metrics)}
	for _, o := range opts {
		o(&cfg, &ingOpts)
	}
	f.in, err = New(cfg, f.s3, f.client, ingOpts...)
	if err != nil {
		t.Fatal(err)
	}
	f.h = &Handler{Ingester: f.in, Log: log, MetricsOut: f.metrics}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", f.logs.String())
		}
	})
	return f
}

func (f *fixture) secret(sm *secretsmanager.Client, name, value string) string {
	f.t.Helper()
	out, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		f.t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

// landed is an object the test put, with what it looked like.
type landed struct {
	ref  ObjectRef
	body []byte
}

func (f *fixture) put(key string, body []byte) landed {
	f.t.Helper()
	out, err := f.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		f.t.Fatalf("put %s: %v", key, err)
	}
	return landed{ref: ObjectRef{Bucket: f.bucket, Key: key, ETag: strings.Trim(aws.ToString(out.ETag), `"`), Size: int64(len(body))}, body: body}
}

// s3Event is an S3 notification for objects, keys URL-encoded as S3 sends them.
func s3Event(objs ...landed) json.RawMessage {
	var recs []string
	for _, o := range objs {
		recs = append(recs, s3RecV("ObjectCreated:Put", o.ref.Bucket, url.QueryEscape(o.ref.Key), o.ref.ETag, o.ref.VersionID))
	}
	return json.RawMessage(s3Notification(recs...))
}

func (f *fixture) invoke(ev json.RawMessage) (any, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return f.h.Handle(ctx, ev)
}

func (f *fixture) tags(o landed) map[string]string {
	f.t.Helper()
	out, err := f.s3.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: aws.String(o.ref.Bucket), Key: aws.String(o.ref.Key)})
	if err != nil {
		f.t.Fatal(err)
	}
	m := map[string]string{}
	for _, tg := range out.TagSet {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// assertUnchanged checks that the landed object still has its bytes and ETag.
func (f *fixture) assertUnchanged(objs ...landed) {
	f.t.Helper()
	for _, o := range objs {
		out, err := f.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(o.ref.Bucket), Key: aws.String(o.ref.Key)})
		if err != nil {
			f.t.Fatalf("%s is gone: %v", o.ref.Key, err)
		}
		b, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			f.t.Fatal(err)
		}
		if !bytes.Equal(b, o.body) || !s3object.SameETag(aws.ToString(out.ETag), o.ref.ETag) {
			f.t.Errorf("%s changed (etag %s -> %s)", o.ref.Key, o.ref.ETag, aws.ToString(out.ETag))
		}
	}
}

// assertStatus checks the outcome tags of an object.
func (f *fixture) assertTags(o landed, status, records string) map[string]string {
	f.t.Helper()
	tg := f.tags(o)
	if tg[s3object.TagStatus] != status || (records != "" && tg[s3object.TagRecords] != records) {
		f.t.Errorf("%s: tags %v, want status %s records %s", o.ref.Key, tg, status, records)
	}
	if status == s3object.StatusIngested && tg[s3object.TagError] != "" {
		f.t.Errorf("%s: ingested but error tag %q", o.ref.Key, tg[s3object.TagError])
	}
	return tg
}

// jobs returns the emulator's jobs.
func (f *fixture) jobs() []datacloudtest.Job { return f.dc.Jobs() }

func (f *fixture) countRequests(method, pathPrefix string) int {
	n := 0
	for _, r := range f.dc.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}
