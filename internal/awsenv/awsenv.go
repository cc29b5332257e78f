// Package awsenv builds the AWS SDK configuration from the environment and reads the
// functions' own environment variables (contract §1) with errors that name the variable.
//
// AWS access uses the SDK's standard chain only: AWS_REGION, the credential chain and the
// SDK's own endpoint variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL_SECRETS_MANAGER), which the SDK resolves itself. The one thing added here is
// path-style S3 addressing when an S3 endpoint is overridden, because emulators such as
// moto_server cannot serve virtual-hosted bucket names.
package awsenv

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Load returns the AWS configuration from the standard chain. Extra load options (tests) are
// applied after the defaults.
func Load(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("datacloud: load aws config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("datacloud: load aws config: %w", &VarError{Name: "AWS_REGION", Reason: "is not set"})
	}
	return cfg, nil
}

// S3Options is an s3.NewFromConfig option that switches to path-style addressing when the S3
// endpoint is overridden (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or a shared-config
// endpoint_url, all of which the SDK has already resolved into BaseEndpoint at this point).
func S3Options(o *s3.Options) {
	if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
		o.UsePathStyle = true
		return
	}
	for _, name := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			o.UsePathStyle = true
			return
		}
	}
}
