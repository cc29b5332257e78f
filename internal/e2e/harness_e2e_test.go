package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// TestHarness checks the harness itself with the hello bootstrap: the function sees the
// world's environment, and the SDK and the aws CLI see the same backend.
func TestHarness(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		hello := w.start("hello", fnOptions{Env: []string{"E2E_PROBE=42"}, Without: []string{"LOG_LEVEL"}})
		for _, tc := range []struct{ variable, want string }{
			{"E2E_PROBE", "42"},
			{"DATACLOUD_TOKEN_SECRET", w.TokenSecret},
			{"SSL_CERT_FILE", w.srv.CACertFile},
			{"AWS_ENDPOINT_URL", be.Endpoint},
			{"LOG_LEVEL", ""},
		} {
			t.Run(tc.variable, func(t *testing.T) {
				res := hello.invoke(map[string]string{"env": tc.variable})
				mustSucceed(t, res)
				if got := decode[struct {
					EnvValue string `json:"env_value"`
				}](t, res).EnvValue; got != tc.want {
					t.Errorf("%s = %q, want %q", tc.variable, got, tc.want)
				}
			})
		}

		if got := w.cliSecret(w.TokenSecret); got != "{}" {
			t.Errorf("aws secretsmanager get-secret-value = %q, want {}", got)
		}
		ctx := context.Background()
		if _, err := be.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(w.Bucket), Key: aws.String("probe.txt"), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
		if _, err := be.S3.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(w.Bucket), Key: aws.String("probe.txt"),
			Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v 1")}}}}); err != nil {
			t.Fatal(err)
		}
		if got := w.cliTags("probe.txt"); got["k"] != "v 1" || len(got) != 1 {
			t.Errorf("aws s3api get-object-tagging = %v, want k=v 1", got)
		}
	})
}
