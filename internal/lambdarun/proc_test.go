package lambdarun

import (
	"os"
	"slices"
	"testing"
)

func TestChildrenByStat(t *testing.T) {
	tests := []struct {
		name, stat string
		want       int
		ok         bool
	}{
		{"plain", "1234 (bootstrap) S 999 1234 1 0", 999, true},
		{"name with spaces and parens", "1234 (a (b) c) R 42 1 1 0", 42, true},
		{"garbage", "nonsense", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parentFromStat(tc.stat)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parentFromStat(%q) = %d %v, want %d %v", tc.stat, got, ok, tc.want, tc.ok)
			}
		})
	}
	// This test process has no children; its parent (go test) has it as one.
	if kids := childrenByStat(os.Getppid()); !slices.Contains(kids, os.Getpid()) {
		t.Errorf("childrenByStat(parent) = %v, want it to hold this process %d", kids, os.Getpid())
	}
	if a, b := childrenByStat(os.Getppid()), children(os.Getppid()); !slices.Contains(b, os.Getpid()) || len(a) == 0 {
		t.Errorf("children = %v, childrenByStat = %v: both must find this process", b, a)
	}
}

// TestCPUFromStat reads utime + stime past a command name holding spaces and parentheses, and
// refuses lines it cannot read.
func TestCPUFromStat(t *testing.T) {
	const line = "4242 (boot (x) strap) S 1 4242 4242 0 -1 4194560 1181 0 0 0 123 45 0 0 20 0 7 0 1234 5678 90 0"
	if d, ok := cpuFromStat(line); !ok || d != 168*clockTick {
		t.Fatalf("cpuFromStat = %v, %v; want %v", d, ok, 168*clockTick)
	}
	for _, bad := range []string{"", "4242 no parens S 1 2 3", "4242 (short) S 1 2", "4242 (x) S 1 4242 4242 0 -1 4194560 1181 0 0 0 a 45 0"} {
		if _, ok := cpuFromStat(bad); ok {
			t.Errorf("cpuFromStat(%q) accepted", bad)
		}
	}
	if d, err := processCPU(os.Getpid()); err != nil || d < 0 {
		t.Fatalf("processCPU(self) = %v, %v", d, err)
	}
	if _, err := processCPU(-1); err == nil {
		t.Fatal("processCPU(-1) did not fail")
	}
}
