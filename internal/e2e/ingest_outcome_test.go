package e2e

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

func TestIngestTagsAndOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		w.seedToken(time.Hour)
		ing := w.start("s3ingest", fnOptions{})

		t.Run("outcome merges with own tags and the object is unchanged", func(t *testing.T) {
			data := csvOf(1, 4)
			o := w.put("ingest/"+source+"/Own/a.csv", data, "team=crm&origin=export%20job")
			mustSucceed(t, ing.invoke(w.s3Event(o)))
			tags := w.cliTags(o.Key) // as an operator would look
			if tags["team"] != "crm" || tags["origin"] != "export job" || tags["datacloud-status"] != "ingested" || tags["datacloud-records"] != "4" {
				t.Errorf("tags %v, want own tags kept and the outcome added", tags)
			}
			body, etag := w.get(o.Key)
			if !bytes.Equal(body, data) || etag != o.ETag {
				t.Error("the landed file was modified")
			}
		})

		t.Run("no room for the outcome keeps the own tags", func(t *testing.T) {
			// Ten own tags: S3's limit, nothing can be added.
			var own []string
			for i := range 10 {
				own = append(own, fmt.Sprintf("k%d=v%d", i, i))
			}
			o := w.put("ingest/"+source+"/Full/a.csv", csvOf(1, 2), strings.Join(own, "&"))
			before := w.tags(o.Key)
			res := ing.invoke(w.s3Event(o))
			mustSucceed(t, res)
			if after := w.tags(o.Key); !maps.Equal(before, after) {
				t.Errorf("tags changed from %v to %v, want the object's own 10 tags kept", before, after)
			}
			if !strings.Contains(res.Logs, "object tags leave no room for the outcome") || !strings.Contains(res.Logs, `"msg":"object ingested"`) {
				t.Errorf("the outcome was not logged:\n%s", res.Logs)
			}
			wantRecords(t, w.DC, "Full", 2)
		})

		t.Run("the same event twice ingests once", func(t *testing.T) {
			o := w.put("ingest/"+source+"/Twice/a.jsonl", jsonlOf(1, 5), "")
			mustSucceed(t, ing.invoke(w.s3Event(o)))
			n := len(w.DC.Requests())
			again := ing.invoke(w.s3Event(o))
			mustSucceed(t, again)
			if len(w.DC.Requests()) != n {
				t.Error("a repeated event made Data Cloud requests")
			}
			w.wantOutcome(t, o.Key, "ingested", 5)
			wantRecords(t, w.DC, "Twice", 5)
			// A new version of the same key is a new object version: it is ingested.
			o2 := w.put(o.Key, jsonlOf(6, 2), "")
			mustSucceed(t, ing.invoke(w.s3Event(o2)))
			wantRecords(t, w.DC, "Twice", 7)
		})

		t.Run("concurrent invocations for one object version ingest once", func(t *testing.T) {
			other := w.start("s3ingest", fnOptions{})
			o := w.put("ingest/"+source+"/Race/a.csv", csvOf(1, 6), "")
			// Hold the first upload so that the two invocations overlap.
			if err := w.DC.InjectFault(datacloudtest.Fault{Route: "PUT /api/v1/ingest/jobs/{id}/batches", Delay: 4 * time.Second, Times: 1}); err != nil {
				t.Fatal(err)
			}
			results := invokeConcurrently(t, w.s3Event(o), ing, other)
			skipped := 0
			for _, r := range results {
				mustSucceed(t, r)
				if strings.Contains(r.Logs, "claimed by another invocation") {
					skipped++
				}
			}
			if skipped != 1 {
				t.Errorf("%d invocations logged that another one holds the claim, want 1", skipped)
			}
			if jobs := jobsOf(w.DC, "Race"); len(jobs) != 1 {
				t.Errorf("%d jobs for one object version, want 1", len(jobs))
			}
			wantRecords(t, w.DC, "Race", 6)
			w.wantOutcome(t, o.Key, "ingested", 6)
		})
	})
}

// invokeConcurrently sends the same payload to several runtimes at once.
func invokeConcurrently(t *testing.T, payload string, fns ...*fn) []lambdarun.Result {
	t.Helper()
	results := make([]lambdarun.Result, len(fns))
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, f := range fns {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
			defer cancel()
			results[i], errs[i] = f.rt.Invoke(ctx, []byte(payload))
			transcript.record(f.name+" answer", results[i].Payload)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			transcript.record("invoke error", []byte(err.Error()))
			t.Fatal(err)
		}
	}
	return results
}
