package e2e

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

const (
	routeStream = "POST /api/v1/ingest/sources/{source}/{object}"
	routeCreate = "POST /api/v1/ingest/jobs"
	routeUpload = "PUT /api/v1/ingest/jobs/{id}/batches"
	routeClose  = "PATCH /api/v1/ingest/jobs/{id}"
)

// statusCount counts served requests with a status on a path prefix.
func statusCount(dc *datacloudtest.Server, status int, pathPrefix string) int {
	n := 0
	for _, r := range dc.Requests() {
		if r.Status == status && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

func TestIngestFaults(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		tests := []struct {
			name   string
			fault  datacloudtest.Fault
			file   string
			data   []byte
			status int // the injected status seen by the emulator, 0 for resets
			check  func(t *testing.T, w *world, object string)
		}{
			{"429 with Retry-After on streaming", datacloudtest.Fault{Route: routeStream, Status: 429, RetryAfter: "1", Times: 2}, "a.jsonl", jsonlOf(1, 8), 429, nil},
			{"502 gateway page on streaming", datacloudtest.Fault{Route: routeStream, Status: 502, Body: "<html><body>Bad Gateway</body></html>", Times: 1}, "a.json", jsonArrayOf(1, 8), 502, nil},
			{"503 on job creation", datacloudtest.Fault{Route: routeCreate, Status: 503, RetryAfter: "1", Times: 1}, "a.csv", csvOf(1, 8), 503, nil},
			{"500 on upload", datacloudtest.Fault{Route: routeUpload, Status: 500, Times: 1}, "a.csv", csvOf(1, 8), 500, nil},
			{"429 on close", datacloudtest.Fault{Route: routeClose, Status: 429, RetryAfter: "1", Times: 1}, "a.csv", csvOf(1, 8), 429, nil},
			{"connection reset mid-upload starts over in a new job", datacloudtest.Fault{Route: routeUpload, Reset: true, ResetAfterBytes: 40, Times: 1}, "a.csv", csvOf(1, 8), 0,
				func(t *testing.T, w *world, object string) {
					states := map[string]int{}
					for _, j := range jobsOf(w.DC, object) {
						states[j.State]++
					}
					if states[datacloudtest.StateAborted] != 1 || states[datacloudtest.StateJobComplete] != 1 || len(jobsOf(w.DC, object)) != 2 {
						t.Errorf("job states %v, want the job with the unknown upload aborted and one new completed job", states)
					}
				}},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				w := newWorld(t, be, datacloudtest.Options{})
				w.seedToken(time.Hour)
				ing := w.start("s3ingest", fnOptions{})
				object := "Fault" + string(rune('A'+i))
				o := w.put("ingest/"+source+"/"+object+"/"+tc.file, tc.data, "")
				if err := w.DC.InjectFault(tc.fault); err != nil {
					t.Fatal(err)
				}
				mustSucceed(t, ing.invoke(w.s3Event(o)))
				w.wantOutcome(t, o.Key, "ingested", 8)
				wantRecords(t, w.DC, object, 8)
				if tc.status != 0 && statusCount(w.DC, tc.status, "/api/v1/ingest/") == 0 {
					t.Errorf("the emulator never answered %d: the fault did not apply", tc.status)
				}
				noOpenJobs(t, w.DC)
				if tc.check != nil {
					tc.check(t, w, object)
				}
			})
		}

		t.Run("throttled after every retry fails the file", func(t *testing.T) {
			w := newWorld(t, be, datacloudtest.Options{})
			w.seedToken(time.Hour)
			ing := w.start("s3ingest", fnOptions{})
			if err := w.DC.InjectFault(datacloudtest.Fault{Route: routeStream, Status: 429, RetryAfter: "1"}); err != nil {
				t.Fatal(err)
			}
			o := w.put("ingest/"+source+"/Throttled/a.jsonl", jsonlOf(1, 3), "")
			res := ing.invoke(w.s3Event(o))
			mustFail(t, res)
			tags := w.wantOutcome(t, o.Key, "failed", -1)
			if !strings.Contains(tags["datacloud-error"]+res.ErrorMessage, "429") {
				t.Errorf("error %q / tag %q does not name the 429", res.ErrorMessage, tags["datacloud-error"])
			}
			if n := statusCount(w.DC, 429, "/api/v1/ingest/"); n < 2 {
				t.Errorf("%d throttled requests, want retries", n)
			}
		})
	})
}

func TestIngestDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		w.seedToken(time.Hour)
		// A 6 s timeout: the pipeline stops its work well before (half the time at most), aborts
		// the job and records the outcome; the upload is held past the timeout.
		ing := w.start("s3ingest", fnOptions{Timeout: 6 * time.Second})
		if err := w.DC.InjectFault(datacloudtest.Fault{Route: routeUpload, Delay: 10 * time.Second, Times: 1}); err != nil {
			t.Fatal(err)
		}
		data := csvOf(1, 5)
		o := w.put("ingest/"+source+"/Slow/a.csv", data, "")
		res := ing.invoke(w.s3Event(o))
		mustFail(t, res)
		if res.FunctionError == lambdarun.ErrorTimeout {
			t.Fatalf("the function was killed at its timeout instead of stopping cleanly\n%s", res.Logs)
		}
		tags := w.wantOutcome(t, o.Key, "failed", -1)
		if !strings.Contains(tags["datacloud-error"], "deadline") {
			t.Errorf("datacloud-error %q does not say the deadline stopped it", tags["datacloud-error"])
		}
		jobs := jobsOf(w.DC, "Slow")
		if len(jobs) != 1 || jobs[0].State != datacloudtest.StateAborted {
			t.Errorf("jobs %+v, want the one job aborted", jobs)
		}
		body, etag := w.get(o.Key)
		if !bytes.Equal(body, data) || etag != o.ETag {
			t.Error("the landed file was modified")
		}
		wantRecords(t, w.DC, "Slow", 0)
	})
}
