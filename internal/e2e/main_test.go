package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/internal/lambdarun/lambdaruntest"
)

const modulePath = "github.com/dcbridge/datacloud-lambda"

// functionPkgs are the bootstraps the suite builds once per test binary. hello is the
// lambdarun test bootstrap, used to test the harness itself.
var functionPkgs = map[string]string{
	"tokenrefresh": "functions/tokenrefresh",
	"s3ingest":     "functions/s3ingest",
	"querytrigger": "functions/querytrigger",
	"hello":        "internal/lambdarun/testdata/hello",
}

// builds holds, per function, the bootstrap path or why there is none.
var builds = map[string]struct {
	path    string
	missing string
}{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "e2e-bootstraps-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	if err := buildAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	stopBackends()
	os.RemoveAll(dir)
	if !checkLeaks(os.Stderr) {
		code = 1
	}
	os.Exit(code)
}

// buildAll builds every function whose package exists, as Lambda would run it.
func buildAll(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for name, rel := range functionPkgs {
		if _, err := os.Stat(filepath.Join(root, rel, "main.go")); err != nil {
			builds[name] = struct{ path, missing string }{missing: rel + " does not exist"}
			continue
		}
		bin, err := lambdarun.Build(ctx, modulePath+"/"+rel, filepath.Join(dir, name), "", "")
		if err != nil {
			return err
		}
		builds[name] = struct{ path, missing string }{path: bin}
	}
	return nil
}

// bootstrap returns the built bootstrap of a function. A function whose package does not
// exist skips the test, except under REQUIRE_RIE=1 (CI), where every function must run.
func bootstrap(t *testing.T, name string) string {
	t.Helper()
	lambdaruntest.RequireRIE(t)
	b, ok := builds[name]
	if !ok {
		t.Fatalf("unknown function %q", name)
	}
	if b.missing != "" {
		if os.Getenv("REQUIRE_RIE") == "1" {
			t.Fatalf("function %s cannot run: %s", name, b.missing)
		}
		t.Skipf("function %s: %s", name, b.missing)
	}
	return b.path
}
