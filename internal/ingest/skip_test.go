package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/s3object"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

func TestSharedJobUploadRejectedFailsOnlyThatFile(t *testing.T) {
	f := newFixture(t)
	a := f.put("ingest/crm/Contact/a.csv", []byte(csvHeader+csvRecords(1, 2)))
	b := f.put("ingest/crm/Contact/b.csv", []byte(csvHeader+csvRecords(3, 2)))
	c := f.put("ingest/crm/Contact/c.csv", []byte(csvHeader+csvRecords(5, 2)))
	f.fault(datacloudtest.Fault{Route: uploadRoute, Delay: time.Millisecond, Times: 1})
	f.fault(datacloudtest.Fault{Route: uploadRoute, Status: 400, Body: `{"error":"Bad Request","message":"invalid csv header"}`, Times: 1})
	_, err := f.invoke(s3Event(a, b, c))
	if err == nil || !strings.Contains(err.Error(), "1 of 3 objects failed") || !strings.Contains(err.Error(), "b.csv") {
		t.Fatalf("err = %v", err)
	}
	jobs := f.jobs()
	if len(jobs) != 1 || jobs[0].State != datacloudtest.StateJobComplete {
		t.Fatalf("jobs %+v", jobs)
	}
	f.assertTags(a, "ingested", "2")
	f.assertTags(c, "ingested", "2")
	if tg := f.assertTags(b, "failed", ""); !strings.Contains(tg[s3object.TagError], "invalid csv header") {
		t.Errorf("error tag %q", tg[s3object.TagError])
	}
	f.assertUnchanged(a, b, c)
}

func TestObjectReplacedSinceTheEventIsSkipped(t *testing.T) {
	f := newFixture(t)
	old := f.put("ingest/crm/Contact/a.csv", []byte(csvHeader+csvRecords(1, 2)))
	cur := f.put("ingest/crm/Contact/a.csv", []byte(csvHeader+csvRecords(1, 3)))
	res := f.in.Run(context.Background(), []ObjectRef{old.ref})
	if res[0].Status != StatusSkipped || !strings.Contains(res[0].Reason, "replaced or deleted") {
		t.Fatalf("result %+v", res[0])
	}
	if len(f.dc.Requests()) != 0 {
		t.Error("Data Cloud work for a replaced version")
	}
	if tg := f.tags(cur); len(tg) != 0 {
		t.Errorf("the newer version was tagged: %v", tg)
	}
	// The newer version's own event still ingests it.
	if res := f.in.Run(context.Background(), []ObjectRef{cur.ref}); res[0].Status != StatusIngested || res[0].Records != 3 {
		t.Fatalf("newer version: %+v", res[0])
	}
	f.assertUnchanged(cur)
}

func TestEventWithoutETagUsesTheCurrentVersion(t *testing.T) {
	f := newFixture(t)
	o := f.put("ingest/web/Event/a.jsonl", []byte(jsonRecord(1)))
	ref := o.ref
	ref.ETag = ""
	res := f.in.Run(context.Background(), []ObjectRef{ref})
	if res[0].Status != StatusIngested || res[0].Records != 1 {
		t.Fatalf("result %+v", res[0])
	}
	// The claim was taken on the real ETag: the event with it is a duplicate.
	if res := f.in.Run(context.Background(), []ObjectRef{o.ref}); res[0].Status != StatusSkipped {
		t.Fatalf("second run %+v", res[0])
	}
}

func TestObjectClaimedByAnotherInvocationIsSkipped(t *testing.T) {
	f := newFixture(t)
	o := f.put("ingest/web/Event/a.jsonl", []byte(jsonRecord(1)))
	claims := s3object.NewClaims(f.s3, "", nil)
	cl, skip, err := claims.Acquire(context.Background(), s3object.Object{Bucket: f.bucket, Key: o.ref.Key, ETag: o.ref.ETag}, "other-request", time.Minute)
	if err != nil || skip != nil {
		t.Fatal(skip, err)
	}
	out, err := f.invoke(s3Event(o))
	if err != nil || out != nil {
		t.Fatalf("%v %v", out, err)
	}
	if len(f.dc.Requests()) != 0 {
		t.Error("Data Cloud work while another invocation holds the claim")
	}
	if !strings.Contains(f.logs.String(), "claimed by another invocation (claim owner other-request") {
		t.Error("skip reason not logged")
	}
	if tg := f.tags(o); len(tg) != 0 {
		t.Errorf("tagged while another invocation owns it: %v", tg)
	}
	// Once the owner fails, the next delivery takes over.
	if err := cl.Fail(context.Background(), "boom"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.invoke(s3Event(o)); err != nil {
		t.Fatal(err)
	}
	f.assertTags(o, "ingested", "1")
	f.assertUnchanged(o)
}
