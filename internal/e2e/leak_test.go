package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
)

// transcript is everything the suite saw come out of the system under test: every line the
// emulator and the bootstraps printed, every invoke answer, every aws CLI output and every
// error the helpers met. TestMain checks it for secrets after the run.
var transcript = &recorder{}

// secretSources yields the secrets to look for: the emulator's issued tokens and assertions,
// and the private keys of the credentials secrets.
var (
	secretsMu     sync.Mutex
	secretSources []func() []string
)

// recorder is a concurrency-safe io.Writer that keeps everything written to it and copies
// it to the test's stderr when E2E_VERBOSE=1.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if os.Getenv("E2E_VERBOSE") == "1" {
		_, _ = os.Stderr.Write(p)
	}
	return r.buf.Write(p)
}

// record adds a labelled piece of output.
func (r *recorder) record(label string, data []byte) {
	_, _ = fmt.Fprintf(r, "--- %s\n%s\n", label, data)
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// addSecrets registers a source of secrets for the final leak check.
func addSecrets(f func() []string) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	secretSources = append(secretSources, f)
}

// allSecrets collects every registered secret.
func allSecrets() []string {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	var out []string
	for _, f := range secretSources {
		out = append(out, f()...)
	}
	return out
}

// minFragment is the shortest piece of a key's base64 body searched for on its own: long
// enough to be unique, short enough to catch a key printed in part.
const minFragment = 40

// findLeaks returns a description (never the secret itself) of each secret, or fragment of a
// PEM key, found in text.
func findLeaks(text string, secrets []string) []string {
	var leaks []string
	for i, s := range secrets {
		for _, needle := range needles(s) {
			if strings.Contains(text, needle) {
				at := strings.Index(text, needle)
				leaks = append(leaks, fmt.Sprintf("secret #%d (%d bytes) appears at offset %d of the transcript (line %d)",
					i, len(s), at, strings.Count(text[:at], "\n")+1))
				break
			}
		}
	}
	return leaks
}

// needles splits a secret into what to search for: a PEM block also by each base64 line
// (a leaked key may be re-wrapped or cut), anything else whole.
func needles(secret string) []string {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return nil
	}
	if !strings.HasPrefix(secret, "-----BEGIN") {
		return []string{secret}
	}
	out := []string{secret}
	for _, line := range strings.Split(secret, "\n") {
		line = strings.TrimSpace(line)
		if len(line) >= minFragment && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}

// checkLeaks is run by TestMain after the tests: it writes what leaked to w and reports
// whether the transcript is clean.
func checkLeaks(w io.Writer) bool {
	secrets := allSecrets()
	text := transcript.String()
	leaks := findLeaks(text, secrets)
	// E2E_TRANSCRIPT=file keeps the transcript for a look after a failed check.
	if path := os.Getenv("E2E_TRANSCRIPT"); path != "" {
		_ = os.WriteFile(path, []byte(text), 0o600)
	}
	for _, l := range leaks {
		fmt.Fprintln(w, "e2e: secret leak:", l)
	}
	if len(leaks) == 0 {
		fmt.Fprintf(w, "e2e: leak check: %d secrets, %d bytes of logs and answers, nothing leaked\n", len(secrets), len(text))
	}
	return len(leaks) == 0
}

func TestFindLeaks(t *testing.T) {
	key := "-----BEGIN PRIVATE KEY-----\n" + strings.Repeat("A", 64) + "\n" + strings.Repeat("B", 64) + "\n-----END PRIVATE KEY-----\n"
	tests := []struct {
		name    string
		text    string
		secrets []string
		want    int
	}{
		{"clean", "token refreshed expires_at=2026", []string{"tok-123456"}, 0},
		{"token in a log line", `{"msg":"x","token":"tok-123456"}`, []string{"tok-123456"}, 1},
		{"whole key", "key=" + key, []string{key}, 1},
		{"one line of a key", "oops " + strings.Repeat("B", 64) + " end", []string{key}, 1},
		{"short key fragment is not matched", "AAAA", []string{key}, 0},
		{"empty secret ignored", "anything", []string{"", "  "}, 0},
		{"two secrets", "a=s3cr3t-one b=s3cr3t-two", []string{"s3cr3t-one", "s3cr3t-two", "s3cr3t-three"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := findLeaks(tc.text, tc.secrets)
			if len(got) != tc.want {
				t.Errorf("findLeaks found %d leaks %q, want %d", len(got), got, tc.want)
			}
			for _, g := range got {
				for _, s := range tc.secrets {
					if s != "" && strings.Contains(g, s) {
						t.Errorf("the leak report quotes the secret: %q", g)
					}
				}
			}
		})
	}
}
