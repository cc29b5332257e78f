package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// awsCLI runs the real aws CLI against the world's backend and returns its stdout; the
// output is part of the transcript. Without the CLI the test is skipped (failed under
// REQUIRE_MOTO=1, where CI guarantees it).
func (w *world) awsCLI(args ...string) []byte {
	w.t.Helper()
	return w.runCLI(true, args...)
}

// runCLI runs the aws CLI; record=false keeps stdout out of the transcript, for reads of
// the secrets themselves (which hold tokens by design).
func (w *world) runCLI(record bool, args ...string) []byte {
	w.t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("REQUIRE_MOTO") == "1" {
			w.t.Fatal("the aws CLI is required but not on PATH")
		}
		w.t.Skip("aws CLI not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", w.be.Endpoint, "--output", "json"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + w.t.TempDir(), "AWS_PAGER="}, w.be.Env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if record {
		transcript.record("aws "+strings.Join(args, " "), append(out, stderr.String()...))
	} else {
		transcript.record("aws "+strings.Join(args, " ")+" (stdout not recorded: it is the secret)", []byte(stderr.String()))
	}
	if err != nil {
		w.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// cliTags reads an object's tags with `aws s3api get-object-tagging`.
func (w *world) cliTags(key string) map[string]string {
	w.t.Helper()
	var out struct {
		TagSet []struct{ Key, Value string }
	}
	if err := json.Unmarshal(w.awsCLI("s3api", "get-object-tagging", "--bucket", w.Bucket, "--key", key), &out); err != nil {
		w.t.Fatal(err)
	}
	tags := map[string]string{}
	for _, t := range out.TagSet {
		tags[t.Key] = t.Value
	}
	return tags
}

// cliSecret reads a secret's current value with `aws secretsmanager get-secret-value`.
func (w *world) cliSecret(id string) string {
	w.t.Helper()
	var out struct{ SecretString string }
	if err := json.Unmarshal(w.runCLI(false, "secretsmanager", "get-secret-value", "--secret-id", id), &out); err != nil {
		w.t.Fatal(err)
	}
	return out.SecretString
}

var (
	keyOnce sync.Once
	keyPair *datacloudtest.KeyPair
	keyErr  error
)

// sharedKey is the connected app's key pair, generated once per test binary; both PEM forms
// are registered for the leak check.
func sharedKey(t *testing.T) *datacloudtest.KeyPair {
	t.Helper()
	keyOnce.Do(func() {
		keyPair, keyErr = datacloudtest.GenerateKeyPair()
		if keyErr == nil {
			kp := keyPair
			addSecrets(func() []string { return []string{kp.PKCS1PEM, kp.PKCS8PEM} })
		}
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return keyPair
}
