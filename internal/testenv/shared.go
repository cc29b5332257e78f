package testenv

import (
	"context"
	"os/exec"
	"sync"
	"testing"
)

var shared struct {
	once sync.Once
	moto *Moto
	err  error
}

// SharedMoto returns one moto_server for the whole test package, started on first use, so
// that every test does not pay for a server start. Tests isolate themselves with their own
// buckets and secret names. Call StopSharedMoto from TestMain after m.Run. Without
// moto_server on PATH the test is skipped, unless REQUIRE_MOTO=1.
func SharedMoto(t testing.TB) *Moto {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		return MotoForTest(t) // skips, or fails under REQUIRE_MOTO=1
	}
	shared.once.Do(func() { shared.moto, shared.err = StartMoto(context.Background()) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.moto
}

// StopSharedMoto stops the server SharedMoto started, if any.
func StopSharedMoto() {
	if shared.moto != nil {
		shared.moto.Close()
	}
}
