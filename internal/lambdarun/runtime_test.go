package lambdarun_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/internal/lambdarun/lambdaruntest"
)

const helloPkg = "github.com/dcbridge/datacloud-lambda/internal/lambdarun/testdata/hello"

// helloBootstrap is built once for the package's tests in TestMain.
var helloBootstrap string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdarun-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	helloBootstrap, err = lambdarun.Build(ctx, helloPkg, dir, "", "")
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type helloAnswer struct {
	Echo       string `json:"echo"`
	EnvValue   string `json:"env_value"`
	DeadlineMS int64  `json:"deadline_ms"`
}

func invoke(t *testing.T, r *lambdarun.Runtime, payload string) lambdarun.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := r.Invoke(ctx, []byte(payload))
	if err != nil {
		t.Fatalf("invoke %s: %v", payload, err)
	}
	return res
}

func TestInvokeReturnsPayloadAndLogs(t *testing.T) {
	r := lambdaruntest.Start(t, lambdarun.Config{
		Bootstrap: helloBootstrap,
		Env:       []string{"HELLO_COLOUR=teal", "PATH=/usr/bin:/bin"},
		Timeout:   5 * time.Second,
	})
	if _, err := r.BootstrapPID(); err == nil {
		t.Fatal("BootstrapPID before the first invoke: want an error, the bootstrap starts lazily")
	}
	first := invoke(t, r, `{"echo":"hi","env":"HELLO_COLOUR","log":"printed-by-handler-1"}`)
	if first.FunctionError != "" || first.StatusCode != 200 {
		t.Fatalf("first invoke failed: %d %s %s\n%s", first.StatusCode, first.FunctionError, first.ErrorMessage, first.Logs)
	}
	var got helloAnswer
	if err := json.Unmarshal(first.Payload, &got); err != nil {
		t.Fatalf("payload %q: %v", first.Payload, err)
	}
	if got.Echo != "hi" || got.EnvValue != "teal" {
		t.Errorf("answer = %+v, want echo hi and env_value teal", got)
	}
	if !strings.Contains(first.Logs, "printed-by-handler-1") || !strings.Contains(first.Logs, "REPORT RequestId:") {
		t.Errorf("first invoke logs miss the handler's line or the REPORT line:\n%s", first.Logs)
	}
	if first.InitDuration <= 0 || r.InitDuration() != first.InitDuration {
		t.Errorf("InitDuration: result %v, runtime %v; want the same positive INIT REPORT duration", first.InitDuration, r.InitDuration())
	}

	second := invoke(t, r, `{"echo":"again","log":"printed-by-handler-2"}`)
	if second.InitDuration != 0 {
		t.Errorf("warm invoke reported an init of %v", second.InitDuration)
	}
	if strings.Contains(second.Logs, "printed-by-handler-1") || !strings.Contains(second.Logs, "printed-by-handler-2") {
		t.Errorf("second invoke logs should hold only its own lines:\n%s", second.Logs)
	}
	all := strings.Join(r.Logs(), "\n")
	if !strings.Contains(all, "printed-by-handler-1") || !strings.Contains(all, "printed-by-handler-2") {
		t.Errorf("Logs() misses lines:\n%s", all)
	}
}

func TestLambdaEnvironment(t *testing.T) {
	r := lambdaruntest.Start(t, lambdarun.Config{
		Bootstrap:    helloBootstrap,
		Timeout:      1500 * time.Millisecond, // rounded up to whole seconds
		MemoryMB:     512,
		FunctionName: "hello-fn",
		// A caller's value for a variable the Config fixes loses.
		Env: []string{"AWS_LAMBDA_FUNCTION_NAME=ignored"},
	})
	tests := []struct{ name, variable, want string }{
		{"timeout rounded up", "AWS_LAMBDA_FUNCTION_TIMEOUT", "2"},
		{"memory", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"},
		{"function name", "AWS_LAMBDA_FUNCTION_NAME", "hello-fn"},
		{"handler", "_HANDLER", "bootstrap"},
		{"host variables do not leak", "GOFLAGS_LAMBDARUN_PROBE", ""},
	}
	t.Setenv("GOFLAGS_LAMBDARUN_PROBE", "leaked")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := invoke(t, r, fmt.Sprintf(`{"env":%q}`, tc.variable))
			var got helloAnswer
			if err := json.Unmarshal(res.Payload, &got); err != nil {
				t.Fatalf("payload %q: %v", res.Payload, err)
			}
			if got.EnvValue != tc.want {
				t.Errorf("%s = %q, want %q", tc.variable, got.EnvValue, tc.want)
			}
		})
	}
}

func TestHandlerErrorIsFunctionError(t *testing.T) {
	r := lambdaruntest.Start(t, lambdarun.Config{Bootstrap: helloBootstrap, Timeout: 5 * time.Second})
	res := invoke(t, r, `{"fail":"boom"}`)
	if res.FunctionError != "HelloError" || res.ErrorMessage != "hello: boom" {
		t.Errorf("FunctionError=%q ErrorMessage=%q, want HelloError / hello: boom", res.FunctionError, res.ErrorMessage)
	}
	if res.Err() == nil || !strings.Contains(res.Err().Error(), "HelloError") {
		t.Errorf("Err() = %v, want it to name HelloError", res.Err())
	}
	if ok := invoke(t, r, `{"echo":"x"}`); ok.Err() != nil {
		t.Errorf("the runtime should serve after a handler error: %v", ok.Err())
	}
}

func TestTimeoutIsHonoured(t *testing.T) {
	r := lambdaruntest.Start(t, lambdarun.Config{Bootstrap: helloBootstrap, Timeout: time.Second})
	warm := invoke(t, r, `{"echo":"warm"}`)
	var got helloAnswer
	if err := json.Unmarshal(warm.Payload, &got); err != nil {
		t.Fatal(err)
	}
	if got.DeadlineMS <= 0 || got.DeadlineMS > 1000 {
		t.Errorf("handler saw a deadline %d ms away, want within the 1s timeout", got.DeadlineMS)
	}
	oldPID, err := r.BootstrapPID()
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, r, `{"sleep_ms":30000}`)
	if res.FunctionError != lambdarun.ErrorTimeout {
		t.Fatalf("FunctionError = %q (payload %q), want %q", res.FunctionError, res.Payload, lambdarun.ErrorTimeout)
	}
	// The emulator kills a timed-out runtime and starts a fresh one on the next invoke.
	after := invoke(t, r, `{"echo":"after"}`)
	if after.Err() != nil || after.InitDuration == 0 {
		t.Fatalf("invoke after a timeout: err %v, init %v; want success with a new init", after.Err(), after.InitDuration)
	}
	if newPID, err := r.BootstrapPID(); err != nil || newPID == oldPID {
		t.Errorf("bootstrap pid after timeout = %d (%v), want a new process (old %d)", newPID, err, oldPID)
	}
}

func TestInitFailureIsReported(t *testing.T) {
	r := lambdaruntest.Start(t, lambdarun.Config{
		Bootstrap: helloBootstrap,
		Env:       []string{"HELLO_REQUIRED=missing"},
		Timeout:   5 * time.Second,
	})
	res := invoke(t, r, `{"echo":"x"}`)
	if res.FunctionError != lambdarun.ErrorRuntimeExit || res.StatusCode != 502 {
		t.Errorf("FunctionError=%q status=%d, want %s / 502", res.FunctionError, res.StatusCode, lambdarun.ErrorRuntimeExit)
	}
	if !strings.Contains(res.Logs, `"variable":"HELLO_REQUIRED"`) {
		t.Errorf("logs do not carry the bootstrap's init error line:\n%s", res.Logs)
	}
}

func TestPeakRSSAndClose(t *testing.T) {
	r := lambdaruntest.Start(t, lambdarun.Config{Bootstrap: helloBootstrap, Timeout: 5 * time.Second})
	if _, err := r.PeakRSS(); err == nil {
		t.Error("PeakRSS before the first invoke: want an error")
	}
	invoke(t, r, `{"echo":"x"}`)
	pid, err := r.BootstrapPID()
	if err != nil {
		t.Fatal(err)
	}
	rss, err := r.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	// A Go bootstrap maps at least its runtime and a few heap arenas; a value of a few bytes
	// would mean the kB unit was dropped.
	if rss < 1<<20 || rss > 1<<32 {
		t.Errorf("PeakRSS = %d bytes, want between 1 MiB and 4 GiB", rss)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("bootstrap %d still alive after Close", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := r.Invoke(context.Background(), []byte(`{}`)); err == nil {
		t.Error("Invoke after Close: want an error")
	}
}

func TestStartAndBuildErrors(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"empty bootstrap", func() error { _, err := lambdarun.Start(context.Background(), lambdarun.Config{}); return err }, "empty bootstrap path"},
		{"missing bootstrap", func() error {
			_, err := lambdarun.Start(context.Background(), lambdarun.Config{Bootstrap: filepath.Join(t.TempDir(), "nope")})
			return err
		}, "no such file"},
		{"bootstrap not executable", func() error {
			_, err := lambdarun.Start(context.Background(), lambdarun.Config{Bootstrap: notExec})
			return err
		}, "not an executable file"},
		{"build of a missing package", func() error {
			_, err := lambdarun.Build(context.Background(), "./does/not/exist", t.TempDir(), "", "")
			return err
		}, "lambdarun: build ./does/not/exist"},
		{"build with an empty package", func() error {
			_, err := lambdarun.Build(context.Background(), "", t.TempDir(), "", "")
			return err
		}, "empty package path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestBuildCrossCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles a bootstrap")
	}
	bin, err := lambdarun.Build(context.Background(), helloPkg, t.TempDir(), "linux", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	// ELF header: e_machine at offset 18, EM_AARCH64 = 183.
	if len(b) < 20 || string(b[:4]) != "\x7fELF" || b[18] != 183 {
		t.Errorf("%s is not a linux/arm64 ELF executable", bin)
	}
}
