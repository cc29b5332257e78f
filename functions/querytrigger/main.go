// Command querytrigger is the Lambda function behind the HTTP API's POST /query and
// GET /metadata (contract §5). Its behaviour lives in internal/querysvc; main reads the
// environment, builds the clients once per container and starts the runtime.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dcbridge/datacloud-lambda/internal/awsenv"
	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/internal/querysvc"
	"github.com/dcbridge/datacloud-lambda/internal/tokenstore"
)

// EnvMaxResponseBytes bounds every answer's encoded Lambda response (see internal/querysvc).
const EnvMaxResponseBytes = "QUERY_MAX_RESPONSE_BYTES"

func main() {
	svc, err := setup(context.Background(), awsenv.OS())
	if err != nil {
		obs.InitFailed("querytrigger", err)
	}
	lambda.Start(rawHandler{svc})
}

// rawHandler hands querysvc's answer to the runtime as it is. The answer is already the exact
// JSON Lambda returns, measured against the response limit; given a json.RawMessage instead,
// aws-lambda-go would encode it again, compacting and validating up to ~5.5 MB per answer.
type rawHandler struct{ svc *querysvc.Service }

// Invoke implements lambda.Handler.
func (h rawHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return h.svc.Handle(ctx, payload)
}

func setup(ctx context.Context, env awsenv.Env) (*querysvc.Service, error) {
	level, err := env.LogLevel()
	if err != nil {
		return nil, err
	}
	cfg, err := tokenstore.ConfigFromEnv(env, false)
	if err != nil {
		return nil, err
	}
	budget, err := env.Int(EnvMaxResponseBytes, querysvc.DefaultMaxResponseBytes, querysvc.MinMaxResponseBytes, querysvc.LambdaResponseLimit)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	log := obs.NewLogger(os.Stdout, level)
	metrics := obs.NewMetrics("querytrigger")
	client, err := cfg.Client(secretsmanager.NewFromConfig(awsCfg), log, metrics)
	if err != nil {
		return nil, err
	}
	return querysvc.New(client, querysvc.Options{
		MaxResponseBytes: int(budget), Logger: log, Metrics: metrics, MetricsOut: os.Stdout,
	}), nil
}
