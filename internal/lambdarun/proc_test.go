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
