// Package lambdaruntest holds test helpers for code that runs bootstraps under the Runtime
// Interface Emulator.
package lambdaruntest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
)

// RequireRIE returns the path of aws-lambda-rie. Without it the test is skipped, unless
// REQUIRE_RIE=1 makes that a failure (CI sets it).
func RequireRIE(t testing.TB) string {
	t.Helper()
	p, err := lambdarun.FindRIE()
	if err != nil {
		if os.Getenv("REQUIRE_RIE") == "1" {
			t.Fatalf("REQUIRE_RIE=1: %v", err)
		}
		if errors.Is(err, lambdarun.ErrRIENotFound) {
			t.Skip(err.Error())
		}
		t.Fatal(err)
	}
	return p
}

// Start runs cfg under the emulator for one test and closes it on cleanup.
func Start(t testing.TB, cfg lambdarun.Config) *lambdarun.Runtime {
	t.Helper()
	RequireRIE(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := lambdarun.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}
