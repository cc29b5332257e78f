package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

const source = "e2e_src"

// csvOf returns a CSV with a header and n contact rows whose ids start at first.
func csvOf(first, n int) []byte {
	var b strings.Builder
	b.WriteString("id,name,score\n")
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "c%d,Name %d,%d\n", i, i, i*10)
	}
	return []byte(b.String())
}

// jsonlOf returns n JSON lines records whose ids start at first.
func jsonlOf(first, n int) []byte {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `{"id":"j%d","name":"Name %d","score":%d}`+"\n", i, i, i)
	}
	return []byte(b.String())
}

// jsonArrayOf returns a JSON array of n records whose ids start at first.
func jsonArrayOf(first, n int) []byte {
	recs := strings.Split(strings.TrimSpace(string(jsonlOf(first, n))), "\n")
	return []byte("[" + strings.Join(recs, ",\n") + "]")
}

// wantOutcome checks an object's outcome tags; records < 0 skips the count.
func (w *world) wantOutcome(t *testing.T, key, status string, records int) map[string]string {
	t.Helper()
	tags := w.tags(key)
	if tags["datacloud-status"] != status {
		t.Errorf("%s: datacloud-status=%q, want %q (tags %v)", key, tags["datacloud-status"], status, tags)
	}
	if records >= 0 && tags["datacloud-records"] != strconv.Itoa(records) {
		t.Errorf("%s: datacloud-records=%q, want %d", key, tags["datacloud-records"], records)
	}
	if status == "failed" && tags["datacloud-error"] == "" {
		t.Errorf("%s: failed without datacloud-error", key)
	}
	if status == "ingested" && tags["datacloud-error"] != "" {
		t.Errorf("%s: ingested with datacloud-error %q", key, tags["datacloud-error"])
	}
	return tags
}

// recordIDs returns the sorted ids of an object's records in the emulator.
func recordIDs(dc *datacloudtest.Server, object string) []string {
	var ids []string
	for _, r := range dc.Records(source, object) {
		ids = append(ids, fmt.Sprint(r["id"]))
	}
	slices.Sort(ids)
	return ids
}

// wantRecords checks that the emulator holds exactly n records of object.
func wantRecords(t *testing.T, dc *datacloudtest.Server, object string, n int) {
	t.Helper()
	if got := len(dc.Records(source, object)); got != n {
		t.Errorf("Data Cloud holds %d %s records, want %d", got, object, n)
	}
}

// tenantRequests counts requests to tenant API paths starting with prefix.
func tenantRequests(dc *datacloudtest.Server, method, prefix string) int {
	n := 0
	for _, r := range dc.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

func TestIngestEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		w.seedToken(time.Hour)
		ing := w.start("s3ingest", fnOptions{})

		t.Run("S3 event with several records", func(t *testing.T) {
			a := w.put("ingest/"+source+"/EvA/2026/11/28/a.csv", csvOf(1, 5), "")
			b := w.put("ingest/"+source+"/EvB/b.json", jsonArrayOf(1, 3), "")
			c := w.put("ingest/"+source+"/EvC/c.jsonl", jsonlOf(1, 4), "")
			mustSucceed(t, ing.invoke(w.s3Event(a, b, c)))
			tags := w.wantOutcome(t, a.Key, "ingested", 5)
			if jobs := w.DC.Jobs(); len(jobs) == 0 || tags["datacloud-job"] != jobs[len(jobs)-1].ID {
				t.Errorf("csv datacloud-job=%q, want the bulk job id", tags["datacloud-job"])
			}
			if tags := w.wantOutcome(t, b.Key, "ingested", 3); tags["datacloud-job"] != "streaming" {
				t.Errorf("json datacloud-job=%q, want streaming", tags["datacloud-job"])
			}
			w.wantOutcome(t, c.Key, "ingested", 4)
			wantRecords(t, w.DC, "EvA", 5)
			wantRecords(t, w.DC, "EvB", 3)
			wantRecords(t, w.DC, "EvC", 4)
		})

		t.Run("SQS batch reports exactly the failed messages", func(t *testing.T) {
			good1 := w.put("ingest/"+source+"/SqsA/1.csv", csvOf(1, 3), "")
			bad := w.put("ingest/"+source+"/SqsB/2.txt", []byte("not a supported format"), "")
			good2 := w.put("ingest/"+source+"/SqsC/3.jsonl", jsonlOf(1, 2), "")
			badJSON := w.put("ingest/"+source+"/SqsD/4.json", []byte(`[{"id":"x",}]`), "")
			res := ing.invoke(w.sqsEvent(
				sqsMessage{"m-good-1", w.s3Event(good1)},
				sqsMessage{"m-bad-ext", w.s3Event(bad)},
				sqsMessage{"m-good-2", w.s3Event(good2)},
				sqsMessage{"m-bad-json", w.s3Event(badJSON)},
				sqsMessage{"m-test-event", w.testEvent()},
			))
			mustSucceed(t, res)
			ans := decode[struct {
				BatchItemFailures []struct {
					ItemIdentifier string `json:"itemIdentifier"`
				} `json:"batchItemFailures"`
			}](t, res)
			var failed []string
			for _, f := range ans.BatchItemFailures {
				failed = append(failed, f.ItemIdentifier)
			}
			slices.Sort(failed)
			if want := []string{"m-bad-ext", "m-bad-json"}; !slices.Equal(failed, want) {
				t.Errorf("batchItemFailures = %v, want %v", failed, want)
			}
			w.wantOutcome(t, good1.Key, "ingested", 3)
			w.wantOutcome(t, good2.Key, "ingested", 2)
			w.wantOutcome(t, bad.Key, "failed", -1)
			w.wantOutcome(t, badJSON.Key, "failed", -1)
			wantRecords(t, w.DC, "SqsA", 3)
			wantRecords(t, w.DC, "SqsC", 2)
		})

		t.Run("EventBridge Object Created", func(t *testing.T) {
			o := w.put("ingest/"+source+"/EvBridge/x.ndjson", jsonlOf(1, 6), "")
			mustSucceed(t, ing.invoke(w.eventBridgeEvent(o)))
			w.wantOutcome(t, o.Key, "ingested", 6)
			wantRecords(t, w.DC, "EvBridge", 6)
		})

		t.Run("s3:TestEvent is acknowledged and ignored", func(t *testing.T) {
			n := len(w.DC.Requests())
			mustSucceed(t, ing.invoke(w.testEvent()))
			res := ing.invoke(w.sqsEvent(sqsMessage{"m-test", w.testEvent()}))
			mustSucceed(t, res)
			if strings.Contains(string(res.Payload), "m-test") {
				t.Errorf("a TestEvent message was reported failed: %s", res.Payload)
			}
			if len(w.DC.Requests()) != n {
				t.Error("a TestEvent caused Data Cloud requests")
			}
		})

		t.Run("direct event fails after attempting every object", func(t *testing.T) {
			bad := w.put("ingest/"+source+"/DirBad/empty.csv", nil, "")
			good := w.put("ingest/"+source+"/DirGood/ok.csv", csvOf(1, 2), "")
			res := ing.invoke(w.s3Event(bad, good))
			mustFail(t, res)
			if res.FunctionError != "IngestError" || !strings.Contains(res.ErrorMessage, bad.Key) || strings.Contains(res.ErrorMessage, good.Key) {
				t.Errorf("error %s %q, want IngestError naming only %s", res.FunctionError, res.ErrorMessage, bad.Key)
			}
			w.wantOutcome(t, bad.Key, "failed", -1)
			w.wantOutcome(t, good.Key, "ingested", 2)
			wantRecords(t, w.DC, "DirGood", 2)
		})

		t.Run("malformed event is rejected", func(t *testing.T) {
			res := ing.invoke(`{"Records":"nope"}`)
			mustFail(t, res)
			if !strings.HasPrefix(res.ErrorMessage, "datacloud: ") {
				t.Errorf("error %q, want a datacloud: error", res.ErrorMessage)
			}
		})
	})
}
