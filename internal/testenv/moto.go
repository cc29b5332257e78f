// Package testenv starts the real services tests run against: moto_server for S3, Secrets
// Manager and SQS. It is used only from tests and local tools.
package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Moto is a running moto_server on loopback.
type Moto struct {
	// URL is the endpoint for AWS_ENDPOINT_URL, e.g. http://127.0.0.1:41234.
	URL string
	cmd *exec.Cmd

	mu  sync.Mutex
	log strings.Builder
}

// Env returns the environment variables that point the AWS SDK and CLI at this server
// with test credentials.
func (m *Moto) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + m.URL,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_SESSION_TOKEN=",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Close stops the server.
func (m *Moto) Close() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Output returns what the server printed so far (for failure messages).
func (m *Moto) Output() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.log.String()
}

// StartMoto starts moto_server on a free loopback port and waits until it answers.
func StartMoto(ctx context.Context) (*Moto, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("testenv: moto_server not found on PATH: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := &Moto{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	m.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := m.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	m.cmd.Stdout = m.cmd.Stderr
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: start moto_server: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m.mu.Lock()
			if m.log.Len() < 1<<20 {
				m.log.WriteString(sc.Text() + "\n")
			}
			m.mu.Unlock()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.URL+"/moto-api/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return m, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			m.Close()
			return nil, fmt.Errorf("testenv: moto_server did not answer within 30s: %v\n%s", err, m.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MotoForTest starts moto_server for one test (or package) and stops it on cleanup. Without
// moto_server on PATH the test is skipped, unless REQUIRE_MOTO=1 makes that a failure.
func MotoForTest(t testing.TB) *Moto {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		if os.Getenv("REQUIRE_MOTO") == "1" {
			t.Fatalf("moto_server is required (REQUIRE_MOTO=1) but not on PATH")
		}
		t.Skip("moto_server not on PATH")
	}
	m, err := StartMoto(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
