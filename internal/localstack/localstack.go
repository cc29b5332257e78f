// Package localstack is the embedded stack for runs with only Go installed: S3 (gofakes3 with
// object tagging added) and a small Secrets Manager on one loopback port, routed by
// X-Amz-Target as AWS's JSON protocol does, plus optionally the Data Cloud emulator on a port
// of its own. The AWS SDK and the aws CLI talk to it through AWS_ENDPOINT_URL (path-style S3).
//
// What it simplifies: requests are not authenticated (any credentials work); S3 objects live in
// memory; tags are per bucket and key (not per version); Secrets Manager keeps only staged
// versions and does not encrypt. moto_server is the fuller stand-in used by the tests; this
// stack exists so that `make demo` needs nothing but Go.
package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// Defaults for Options.
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "123456789012"
)

// Options configure Start.
type Options struct {
	// Addr is the loopback address for S3 and Secrets Manager; "" means 127.0.0.1:0.
	Addr   string
	Region string // DefaultRegion when empty
	// Buckets are created at start, with versioning enabled when Versioned is set (as
	// template.yaml's landing bucket has it).
	Buckets   []string
	Versioned bool
	// DataCloud starts the Data Cloud emulator too, on DataCloudAddr (127.0.0.1:0 when empty),
	// over plain HTTP (loopback only), with DataCloudOptions.
	DataCloud        bool
	DataCloudAddr    string
	DataCloudOptions datacloudtest.Options
}

// Stack is a running embedded stack.
type Stack struct {
	// URL is the AWS endpoint (AWS_ENDPOINT_URL), e.g. http://127.0.0.1:4566.
	URL    string
	Region string
	// DataCloud and DataCloudURL are set when Options.DataCloud was.
	DataCloud    *datacloudtest.Server
	DataCloudURL string

	backend *s3mem.Backend
	secrets *secretsManager
	srv     *http.Server
	dc      *datacloudtest.Running
}

// Start serves the stack until Close.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if err := datacloudtest.CheckLoopback(opts.Addr); err != nil {
		return nil, fmt.Errorf("datacloud: localstack: %w", err)
	}
	backend := s3mem.New()
	s3 := newTaggedS3(gofakes3.New(backend, gofakes3.WithTimeSkewLimit(0)).Server(), backend)
	st := &Stack{Region: opts.Region, backend: backend, secrets: newSecretsManager(opts.Region, DefaultAccount)}
	for _, b := range opts.Buckets {
		if err := st.CreateBucket(b); err != nil {
			return nil, err
		}
		if opts.Versioned {
			if err := backend.SetVersioningConfiguration(b, gofakes3.VersioningConfiguration{Status: gofakes3.VersioningEnabled}); err != nil {
				return nil, fmt.Errorf("datacloud: localstack: enable versioning on %s: %w", b, err)
			}
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("datacloud: localstack: listen: %w", err)
	}
	st.URL = "http://" + ln.Addr().String()
	st.srv = &http.Server{Handler: route(s3, st.secrets), ReadHeaderTimeout: 10 * time.Second}
	go st.srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed on Close.

	if opts.DataCloud {
		addr := opts.DataCloudAddr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		st.DataCloud = datacloudtest.New(opts.DataCloudOptions)
		st.dc, err = st.DataCloud.Listen(addr, false)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("datacloud: localstack: data cloud emulator: %w", err)
		}
		st.DataCloudURL = st.dc.URL
	}
	return st, nil
}

// route sends JSON-protocol requests for Secrets Manager to sm and everything else to S3.
func route(s3, sm http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.") {
			sm.ServeHTTP(w, r)
			return
		}
		s3.ServeHTTP(w, r)
	})
}

// Env returns the variables that point the AWS SDK and CLI at the stack, with test credentials.
func (s *Stack) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_REGION=" + s.Region,
		"AWS_DEFAULT_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_SESSION_TOKEN=",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// CreateBucket creates a bucket (no error if it exists).
func (s *Stack) CreateBucket(name string) error {
	err := s.backend.CreateBucket(name)
	if err != nil && !gofakes3.HasErrorCode(err, gofakes3.ErrBucketAlreadyExists) {
		return fmt.Errorf("datacloud: localstack: create bucket %s: %w", name, err)
	}
	return nil
}

// PutSecret creates the secret or stores value as its new current version, and returns its ARN.
func (s *Stack) PutSecret(name, value string) (string, error) {
	return s.secrets.put(name, value)
}

// SecretValue returns the current string value of a secret.
func (s *Stack) SecretValue(name string) (string, bool) {
	return s.secrets.value(name)
}

// Close stops the servers.
func (s *Stack) Close() error {
	var errs []error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			errs = append(errs, s.srv.Close())
		}
	}
	if s.dc != nil {
		errs = append(errs, s.dc.Close())
	}
	if s.DataCloud != nil {
		errs = append(errs, s.DataCloud.Close())
	}
	return errors.Join(errs...)
}
