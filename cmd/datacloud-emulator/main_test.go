package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// start runs the emulator command in-process and returns its ready line.
func start(t *testing.T, args ...string) ready {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("emulator did not stop")
		}
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		lines <- line
		io.Copy(io.Discard, pr) //nolint:errcheck // drain until the command exits
	}()
	select {
	case line := <-lines:
		var r ready
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("ready line %q: %v", line, err)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no ready line within 10s")
	}
	return ready{}
}

func TestRunTLSWithGeneratedKeys(t *testing.T) {
	dir := t.TempDir()
	r := start(t, "-tls", "-generate-keys", dir, "-client-id", "cid", "-username", "a@example.com,b@example.com", "-token-ttl", "30m")
	if !strings.HasPrefix(r.URL, "https://127.0.0.1:") || r.CAFile == "" || r.KeyFile != filepath.Join(dir, "private-key.pem") {
		t.Fatalf("ready %+v", r)
	}
	caPEM, err := os.ReadFile(r.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca_file holds no certificate")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	for _, keyFile := range []string{r.KeyFile, r.PKCS1Key} {
		keyPEM, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		key, err := jwt.ParseRSAPrivateKeyFromPEM(keyPEM)
		if err != nil {
			t.Fatalf("%s: %v", keyFile, err)
		}
		assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": "cid", "sub": "b@example.com", "aud": "https://login.salesforce.com", "exp": time.Now().Add(time.Minute).Unix(),
		}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.PostForm(r.URL+"/services/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}})
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body) //nolint:errcheck // checked below
		res.Body.Close()
		if res.StatusCode != 200 || body["instance_url"] != r.URL {
			t.Fatalf("login with %s: %d %v", filepath.Base(keyFile), res.StatusCode, body)
		}
		res, err = client.PostForm(r.URL+"/services/a360/token", url.Values{
			"grant_type": {"urn:salesforce:grant-type:external:cdp"}, "subject_token": {body["access_token"].(string)},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		})
		if err != nil {
			t.Fatal(err)
		}
		body = nil
		json.NewDecoder(res.Body).Decode(&body) //nolint:errcheck // checked below
		res.Body.Close()
		if res.StatusCode != 200 || body["expires_in"] != float64(1800) || body["instance_url"] != strings.TrimPrefix(r.URL, "https://") {
			t.Fatalf("exchange: %d %v", res.StatusCode, body)
		}
	}
}

func TestRunPlainWithCertFile(t *testing.T) {
	dir := t.TempDir()
	gen := start(t, "-generate-keys", dir)
	r := start(t, "-cert", gen.CertFile, "-batch-rows", "10")
	if !strings.HasPrefix(r.URL, "http://127.0.0.1:") || r.CAFile != "" {
		t.Fatalf("ready %+v", r)
	}
	res, err := http.Get(r.URL + "/api/v1/metadata")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("status %d, want 401", res.StatusCode)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("junk"), 0o600) //nolint:errcheck // read back below
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no key source", nil, "exactly one of"},
		{"both key sources", []string{"-cert", "x", "-generate-keys", dir}, "exactly one of"},
		{"non-loopback", []string{"-addr", "0.0.0.0:0", "-generate-keys", dir}, "not a loopback"},
		{"missing cert", []string{"-cert", filepath.Join(dir, "none.pem")}, "no such file"},
		{"bad cert", []string{"-cert", junk}, "no PEM block"},
		{"bad ttl", []string{"-generate-keys", dir, "-token-ttl", "0s"}, "must be positive"},
		{"negative streaming rate", []string{"-generate-keys", dir, "-streaming-rps", "-1"}, "-streaming-rps not negative"},
		{"bad flag", []string{"-nope"}, "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
