package lambdarun

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLogCollector(t *testing.T) {
	c := newLogCollector()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var copied strings.Builder
	c.follow(r, &syncWriter{b: &copied})
	t.Cleanup(func() { w.Close(); c.done.Wait() })

	from := c.mark()
	fmt.Fprintln(w, "START RequestId: x")
	fmt.Fprint(w, "partial line without newline")
	if err := c.sync([]*os.File{w}, "b1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(w, "28 Nov 2026 16:41:10,492 [INFO] (rapid) INIT REPORT(durationMs: 26.747000)")
	if err := c.sync([]*os.File{w}, "b2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	got := c.since(from)
	want := []string{"START RequestId: x", "partial line without newline", "28 Nov 2026 16:41:10,492 [INFO] (rapid) INIT REPORT(durationMs: 26.747000)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q (barriers removed, a partial line kept)", got, want)
	}
	if d, ok := c.initSince(from); !ok || d != 26747*time.Microsecond {
		t.Errorf("initSince = %v %v, want 26.747ms", d, ok)
	}
	if _, ok := c.initSince(c.mark()); ok {
		t.Error("initSince after the INIT REPORT line found one")
	}
	if strings.Contains(copied.String(), barrierPrefix) {
		t.Error("a barrier was copied to the caller's writer")
	}
	if err := c.sync(nil, "none", time.Second); err != nil {
		t.Errorf("sync with no pipes: %v", err)
	}
}

func TestLogCollectorBounded(t *testing.T) {
	c := newLogCollector()
	for i := range maxKeptLines + 10 {
		c.add(fmt.Sprint("line ", i), nil)
	}
	if n := len(c.since(0)); n > maxKeptLines {
		t.Errorf("%d lines kept, want at most %d", n, maxKeptLines)
	}
	last := c.mark() - 1
	if got := c.since(last); len(got) != 1 || got[0] != fmt.Sprint("line ", maxKeptLines+9) {
		t.Errorf("since(last) = %q, want the last line", got)
	}
}

func TestDedupeEnv(t *testing.T) {
	got := dedupeEnv([]string{"A=1", "B=2", "A=3", "AWS_LAMBDA_MAX_CONCURRENCY=4", "C=x=y"})
	want := []string{"A=3", "B=2", "C=x=y"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("dedupeEnv = %q, want %q", got, want)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name, header, body string
		status             int
		wantErr, wantMsg   string
	}{
		{"success", "", `{"ok":true}`, 200, "", ""},
		{"error document", "", `{"errorMessage":"boom","errorType":"MyError"}`, 200, "MyError", "boom"},
		{"header wins over nothing", "Unhandled", `"oops"`, 200, "Unhandled", ""},
		{"header with document", "Unhandled", `{"errorMessage":"boom","errorType":"MyError"}`, 200, "MyError", "boom"},
		{"timeout", "", "Task timed out after 3.00 seconds", 200, ErrorTimeout, "Task timed out after 3.00 seconds"},
		{"runtime exit", "", "", 502, ErrorRuntimeExit, "aws-lambda-rie answered 502"},
		{"a JSON answer that merely has errorType is not an error without a message", "", `{"errorType":"x"}`, 200, "", ""},
		{"large error document", "", `{"errorMessage":"` + strings.Repeat("m", 100<<10) + `","errorType":"Big"}`, 200, "Big", strings.Repeat("m", 100<<10)},
		{"large error document, type first", "", ` {"errorType":"Big","errorMessage":"` + strings.Repeat("m", 100<<10) + `"}`, 200, "Big", strings.Repeat("m", 100<<10)},
		{"large answer that ends like an error document", "", `{"rows":"` + strings.Repeat("r", 100<<10) + `","errorMessage":"no","errorType":"No"}`, 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Result{StatusCode: tc.status, Payload: []byte(tc.body)}
			classify(&res, tc.header, nil)
			if res.FunctionError != tc.wantErr || res.ErrorMessage != tc.wantMsg {
				t.Errorf("classify = %q %.40q, want %q %.40q", res.FunctionError, res.ErrorMessage, tc.wantErr, tc.wantMsg)
			}
		})
	}
}

type syncWriter struct{ b *strings.Builder }

func (s *syncWriter) Write(p []byte) (int, error) { return s.b.Write(p) }
