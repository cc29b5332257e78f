package obs

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"
)

func TestMetricsFlushWritesEMF(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := NewMetrics("s3ingest").WithClock(func() time.Time { return at })
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); m.Count(RecordsSent, 12) }()
	}
	wg.Wait()
	m.Count(BytesSent, 2048)
	m.Count(FailedObjects, 0)

	var buf bytes.Buffer
	if err := m.Flush(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Function      string
		RecordsSent   int64
		BytesSent     int64
		FailedObjects *int64
	}
	line := buf.Bytes()
	if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("want exactly one line, got %q", line)
	}
	if err := json.Unmarshal(line, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Function != "s3ingest" || doc.RecordsSent != 120 || doc.BytesSent != 2048 || doc.FailedObjects == nil || *doc.FailedObjects != 0 {
		t.Fatalf("values wrong: %s", line)
	}
	if doc.AWS.Timestamp != at.UnixMilli() || len(doc.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("_aws wrong: %s", line)
	}
	d := doc.AWS.CloudWatchMetrics[0]
	if d.Namespace != "DataCloudBridge" || len(d.Dimensions) != 1 || d.Dimensions[0][0] != "Function" {
		t.Fatalf("directive wrong: %s", line)
	}
	want := []struct{ Name, Unit string }{{RecordsSent, "Count"}, {BytesSent, "Bytes"}, {FailedObjects, "Count"}}
	if len(d.Metrics) != len(want) {
		t.Fatalf("metrics %v, want %v", d.Metrics, want)
	}
	for i := range want {
		if d.Metrics[i] != want[i] {
			t.Fatalf("metric %d = %v, want %v", i, d.Metrics[i], want[i])
		}
	}

	buf.Reset()
	if err := m.Flush(&buf); err != nil || buf.Len() != 0 {
		t.Fatalf("second flush wrote %q (err %v), want nothing after reset", buf.String(), err)
	}
	if m.Value(RecordsSent) != 0 {
		t.Fatal("counter not reset by Flush")
	}
}

func TestMetricsNilIsNoop(t *testing.T) {
	var m *Metrics
	m.Count(QueryRows, 1)
	var buf bytes.Buffer
	if err := m.Flush(&buf); err != nil || buf.Len() != 0 {
		t.Fatalf("nil metrics wrote %q", buf.String())
	}
}
