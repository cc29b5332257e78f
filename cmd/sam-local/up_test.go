package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// TestStartLocalSetsUpAWorkingConnectedApp checks what `up` and the demo start from: the
// credentials secret parses as contract §2.1 and logs in against the emulator it names.
func TestStartLocalSetsUpAWorkingConnectedApp(t *testing.T) {
	ctx := testContext(t, time.Minute)
	l, err := startLocal(ctx, "", "", datacloudtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })

	raw, ok := l.Stack.SecretValue(localCredsSecret)
	if !ok {
		t.Fatal("no credentials secret")
	}
	creds, err := datacloud.ParseCredentials([]byte(raw))
	if err != nil {
		t.Fatalf("credentials secret: %v", err)
	}
	hosts, err := datacloud.ParseAllowedHosts(localAllowedHosts)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := datacloud.NewAuthenticator(creds, datacloud.WithAuthAllowedHosts(hosts))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.Token(ctx)
	if err != nil {
		t.Fatalf("login with the generated credentials: %v", err)
	}
	if tok.InstanceURL != l.Stack.DataCloudURL {
		t.Errorf("instance url = %q, want the emulator %q", tok.InstanceURL, l.Stack.DataCloudURL)
	}
	if v, _ := l.Stack.SecretValue(localTokenSecret); v != "{}" {
		t.Errorf("token secret = %q, want the template's placeholder {}", v)
	}
	env := l.envFile()
	if env["Parameters"]["AWS_ENDPOINT_URL"] != l.Stack.URL || env["Parameters"]["DATACLOUD_TOKEN_SECRET"] != localTokenSecret {
		t.Errorf("env.json Parameters = %v", env["Parameters"])
	}
}

func TestUpPrintsEnvWithoutSecrets(t *testing.T) {
	ports := freeLoopbackPorts(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- cmdUp(ctx, []string{"--port", ports[0], "--datacloud-port", ports[1]}, out, io.Discard)
	}()
	// up prints once it is ready and then waits for the context.
	deadline := time.After(30 * time.Second)
	for !strings.Contains(out.String(), "env.json") {
		select {
		case err := <-done:
			t.Fatalf("up returned early: %v\n%s", err, out.String())
		case <-deadline:
			cancel()
			t.Fatalf("up printed nothing useful in time:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"http://127.0.0.1:" + ports[0], "http://127.0.0.1:" + ports[1], localBucket} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(text, "PRIVATE KEY") {
		t.Error("up printed the private key")
	}
	start := strings.Index(text, "{")
	end := strings.LastIndex(text, "}")
	var env map[string]map[string]string
	if start < 0 || json.Unmarshal([]byte(text[start:end+1]), &env) != nil || env["Parameters"]["AWS_ENDPOINT_URL"] == "" {
		t.Errorf("printed env.json does not parse:\n%s", text)
	}
}

// syncBuffer is a bytes.Buffer safe to write from one goroutine and read from another.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeLoopbackPorts(t *testing.T, n int) []string {
	t.Helper()
	var ports []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		ports = append(ports, p)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}
