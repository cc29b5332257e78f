// Package lambdarun builds Lambda bootstraps and runs them under the AWS Lambda Runtime
// Interface Emulator (aws-lambda-rie), the program `sam local invoke` runs inside its
// container. It is what the end-to-end tests, cmd/sam-local and the benchmarks use to run the
// real functions on a laptop without Docker.
//
// The RIE passes its own environment to the bootstrap, initialises the bootstrap on the first
// invoke, prints "INIT REPORT(durationMs: …)" on its stderr and "REPORT RequestId: …" on its
// stdout (which also carries the bootstrap's stdout and stderr). It answers every invoke with
// 200 and the handler's body (an error is a body with errorType and errorMessage), "Task timed
// out after N.00 seconds" on a timeout, and 502 with an empty body when the runtime exits.
// It reports a fixed memory size, so real memory is read from /proc (PeakRSS).
package lambdarun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// RIEModule is the module path and version of the emulator this package is written against.
const RIEModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// ErrRIENotFound is returned (wrapped) when aws-lambda-rie is neither on PATH nor in
// $(go env GOPATH)/bin.
var ErrRIENotFound = errors.New("aws-lambda-rie not found on PATH or in $(go env GOPATH)/bin; install it with: go install " + RIEModule)

// Build compiles a function's main package into outDir/bootstrap the way Lambda's
// provided.al2023 runtime expects it: static (CGO_ENABLED=0), without the RPC shim
// (-tags lambda.norpc), stripped and trimmed. pkgPath is anything `go build` accepts (an import
// path, or a ./relative path resolved from the current directory). Empty goos or goarch mean
// the host's, which is what a local run under the RIE needs.
func Build(ctx context.Context, pkgPath, outDir, goos, goarch string) (string, error) {
	if pkgPath == "" {
		return "", errors.New("lambdarun: build: empty package path")
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("lambdarun: build %s: %w", pkgPath, err)
	}
	out, err := filepath.Abs(filepath.Join(outDir, "bootstrap"))
	if err != nil {
		return "", fmt.Errorf("lambdarun: build %s: %w", pkgPath, err)
	}
	cmd := exec.CommandContext(ctx, goTool(), "build", "-tags", "lambda.norpc", "-trimpath",
		"-ldflags", "-s -w", "-o", out, pkgPath)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if goos != "" {
		cmd.Env = append(cmd.Env, "GOOS="+goos)
	}
	if goarch != "" {
		cmd.Env = append(cmd.Env, "GOARCH="+goarch)
	}
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("lambdarun: build %s: %w\n%s", pkgPath, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// FindRIE returns the path of aws-lambda-rie: on PATH, or else in $(go env GOPATH)/bin where
// `go install` puts it.
func FindRIE() (string, error) {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	out, err := exec.Command(goTool(), "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "aws-lambda-rie")
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("lambdarun: %w", ErrRIENotFound)
}

// goTool prefers the go binary of the running toolchain's GOROOT, so a test binary builds
// with the same Go it was built with.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}
