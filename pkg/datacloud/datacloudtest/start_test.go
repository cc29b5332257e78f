package datacloudtest

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const helperURLEnv = "DATACLOUDTEST_HELPER_URL"

// TestSSLCertFileHelper runs only as the child process of TestCACertFileWorksAsSSLCertFile:
// it calls the emulator with Go's default (system) trust store.
func TestSSLCertFileHelper(t *testing.T) {
	u := os.Getenv(helperURLEnv)
	if u == "" {
		t.Skip("runs only as a helper process")
	}
	res, err := http.Get(u + "/api/v1/metadata")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", res.StatusCode)
	}
}

func TestCACertFileWorksAsSSLCertFile(t *testing.T) {
	s := New(Options{})
	run := s.StartTLS()
	t.Cleanup(func() { run.Close(); s.Close() })
	for _, tc := range []struct {
		name     string
		certFile string
		wantOK   bool
	}{
		{"with SSL_CERT_FILE", run.CACertFile, true},
		{"without the CA", os.DevNull, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSSLCertFileHelper$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), helperURLEnv+"="+run.URL, "SSL_CERT_FILE="+tc.certFile, "SSL_CERT_DIR="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.wantOK {
				t.Fatalf("helper err %v, want ok=%v; output:\n%s", err, tc.wantOK, out)
			}
			if tc.wantOK && !strings.Contains(string(out), "--- PASS: TestSSLCertFileHelper") {
				t.Fatalf("helper did not run:\n%s", out)
			}
			if !tc.wantOK && !strings.Contains(string(out), "certificate") {
				t.Fatalf("helper failed for another reason:\n%s", out)
			}
		})
	}
}

func TestRunningClose(t *testing.T) {
	s := New(Options{})
	t.Cleanup(func() { s.Close() })
	run := s.StartTLS()
	file := run.CACertFile
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
	if err := run.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("CA file left behind: %v", err)
	}
	plain := s.Start()
	if plain.CACertFile != "" || plain.CertPool != nil {
		t.Fatalf("plain server has TLS material: %+v", plain)
	}
	if _, err := plain.Client().Get(plain.URL + "/services/oauth2/userinfo"); err != nil {
		t.Fatal(err)
	}
	plain.Close()
	if _, err := s.Listen("127.0.0.1:-1", false); err == nil {
		t.Fatal("listen on a bad port succeeded")
	}
}
