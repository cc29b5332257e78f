// Command s3ingest is the Lambda function that feeds files landed in S3 into Data Cloud
// (contract §4). Its behaviour lives in internal/ingest; main only reads the environment,
// builds the clients once per container and starts the runtime.
package main

import (
	"context"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dcbridge/datacloud-lambda/internal/awsenv"
	"github.com/dcbridge/datacloud-lambda/internal/ingest"
	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/internal/tokenstore"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

func main() {
	setMemoryLimit()
	h, err := setup(context.Background(), awsenv.OS())
	if err != nil {
		obs.InitFailed("s3ingest", err)
	}
	lambda.Start(h.Handle)
}

// setMemoryLimit makes the garbage collector work harder before the function's memory runs
// out, rather than letting the heap double: a CSV file that fits in one part is read whole
// (up to INGEST_BULK_PART_BYTES) before its upload. An explicit GOMEMLIMIT wins.
func setMemoryLimit() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	if mb, err := strconv.ParseInt(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64); err == nil && mb > 0 {
		debug.SetMemoryLimit(mb << 20 * 9 / 10)
	}
}

func setup(ctx context.Context, env awsenv.Env) (*ingest.Handler, error) {
	level, err := env.LogLevel()
	if err != nil {
		return nil, err
	}
	tcfg, err := tokenstore.ConfigFromEnv(env, false)
	if err != nil {
		return nil, err
	}
	icfg, err := ingest.ConfigFromEnv(env)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	log := obs.NewLogger(os.Stdout, level)
	metrics := obs.NewMetrics("s3ingest")
	client, err := tcfg.Client(secretsmanager.NewFromConfig(awsCfg), log, metrics,
		datacloud.WithRetryPolicy(ingest.CountRetries(datacloud.DefaultRetryPolicy(), metrics)))
	if err != nil {
		return nil, err
	}
	in, err := ingest.New(icfg, s3.NewFromConfig(awsCfg, awsenv.S3Options), client,
		ingest.WithLogger(log), ingest.WithMetrics(metrics))
	if err != nil {
		return nil, err
	}
	return &ingest.Handler{Ingester: in, Log: log, MetricsOut: os.Stdout}, nil
}
