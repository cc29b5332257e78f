// Command tokenrefresh is the Lambda function that keeps the Data Cloud token secret fresh
// (contract §3). Its behaviour lives in internal/tokenstore (Handler); main only reads the
// environment, builds the clients once per container and starts the runtime.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dcbridge/datacloud-lambda/internal/awsenv"
	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/internal/tokenstore"
)

func main() {
	h, err := setup(context.Background(), awsenv.OS())
	if err != nil {
		obs.InitFailed("tokenrefresh", err)
	}
	lambda.Start(h.Handle)
}

func setup(ctx context.Context, env awsenv.Env) (*tokenstore.Handler, error) {
	level, err := env.LogLevel()
	if err != nil {
		return nil, err
	}
	cfg, err := tokenstore.ConfigFromEnv(env, true)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	store, refresher := cfg.Build(secretsmanager.NewFromConfig(awsCfg), nil)
	return &tokenstore.Handler{
		Store:      store,
		Refresher:  refresher,
		Margin:     cfg.RefreshMargin,
		Log:        obs.NewLogger(os.Stdout, level),
		Metrics:    obs.NewMetrics("tokenrefresh"),
		MetricsOut: os.Stdout,
	}, nil
}
