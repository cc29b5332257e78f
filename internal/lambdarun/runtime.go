package lambdarun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultTimeout is Lambda's default function timeout, used when Config.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// DefaultMemoryMB is Lambda's default memory size, used when Config.MemoryMB is zero.
const DefaultMemoryMB = 128

// startTimeout bounds how long Start waits for the emulator's port.
const startTimeout = 15 * time.Second

// Config says what to run and how.
type Config struct {
	// Bootstrap is the path of the bootstrap executable (required).
	Bootstrap string
	// Env is the function's environment ("KEY=value"). The emulator passes its environment to
	// the bootstrap, so these reach the function; the host's environment does not (except PATH
	// and HOME), so tests stay hermetic.
	Env []string
	// Timeout is the function timeout; the emulator counts whole seconds, so it is rounded up.
	Timeout time.Duration
	// MemoryMB is reported to the function as AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
	MemoryMB int
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME (default "function").
	FunctionName string
	// Stdout and Stderr, when set, receive a copy of every line of the emulator's stdout (which
	// carries the bootstrap's output and the REPORT lines) and stderr (the emulator's own log).
	Stdout, Stderr io.Writer
}

// Runtime is a running emulator with one bootstrap. It serves one invoke at a time, as a
// single Lambda execution environment does; Invoke serialises concurrent callers.
type Runtime struct {
	cfg       Config
	endpoint  string
	cmd       *exec.Cmd
	exited    chan struct{}
	waitErr   error
	pipes     []*os.File // our copies of the write ends, for log barriers
	logs      *logCollector
	invokeMu  sync.Mutex
	closeOnce sync.Once
	seq       int
}

// Start runs aws-lambda-rie with cfg.Bootstrap on two free loopback ports and waits until it
// accepts connections. The bootstrap itself starts on the first Invoke, as on Lambda.
func Start(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Bootstrap == "" {
		return nil, errors.New("lambdarun: start: empty bootstrap path")
	}
	boot, err := filepath.Abs(cfg.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("lambdarun: start: %w", err)
	}
	if st, err := os.Stat(boot); err != nil {
		return nil, fmt.Errorf("lambdarun: start: bootstrap: %w", err)
	} else if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("lambdarun: start: bootstrap %s is not an executable file", boot)
	}
	cfg.Bootstrap = boot
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MemoryMB <= 0 {
		cfg.MemoryMB = DefaultMemoryMB
	}
	if cfg.FunctionName == "" {
		cfg.FunctionName = "function"
	}
	rie, err := FindRIE()
	if err != nil {
		return nil, err
	}
	// Free ports can be taken between probing and the emulator's bind; retry a few times.
	var lastErr error
	for range 3 {
		r, err := start(ctx, rie, cfg)
		if err == nil {
			return r, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, rie string, cfg Config) (*Runtime, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	rieAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	apiAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	r := &Runtime{cfg: cfg, endpoint: "http://" + rieAddr, exited: make(chan struct{}), logs: newLogCollector()}

	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("lambdarun: start: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("lambdarun: start: %w", err)
	}
	r.pipes = []*os.File{outW, errW}
	r.logs.follow(outR, cfg.Stdout)
	r.logs.follow(errR, cfg.Stderr)

	// --log-level is fixed so a function's LOG_LEVEL=debug does not turn on the emulator's
	// debug log, which would print request headers and payloads.
	r.cmd = exec.Command(rie, "--log-level", "info",
		"--runtime-interface-emulator-address", rieAddr,
		"--runtime-api-address", apiAddr, cfg.Bootstrap)
	r.cmd.Dir = filepath.Dir(cfg.Bootstrap)
	r.cmd.Env = r.environment()
	r.cmd.Stdout = outW
	r.cmd.Stderr = errW
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		r.closePipes()
		return nil, fmt.Errorf("lambdarun: start %s: %w", rie, err)
	}
	go func() {
		r.waitErr = r.cmd.Wait()
		close(r.exited)
	}()

	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", rieAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return r, nil
		}
		select {
		case <-r.exited:
			r.Close()
			return nil, fmt.Errorf("lambdarun: start: aws-lambda-rie exited: %v\n%s", r.waitErr, strings.Join(r.logs.since(0), "\n"))
		case <-ctx.Done():
			r.Close()
			return nil, fmt.Errorf("lambdarun: start: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.Close()
			return nil, fmt.Errorf("lambdarun: start: aws-lambda-rie did not accept connections on %s within %s", rieAddr, startTimeout)
		}
	}
}

// environment is the emulator's (and so the function's) environment: a minimal host part,
// the caller's variables, then the Lambda variables this Config fixes.
func (r *Runtime) environment() []string {
	env := []string{}
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env,
		"_HANDLER=bootstrap",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/"+r.cfg.FunctionName,
		"AWS_LAMBDA_LOG_STREAM_NAME=local",
		"LAMBDA_TASK_ROOT="+filepath.Dir(r.cfg.Bootstrap),
	)
	env = append(env, r.cfg.Env...)
	secs := int((r.cfg.Timeout + time.Second - 1) / time.Second)
	env = append(env,
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(secs),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(r.cfg.MemoryMB),
		"AWS_LAMBDA_FUNCTION_NAME="+r.cfg.FunctionName,
	)
	return dedupeEnv(env)
}

// dedupeEnv keeps the last value of each variable, in first-seen order, so the Lambda
// variables this Config fixes win over the caller's.
func dedupeEnv(env []string) []string {
	last := map[string]string{}
	var order []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		// AWS_LAMBDA_MAX_CONCURRENCY switches this RIE to its managed-instances mode.
		if k == "AWS_LAMBDA_MAX_CONCURRENCY" {
			continue
		}
		if _, seen := last[k]; !seen {
			order = append(order, k)
		}
		last[k] = v
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+last[k])
	}
	return out
}

// Endpoint is the emulator's base URL (http://127.0.0.1:port).
func (r *Runtime) Endpoint() string { return r.endpoint }

// InitDuration is the duration of the first INIT REPORT of this runtime (the cold start of its
// bootstrap), or zero before the first invoke.
func (r *Runtime) InitDuration() time.Duration { return r.logs.firstInit() }

// Logs returns every line the emulator and the bootstrap printed so far.
func (r *Runtime) Logs() []string { return r.logs.since(0) }

// Close stops the emulator and the bootstrap. The emulator starts the bootstrap in a process
// group of its own, so both groups are killed.
func (r *Runtime) Close() error {
	r.closeOnce.Do(func() {
		if r.cmd != nil && r.cmd.Process != nil {
			pid := r.cmd.Process.Pid
			kids := descendants(pid)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			for _, k := range kids {
				if pgid, err := syscall.Getpgid(k); err == nil && pgid == k {
					_ = syscall.Kill(-k, syscall.SIGKILL)
				}
				_ = syscall.Kill(k, syscall.SIGKILL)
			}
			select {
			case <-r.exited:
			case <-time.After(10 * time.Second):
			}
		}
		r.closePipes()
		// The readers end when every writer is gone; a process that escaped the kill could
		// hold a pipe open, so the wait is bounded.
		drained := make(chan struct{})
		go func() { r.logs.done.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(5 * time.Second):
		}
	})
	return nil
}

func (r *Runtime) closePipes() {
	for _, p := range r.pipes {
		p.Close()
	}
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("lambdarun: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
