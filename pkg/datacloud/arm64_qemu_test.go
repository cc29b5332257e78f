//go:build !arm64

package datacloud

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestPackageOnArm64 runs this package's tests as an arm64 binary under qemu-aarch64-static.
// The functions are deployed on arm64 (Graviton), where the CSV splitter classifies its input
// with NEON (csvmask_arm64.s): code that would otherwise never run on an amd64 machine. The
// run must include TestCSVClassifiersAgree with the NEON classifier active (not skipped).
// Without qemu-aarch64-static (Debian: qemu-user-static) the test is skipped, unless
// REQUIRE_QEMU=1 makes that a failure.
func TestPackageOnArm64(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and emulates the whole package")
	}
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		if os.Getenv("REQUIRE_QEMU") == "1" {
			t.Fatal("qemu-aarch64-static is required (REQUIRE_QEMU=1) but not on PATH")
		}
		t.Skip("qemu-aarch64-static not on PATH (Debian: apt-get install qemu-user-static)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "datacloud-arm64.test")
	build := exec.CommandContext(ctx, filepath.Join(runtime.GOROOT(), "bin", "go"), "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c for arm64: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, qemu, bin, "-test.v", "-test.timeout", "7m").CombinedOutput()
	if err != nil {
		t.Fatalf("arm64 tests under qemu: %v\n%s", err, tailLines(string(out), 40))
	}
	if !strings.Contains(string(out), "--- PASS: TestCSVClassifiersAgree") {
		t.Fatalf("TestCSVClassifiersAgree did not pass under qemu (no NEON classifier?):\n%s", tailLines(string(out), 40))
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
