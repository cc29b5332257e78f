// Command datacloud-emulator serves the Salesforce Data Cloud emulator
// (pkg/datacloud/datacloudtest) on a loopback address, over HTTP or TLS.
//
// It prints one JSON line on stdout once it is ready:
//
//	{"url":"https://127.0.0.1:41234","ca_file":"/tmp/.../ca.pem","client_id":"...","username":"...",
//	 "key_file":"DIR/private-key.pem","cert_file":"DIR/certificate.pem"}
//
// and serves until SIGINT or SIGTERM. Point DATACLOUD_ALLOWED_HOSTS at 127.0.0.1 and,
// under TLS, SSL_CERT_FILE at ca_file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "datacloud-emulator:", err)
		os.Exit(1)
	}
}

// ready is the line printed when the emulator accepts requests.
type ready struct {
	URL      string `json:"url"`
	CAFile   string `json:"ca_file,omitempty"`
	ClientID string `json:"client_id"`
	Username string `json:"username"`
	KeyFile  string `json:"key_file,omitempty"`
	PKCS1Key string `json:"pkcs1_key_file,omitempty"`
	CertFile string `json:"cert_file,omitempty"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("datacloud-emulator", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	useTLS := fs.Bool("tls", false, "serve HTTPS with a fresh self-signed certificate (see ca_file)")
	clientID := fs.String("client-id", "datacloud-emulator-client", "connected app consumer key (the assertion's iss)")
	usernames := fs.String("username", "integration@example.com", "pre-authorized usernames, comma-separated")
	certFile := fs.String("cert", "", "PEM certificate (or public key) of the connected app")
	genDir := fs.String("generate-keys", "", "write a new key pair (private-key.pem PKCS#8, private-key-pkcs1.pem, certificate.pem) to this directory and use it")
	dataspaces := fs.String("dataspaces", "", "data spaces the exchange accepts besides default, comma-separated")
	tokenTTL := fs.Duration("token-ttl", datacloudtest.DefaultTokenTTL, "lifetime of issued tokens")
	batchRows := fs.Int("batch-rows", datacloudtest.DefaultQueryBatchRows, "rows per query v2 batch")
	jobDelay := fs.Duration("job-delay", 0, "how long a closed bulk job stays InProgress")
	streamingRate := fs.Int("streaming-rps", 0, "answer 429 to streaming ingestion requests beyond this many in any second (Data Cloud's limit is 250); 0 = no limit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*certFile == "") == (*genDir == "") {
		return errors.New("give exactly one of -cert FILE or -generate-keys DIR")
	}
	if *tokenTTL <= 0 || *batchRows <= 0 || *jobDelay < 0 || *streamingRate < 0 {
		return errors.New("-token-ttl and -batch-rows must be positive, -job-delay and -streaming-rps not negative")
	}
	if err := datacloudtest.CheckLoopback(*addr); err != nil {
		return err
	}
	out := ready{ClientID: *clientID, Username: *usernames}
	var certPEM []byte
	var err error
	if *genDir != "" {
		certPEM, err = generateKeys(*genDir, &out)
	} else {
		certPEM, err = os.ReadFile(*certFile)
	}
	if err != nil {
		return err
	}
	s := datacloudtest.New(datacloudtest.Options{TokenTTL: *tokenTTL, QueryBatchRows: *batchRows, JobProcessingDelay: *jobDelay, StreamingRequestsPerSecond: *streamingRate})
	defer s.Close()
	app := datacloudtest.App{ClientID: *clientID, Usernames: splitList(*usernames), CertificatePEM: string(certPEM), Dataspaces: splitList(*dataspaces)}
	if err := s.RegisterApp(app); err != nil {
		return err
	}
	r, err := s.Listen(*addr, *useTLS)
	if err != nil {
		return err
	}
	defer r.Close()
	out.URL, out.CAFile = r.URL, r.CACertFile
	if err := json.NewEncoder(stdout).Encode(out); err != nil {
		return fmt.Errorf("write ready line: %w", err)
	}
	<-ctx.Done()
	return nil
}

func generateKeys(dir string, out *ready) ([]byte, error) {
	kp, err := datacloudtest.GenerateKeyPair()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("generate keys: %w", err)
	}
	out.KeyFile = filepath.Join(dir, "private-key.pem")
	out.PKCS1Key = filepath.Join(dir, "private-key-pkcs1.pem")
	out.CertFile = filepath.Join(dir, "certificate.pem")
	for file, data := range map[string]string{out.KeyFile: kp.PKCS8PEM, out.PKCS1Key: kp.PKCS1PEM, out.CertFile: kp.CertPEM} {
		if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
			return nil, fmt.Errorf("generate keys: %w", err)
		}
	}
	return []byte(kp.CertPEM), nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
