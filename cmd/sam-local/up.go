package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dcbridge/datacloud-lambda/internal/localstack"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// Names of the local resources; events/env.json uses the same.
const (
	localBucket       = "datacloud-landing"
	localTokenSecret  = "datacloud/token"
	localCredsSecret  = "datacloud/credentials"
	localClientID     = "3MVG9local.demo.connected.app"
	localUsername     = "integration@datacloud.local"
	localAllowedHosts = "127.0.0.1,localhost"
)

// localEnv is the embedded stack set up the way a deployed stack is after the operator filled
// the credentials secret: a landing bucket, an empty token secret, a credentials secret for a
// connected app registered with the Data Cloud emulator.
type localEnv struct {
	Stack *localstack.Stack
}

// startLocal starts the embedded stack and the Data Cloud emulator on the given loopback
// addresses ("" for any free port) and creates the bucket and both secrets.
func startLocal(ctx context.Context, addr, dcAddr string, dcOpts datacloudtest.Options) (*localEnv, error) {
	st, err := localstack.Start(ctx, localstack.Options{
		Addr: addr, Buckets: []string{localBucket}, Versioned: true,
		DataCloud: true, DataCloudAddr: dcAddr, DataCloudOptions: dcOpts,
	})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*localEnv, error) {
		_ = st.Close()
		return nil, err
	}
	kp, err := datacloudtest.GenerateKeyPair()
	if err != nil {
		return fail(err)
	}
	if err := st.DataCloud.RegisterApp(datacloudtest.App{
		ClientID: localClientID, Usernames: []string{localUsername}, CertificatePEM: kp.CertPEM,
	}); err != nil {
		return fail(err)
	}
	creds, err := json.Marshal(map[string]string{
		"client_id": localClientID, "username": localUsername,
		"private_key": kp.PKCS8PEM, "login_url": st.DataCloudURL,
	})
	if err != nil {
		return fail(err)
	}
	if _, err := st.PutSecret(localCredsSecret, string(creds)); err != nil {
		return fail(err)
	}
	// As template.yaml creates it: tokenrefresh fills it.
	if _, err := st.PutSecret(localTokenSecret, "{}"); err != nil {
		return fail(err)
	}
	return &localEnv{Stack: st}, nil
}

// envFile is the env.json (SAM's format) that points the functions at this stack.
func (l *localEnv) envFile() map[string]map[string]string {
	return map[string]map[string]string{
		"Parameters": {
			"LOG_LEVEL":                    "info",
			"DATACLOUD_ALLOWED_HOSTS":      localAllowedHosts,
			"DATACLOUD_TOKEN_SECRET":       localTokenSecret,
			"DATACLOUD_CREDENTIALS_SECRET": localCredsSecret,
			"AWS_ENDPOINT_URL":             l.Stack.URL,
		},
		"TokenRefreshFunction": {"DATACLOUD_REFRESH_MARGIN": "45m"},
		"S3IngestFunction": {
			"INGEST_PREFIX": "ingest/", "INGEST_BULK_PART_BYTES": "150000000",
			"INGEST_STREAMING_PAYLOAD_BYTES": "200000", "INGEST_STREAMING_IN_FLIGHT": "4",
		},
		"QueryTriggerFunction": {},
	}
}

// hostEnv looks variables up in the stack's AWS environment (test credentials, region).
func (l *localEnv) hostEnv(k string) (string, bool) {
	for _, kv := range l.Stack.Env() {
		if name, v, _ := strings.Cut(kv, "="); name == k {
			return v, true
		}
	}
	return "", false
}

func (l *localEnv) Close() error { return l.Stack.Close() }

// cmdUp implements `sam-local up`: the embedded stack until interrupted.
func cmdUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 4566, "loopback port for S3 and Secrets Manager (AWS_ENDPOINT_URL)")
	dcPort := fs.Int("datacloud-port", 4567, "loopback port for the Data Cloud emulator (login, exchange, tenant APIs)")
	envOut := fs.String("env-out", "", "also write the env.json to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	l, err := startLocal(ctx, fmt.Sprintf("127.0.0.1:%d", *port), fmt.Sprintf("127.0.0.1:%d", *dcPort), datacloudtest.Options{StreamingRequestsPerSecond: datacloud.MaxStreamingRequestsPerSecond})
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	defer l.Close()
	env, err := json.MarshalIndent(l.envFile(), "", "  ")
	if err != nil {
		return err
	}
	if *envOut != "" {
		if err := os.WriteFile(*envOut, append(env, '\n'), 0o644); err != nil {
			return fmt.Errorf("up: %w", err)
		}
	}
	fmt.Fprintf(stdout, `Embedded stack running (Ctrl-C to stop)
  AWS endpoint (S3, Secrets Manager): %s
  Data Cloud emulator (login_url):    %s
  landing bucket:                     %s
  token secret:                       %s (empty until tokenrefresh runs)
  credentials secret:                 %s (connected app %s, user %s, a fresh key pair)

Use it from a shell:
  export AWS_ENDPOINT_URL=%s AWS_REGION=%s AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test

env.json for sam-local invoke / start-api (and sam local invoke with --docker-network host):
%s
`, l.Stack.URL, l.Stack.DataCloudURL, localBucket, localTokenSecret, localCredsSecret, localClientID, localUsername,
		l.Stack.URL, l.Stack.Region, env)
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping")
	return nil
}
