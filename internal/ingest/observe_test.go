package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// logLines returns the JSON log lines whose msg is msg.
func (f *fixture) logLines(msg string) []map[string]any {
	f.t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			f.t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func TestLogsAndMetricsOfAnIngest(t *testing.T) {
	f := newFixture(t, withConfig(func(c *Config) { c.BulkPartBytes = 100_000; c.ProgressBytes = 100_000 }))
	o := f.put("ingest/crm/Contact/big.csv", []byte(csvHeader+csvRecords(1, 8000)))
	if _, err := f.invoke(s3Event(o)); err != nil {
		t.Fatal(err)
	}
	done := f.logLines("object ingested")
	if len(done) != 1 {
		t.Fatalf("%d 'object ingested' lines", len(done))
	}
	for _, k := range []string{"bucket", "key", "source", "object", "job_id", "bytes", "records", "duration_ms"} {
		if _, ok := done[0][k]; !ok {
			t.Errorf("log line lacks %q: %v", k, done[0])
		}
	}
	if done[0]["key"] != o.ref.Key || done[0]["records"] != float64(8000) || done[0]["bytes"] != float64(len(o.body)) {
		t.Errorf("log line %v", done[0])
	}
	if n := len(f.logLines("ingest progress")); n < 2 || n > len(o.body)/100_000 {
		t.Errorf("%d progress lines for %d bytes every 100000", n, len(o.body))
	}
	var emf map[string]any
	if err := json.Unmarshal(bytes.TrimSpace([]byte(f.metrics.String())), &emf); err != nil {
		t.Fatalf("metrics line %q: %v", f.metrics.String(), err)
	}
	var uploaded float64
	for _, p := range f.dc.JobData(f.jobs()[0].ID) {
		uploaded += float64(len(p))
	}
	if emf["RecordsSent"] != float64(8000) || emf["BytesSent"] != uploaded || emf["_aws"] == nil {
		t.Errorf("metrics %v, want RecordsSent 8000 and BytesSent %v", emf, uploaded)
	}
}

func TestOutcomeThatDoesNotFitIsOnlyLoggedAndCounted(t *testing.T) {
	f := newFixture(t)
	o := f.put("ingest/web/Event/a.jsonl", []byte(jsonRecord(1)))
	var theirs []types.Tag
	for i := range 10 {
		theirs = append(theirs, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")})
	}
	if _, err := f.s3.PutObjectTagging(context.Background(), &s3.PutObjectTaggingInput{Bucket: aws.String(f.bucket), Key: aws.String(o.ref.Key),
		Tagging: &types.Tagging{TagSet: theirs}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.invoke(s3Event(o)); err != nil {
		t.Fatal(err)
	}
	tg := f.tags(o)
	if len(tg) != 10 || tg["k9"] != "v" {
		t.Errorf("their tags changed: %v", tg)
	}
	if !strings.Contains(f.metrics.String(), `"OutcomeTagsDropped":1`) || len(f.logLines("object tags leave no room for the outcome")) != 1 {
		t.Errorf("not counted or logged: %s", f.metrics.String())
	}
	f.assertUnchanged(o)
}

func TestEventBridgeInvocation(t *testing.T) {
	f := newFixture(t)
	good := f.put("ingest/web/Event/a b+c.jsonl", []byte(jsonRecord(1)))
	bad := f.put("ingest/web/Event/x.yaml", []byte("a: 1"))
	eb := func(o landed) json.RawMessage {
		return json.RawMessage(strings.Replace(strings.Replace(ebEvent("Object Created", o.ref.Key), `"name":"b"`, `"name":"`+f.bucket+`"`, 1),
			`"etag":"e1","version-id":"v9"`, `"etag":"`+o.ref.ETag+`"`, 1))
	}
	if out, err := f.invoke(eb(good)); err != nil || out != nil {
		t.Fatalf("good: %v %v", out, err)
	}
	f.assertTags(good, "ingested", "1")
	_, err := f.invoke(eb(bad))
	var ie *IngestError
	if !errors.As(err, &ie) || len(ie.Failed) != 1 || ie.Failed[0].Ref.Key != bad.ref.Key {
		t.Fatalf("bad: %v", err)
	}
	f.assertTags(bad, "failed", "0")
	f.assertUnchanged(good, bad)
}
