package awsenv

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbridge/datacloud-lambda/internal/testenv"
)

// setEnv applies moto's environment to the process for one test.
func setEnv(t *testing.T, kv []string) {
	t.Helper()
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		t.Setenv(k, v)
	}
}

func TestLoadAndPathStyleAgainstMoto(t *testing.T) {
	m := testenv.MotoForTest(t)
	tests := []struct {
		name     string
		endpoint string // which variable carries the endpoint
	}{
		{name: "global endpoint", endpoint: "AWS_ENDPOINT_URL"},
		{name: "s3 endpoint", endpoint: "AWS_ENDPOINT_URL_S3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, m.Env())
			t.Setenv("AWS_ENDPOINT_URL", "")
			t.Setenv(tt.endpoint, m.URL)
			ctx := context.Background()
			cfg, err := Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			client := s3.NewFromConfig(cfg, S3Options)
			if !client.Options().UsePathStyle {
				t.Fatal("UsePathStyle not set with an S3 endpoint override")
			}
			// A dotted bucket name cannot work virtual-hosted against 127.0.0.1.
			bucket := "awsenv.test-" + strings.ToLower(strings.ReplaceAll(tt.name, " ", "-"))
			if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
				t.Fatalf("create bucket: %v", err)
			}
			if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("k"), Body: strings.NewReader("hello")}); err != nil {
				t.Fatalf("put: %v", err)
			}
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("k")})
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			defer out.Body.Close()
			b, _ := io.ReadAll(out.Body)
			if string(b) != "hello" {
				t.Fatalf("got %q", b)
			}
		})
	}
}

func TestS3OptionsWithoutOverride(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	var o s3.Options
	S3Options(&o)
	if o.UsePathStyle {
		t.Fatal("UsePathStyle set without an endpoint override")
	}
}

func TestLoadWithoutRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "missing")) // a path that cannot exist, whatever the machine holds
	_, err := Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("err = %v, want one naming AWS_REGION", err)
	}
}
