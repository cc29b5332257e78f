package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// claimMarker is the part of a claim marker (internal/s3object) this test reads and ages.
type claimMarker map[string]any

// marker returns the only claim marker in the bucket, its key and its state.
func (w *world) marker(t *testing.T) (string, claimMarker) {
	t.Helper()
	keys := w.keys(".datacloud-claims/")
	if len(keys) != 1 {
		t.Fatalf("claim markers %v, want exactly one", keys)
	}
	body, _ := w.get(keys[0])
	var m claimMarker
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("claim marker %s: %v", keys[0], err)
	}
	return keys[0], m
}

// TestDuplicateAfterCrash: an invocation killed in the middle of a bulk upload leaves its
// claim in progress. Until the claim expires a redelivery does no Data Cloud work; once it
// has expired (the test ages the marker rather than waiting the minutes its TTL lasts) the
// redelivery takes the claim over and ingests the object: Data Cloud applies each record once.
func TestDuplicateAfterCrash(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		w.seedToken(time.Hour)
		crashing := w.start("s3ingest", fnOptions{})
		data := csvOf(1, 12)
		o := w.put("ingest/"+source+"/Crash/a.csv", data, "")
		// Hold the upload so the invocation is mid-ingest when it is killed.
		if err := w.DC.InjectFault(datacloudtest.Fault{Route: routeUpload, Delay: 20 * time.Second, Times: 1}); err != nil {
			t.Fatal(err)
		}
		done := make(chan lambdarun.Result, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
			defer cancel()
			res, err := crashing.rt.Invoke(ctx, []byte(w.s3Event(o)))
			if err != nil {
				transcript.record("crashed invoke error", []byte(err.Error()))
			}
			transcript.record("crashed invoke answer", res.Payload)
			done <- res
		}()
		waitFor(t, 30*time.Second, "the crashing invocation to create its job", func() bool { return len(jobsOf(w.DC, "Crash")) == 1 })
		time.Sleep(500 * time.Millisecond) // the upload is now held by the emulator
		pid, err := crashing.rt.BootstrapPID()
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case res := <-done:
			if res.FunctionError == "" {
				t.Fatalf("the killed invocation succeeded: %s", res.Payload)
			}
		case <-time.After(invokeTimeout):
			t.Fatal("the killed invocation did not end")
		}
		_ = crashing.rt.Close()

		key, m := w.marker(t)
		if m["state"] != "in-progress" {
			t.Fatalf("claim marker after the crash: %v, want in-progress", m)
		}
		if tags := w.tags(o.Key); tags["datacloud-status"] != "" {
			t.Errorf("a crashed attempt recorded an outcome: %v", tags)
		}

		retry := w.start("s3ingest", fnOptions{})
		before := len(w.DC.Requests())
		res := retry.invoke(w.s3Event(o))
		mustSucceed(t, res)
		if !strings.Contains(res.Logs, "claimed by another invocation") || len(w.DC.Requests()) != before {
			t.Errorf("a redelivery while the claim holds did Data Cloud work or did not say why it skipped:\n%s", res.Logs)
		}

		// The claim expires.
		m["expires_at"] = time.Now().UTC().Add(-time.Second).Format(time.RFC3339Nano)
		aged, _ := json.Marshal(m)
		if _, err := be.S3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(w.Bucket), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
		if _, err := be.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(w.Bucket), Key: aws.String(key), Body: bytes.NewReader(aged),
			ContentLength: aws.Int64(int64(len(aged))), ContentType: aws.String("application/json")}); err != nil {
			t.Fatal(err)
		}
		mustSucceed(t, retry.invoke(w.s3Event(o)))
		w.wantOutcome(t, o.Key, "ingested", 12)
		wantRecords(t, w.DC, "Crash", 12)
		if ids := recordIDs(w.DC, "Crash"); len(ids) != 12 || ids[0] != "c1" {
			t.Errorf("records %v, want c1..c12 once", ids)
		}
		if _, m := w.marker(t); m["state"] != "done" {
			t.Errorf("claim marker after the retry: %v, want done", m)
		}
		jobs := jobsOf(w.DC, "Crash")
		if len(jobs) != 2 || jobs[1].State != datacloudtest.StateJobComplete {
			t.Errorf("jobs %+v, want the crashed attempt's job and one completed job", jobs)
		}
		// The crashed attempt's job was never closed, so none of its data was applied; no
		// process is left to abort it (Data Cloud's own cleanup of open jobs applies).
		if jobs[0].State != datacloudtest.StateOpen {
			t.Errorf("crashed job state %s, want Open (never closed)", jobs[0].State)
		}
		// A further delivery of the same version does nothing.
		before = len(w.DC.Requests())
		mustSucceed(t, retry.invoke(w.s3Event(o)))
		if len(w.DC.Requests()) != before {
			t.Error("a delivery after the successful retry made Data Cloud requests")
		}
		body, etag := w.get(o.Key)
		if !bytes.Equal(body, data) || etag != o.ETag {
			t.Error("the landed file was modified")
		}
	})
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
	}
}
