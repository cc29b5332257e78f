package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

func startStack(t *testing.T, opts Options) *Stack {
	t.Helper()
	st, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// requireAWSCLI skips without the aws CLI unless REQUIRE_AWSCLI=1.
func requireAWSCLI(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		if os.Getenv("REQUIRE_AWSCLI") == "1" {
			t.Fatal("aws CLI not found on PATH and REQUIRE_AWSCLI=1")
		}
		t.Skip("aws CLI not found on PATH")
	}
}

// awsCLI runs the real aws CLI against the stack and returns stdout, or the error with stderr.
func awsCLI(t *testing.T, st *Stack, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", st.URL, "--output", "json"}, args...)...)
	cmd.Env = append(os.Environ(), st.Env()...)
	cmd.Env = append(cmd.Env, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), errors.New(err.Error() + ": " + errb.String())
	}
	return out.String(), nil
}

func mustCLI(t *testing.T, st *Stack, args ...string) string {
	t.Helper()
	out, err := awsCLI(t, st, args...)
	if err != nil {
		t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return out
}

type tagSet struct {
	TagSet []struct{ Key, Value string }
}

func (ts tagSet) String() string {
	var parts []string
	for _, t := range ts.TagSet {
		parts = append(parts, t.Key+"="+t.Value)
	}
	return strings.Join(parts, "&")
}

func getTags(t *testing.T, st *Stack, bucket, key string) string {
	t.Helper()
	var ts tagSet
	if err := json.Unmarshal([]byte(mustCLI(t, st, "s3api", "get-object-tagging", "--bucket", bucket, "--key", key)), &ts); err != nil {
		t.Fatal(err)
	}
	return ts.String()
}

func TestS3TaggingWithAWSCLI(t *testing.T) {
	requireAWSCLI(t)
	t.Parallel() // the aws CLI is slow to start; overlap the two CLI tests
	st := startStack(t, Options{})
	const bucket, key = "landing", "ingest/crm/Contact/2026/a b.csv"
	mustCLI(t, st, "s3api", "create-bucket", "--bucket", bucket)
	file := filepath.Join(t.TempDir(), "in.csv")
	content := "Id,Note\n1,\"line one\nline two\"\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, st, "s3api", "put-object", "--bucket", bucket, "--key", key, "--body", file, "--tagging", "team=data&stage=raw")

	steps := []struct {
		name string
		run  func() string
		want string
	}{
		{"tags from x-amz-tagging", func() string { return getTags(t, st, bucket, key) }, "stage=raw&team=data"},
		{"put-object-tagging replaces the set", func() string {
			mustCLI(t, st, "s3api", "put-object-tagging", "--bucket", bucket, "--key", key,
				"--tagging", `{"TagSet":[{"Key":"team","Value":"data"},{"Key":"datacloud-status","Value":"ingested"}]}`)
			return getTags(t, st, bucket, key)
		}, "team=data&datacloud-status=ingested"},
		{"a new put starts without tags", func() string {
			mustCLI(t, st, "s3", "cp", file, "s3://"+bucket+"/"+key)
			return getTags(t, st, bucket, key)
		}, ""},
		{"delete-object-tagging", func() string {
			mustCLI(t, st, "s3api", "put-object-tagging", "--bucket", bucket, "--key", key, "--tagging", `{"TagSet":[{"Key":"k","Value":"v"}]}`)
			mustCLI(t, st, "s3api", "delete-object-tagging", "--bucket", bucket, "--key", key)
			return getTags(t, st, bucket, key)
		}, ""},
	}
	for _, s := range steps {
		if got := s.run(); got != s.want {
			t.Errorf("%s: tags = %q, want %q", s.name, got, s.want)
		}
	}

	// The content round-trips through `aws s3 cp` with its multi-line quoted field intact.
	back := filepath.Join(t.TempDir(), "out.csv")
	mustCLI(t, st, "s3", "cp", "s3://"+bucket+"/"+key, back)
	if got, _ := os.ReadFile(back); string(got) != content {
		t.Errorf("downloaded %q, want %q", got, content)
	}

	var many []string
	for i := range 11 {
		many = append(many, fmt.Sprintf(`{"Key":"k%d","Value":"v"}`, i))
	}
	errCases := []struct {
		name string
		args []string
		want string
	}{
		{"missing key", []string{"s3api", "get-object-tagging", "--bucket", bucket, "--key", "nope"}, "NoSuchKey"},
		{"missing bucket", []string{"s3api", "get-object-tagging", "--bucket", "nobucket", "--key", "x"}, "NoSuchBucket"},
		{"too many tags", []string{"s3api", "put-object-tagging", "--bucket", bucket, "--key", key, "--tagging",
			`{"TagSet":[` + strings.Join(many, ",") + `]}`}, "InvalidTag"},
		{"aws: prefix", []string{"s3api", "put-object-tagging", "--bucket", bucket, "--key", key, "--tagging",
			`{"TagSet":[{"Key":"aws:x","Value":"v"}]}`}, "InvalidTag"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := awsCLI(t, st, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSecretsManagerWithAWSCLI(t *testing.T) {
	requireAWSCLI(t)
	t.Parallel() // the aws CLI is slow to start; overlap the two CLI tests
	st := startStack(t, Options{})
	var created struct{ ARN, Name, VersionId string }
	if err := json.Unmarshal([]byte(mustCLI(t, st, "secretsmanager", "create-secret", "--name", "datacloud/token", "--secret-string", `{"v":1}`)), &created); err != nil {
		t.Fatal(err)
	}
	if created.Name != "datacloud/token" || !strings.HasPrefix(created.ARN, "arn:aws:secretsmanager:us-east-1:123456789012:secret:datacloud/token-") {
		t.Fatalf("create-secret = %+v", created)
	}
	mustCLI(t, st, "secretsmanager", "put-secret-value", "--secret-id", "datacloud/token", "--secret-string", `{"v":2}`)

	type value struct {
		Name, SecretString, VersionId string
		VersionStages                 []string
	}
	get := func(args ...string) value {
		var v value
		out := mustCLI(t, st, append([]string{"secretsmanager", "get-secret-value"}, args...)...)
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"current by name", []string{"--secret-id", "datacloud/token"}, `{"v":2}`},
		{"current by arn", []string{"--secret-id", created.ARN}, `{"v":2}`},
		{"previous stage", []string{"--secret-id", "datacloud/token", "--version-stage", "AWSPREVIOUS"}, `{"v":1}`},
		{"by version id", []string{"--secret-id", "datacloud/token", "--version-id", created.VersionId}, `{"v":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(tc.args...); got.SecretString != tc.want {
				t.Errorf("SecretString = %q, want %q (%+v)", got.SecretString, tc.want, got)
			}
		})
	}
	if v, ok := st.SecretValue("datacloud/token"); !ok || v != `{"v":2}` {
		t.Errorf("SecretValue = %q, %v", v, ok)
	}

	var desc struct{ VersionIdsToStages map[string][]string }
	_ = json.Unmarshal([]byte(mustCLI(t, st, "secretsmanager", "describe-secret", "--secret-id", "datacloud/token")), &desc)
	if len(desc.VersionIdsToStages) != 2 || strings.Join(desc.VersionIdsToStages[created.VersionId], ",") != "AWSPREVIOUS" {
		t.Errorf("describe-secret stages = %v", desc.VersionIdsToStages)
	}
	var list struct{ SecretList []struct{ Name string } }
	_ = json.Unmarshal([]byte(mustCLI(t, st, "secretsmanager", "list-secrets")), &list)
	if len(list.SecretList) != 1 || list.SecretList[0].Name != "datacloud/token" {
		t.Errorf("list-secrets = %+v", list)
	}

	errCases := []struct {
		name string
		args []string
		want string
	}{
		{"missing secret", []string{"get-secret-value", "--secret-id", "nope"}, "ResourceNotFoundException"},
		{"duplicate create", []string{"create-secret", "--name", "datacloud/token", "--secret-string", "x"}, "ResourceExistsException"},
		{"put to missing", []string{"put-secret-value", "--secret-id", "nope", "--secret-string", "x"}, "ResourceNotFoundException"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := awsCLI(t, st, append([]string{"secretsmanager"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
	mustCLI(t, st, "secretsmanager", "delete-secret", "--secret-id", "datacloud/token", "--force-delete-without-recovery")
	if _, err := awsCLI(t, st, "secretsmanager", "get-secret-value", "--secret-id", "datacloud/token"); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("after delete: err = %v", err)
	}
}

func sdkClient(t *testing.T, st *Stack) *s3.Client {
	t.Helper()
	for _, kv := range st.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestConditionalWritesWithSDK(t *testing.T) {
	for _, versioned := range []bool{false, true} {
		t.Run(fmt.Sprintf("versioned=%v", versioned), func(t *testing.T) { testConditionalWrites(t, versioned) })
	}
}

func testConditionalWrites(t *testing.T, versioned bool) {
	st := startStack(t, Options{Buckets: []string{"landing"}, Versioned: versioned})
	c := sdkClient(t, st)
	ctx := context.Background()
	put := func(body, ifNoneMatch, ifMatch string) (string, error) {
		in := &s3.PutObjectInput{Bucket: aws.String("landing"), Key: aws.String(".datacloud-claims/abc"), Body: strings.NewReader(body)}
		if ifNoneMatch != "" {
			in.IfNoneMatch = aws.String(ifNoneMatch)
		}
		if ifMatch != "" {
			in.IfMatch = aws.String(ifMatch)
		}
		out, err := c.PutObject(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.ETag), nil
	}
	first, err := put("claim-1", "*", "")
	if err != nil {
		t.Fatalf("create-only put: %v", err)
	}
	steps := []struct {
		name                 string
		body, inm, im        string
		wantStatus           int // 0: success
		wantCode             string
		wantBodyAfterSuccess string
	}{
		{name: "create-only again", body: "claim-2", inm: "*", wantStatus: 412, wantCode: "PreconditionFailed"},
		{name: "if-match stale etag", body: "claim-2", im: `"0123456789abcdef0123456789abcdef"`, wantStatus: 412, wantCode: "PreconditionFailed"},
		{name: "if-match current etag", body: "claim-3", im: first, wantBodyAfterSuccess: "claim-3"},
		{name: "if-match the replaced etag", body: "claim-4", im: first, wantStatus: 412, wantCode: "PreconditionFailed"},
	}
	for _, s := range steps {
		_, err := put(s.body, s.inm, s.im)
		if s.wantStatus == 0 {
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			got, gerr := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("landing"), Key: aws.String(".datacloud-claims/abc")})
			if gerr != nil {
				t.Fatal(gerr)
			}
			var b bytes.Buffer
			_, _ = b.ReadFrom(got.Body)
			got.Body.Close()
			if b.String() != s.wantBodyAfterSuccess {
				t.Errorf("%s: body = %q, want %q", s.name, b.String(), s.wantBodyAfterSuccess)
			}
			continue
		}
		var ae smithy.APIError
		if httpStatus(err) != s.wantStatus || !errors.As(err, &ae) || ae.ErrorCode() != s.wantCode {
			t.Errorf("%s: err = %v, want %d %s", s.name, err, s.wantStatus, s.wantCode)
		}
	}

	// A read that pins an ETag fails once the object changed (resumed ranged reads need it).
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("landing"), Key: aws.String(".datacloud-claims/abc"), IfMatch: aws.String(first), Range: aws.String("bytes=0-2")})
	if httpStatus(err) != 412 {
		t.Errorf("get with stale If-Match: err = %v, want 412", err)
	}
}

func TestStartRejectsNonLoopback(t *testing.T) {
	_, err := Start(context.Background(), Options{Addr: "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "localstack") {
		t.Errorf("err = %v, want a localstack error for a non-loopback address", err)
	}
}

// TestSecretsManagerWithSDK checks what the functions rely on through the Go SDK: typed
// errors, version stages and idempotent retries with the same ClientRequestToken.
func TestSecretsManagerWithSDK(t *testing.T) {
	st := startStack(t, Options{})
	for _, kv := range st.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	ctx := context.Background()

	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
	var nf *smtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("missing secret: err = %v, want *types.ResourceNotFoundException", err)
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("tok"), SecretString: aws.String("{}")}); err != nil {
		t.Fatal(err)
	}
	put := func(value, token string) (*secretsmanager.PutSecretValueOutput, error) {
		return sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String("tok"), SecretString: aws.String(value), ClientRequestToken: aws.String(token)})
	}
	const token = "11111111-2222-4333-8444-555555555555"
	first, err := put(`{"access_token":"a"}`, token)
	if err != nil {
		t.Fatal(err)
	}
	again, err := put(`{"access_token":"a"}`, token)
	if err != nil || aws.ToString(again.VersionId) != aws.ToString(first.VersionId) {
		t.Errorf("retry with the same token: %v, version %s vs %s", err, aws.ToString(again.VersionId), aws.ToString(first.VersionId))
	}
	_, err = put(`{"access_token":"b"}`, token)
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		t.Errorf("same token, other value: err = %v, want *types.ResourceExistsException", err)
	}
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("tok")})
	if err != nil || aws.ToString(got.SecretString) != `{"access_token":"a"}` || aws.ToString(got.VersionId) != token {
		t.Errorf("current value = %v %q %q", err, aws.ToString(got.SecretString), aws.ToString(got.VersionId))
	}
	prev, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("tok"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(prev.SecretString) != "{}" {
		t.Errorf("previous value = %v %q", err, aws.ToString(prev.SecretString))
	}
}
