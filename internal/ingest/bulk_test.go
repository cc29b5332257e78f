package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dcbridge/datacloud-lambda/internal/s3object"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

const csvHeader = "id,name,note\n"

// csvRecords makes n records whose quoted notes hold commas, quotes and newlines.
func csvRecords(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "%d,name %d,\"line one, with comma\nline \"\"two\"\" %d\"\n", i, i, i)
	}
	return b.String()
}

func (f *fixture) jobsOf(object string) []datacloudtest.Job {
	var out []datacloudtest.Job
	for _, j := range f.jobs() {
		if j.Object == object {
			out = append(out, j)
		}
	}
	return out
}

func TestCSVMultiPartSplitsWithHeaderOnEachPart(t *testing.T) {
	f := newFixture(t, withConfig(func(c *Config) { c.BulkPartBytes = 400 }))
	body := []byte(csvHeader + csvRecords(1, 40))
	o := f.put("ingest/crm/Contact/2026/01/big file.csv", body)

	if _, err := f.invoke(s3Event(o)); err != nil {
		t.Fatal(err)
	}
	jobs := f.jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d jobs, want 1", len(jobs))
	}
	j := jobs[0]
	if j.SourceName != "crm" || j.Object != "Contact" || j.Operation != "upsert" || j.State != datacloudtest.StateJobComplete {
		t.Fatalf("job %+v", j)
	}
	parts := f.dc.JobData(j.ID)
	if len(parts) < 5 {
		t.Fatalf("%d uploads, want a split into many", len(parts))
	}
	var joined []byte
	for i, p := range parts {
		if len(p) > 400 || !bytes.HasPrefix(p, []byte(csvHeader)) {
			t.Fatalf("part %d: %d bytes, starts %q", i, len(p), p[:min(len(p), 20)])
		}
		joined = append(joined, p[len(csvHeader):]...)
	}
	if string(joined) != csvRecords(1, 40) {
		t.Fatal("parts do not add up to the file's records")
	}
	if n := len(f.dc.Records("crm", "Contact")); n != 40 {
		t.Fatalf("%d records in Data Cloud, want 40", n)
	}
	tg := f.assertTags(o, "ingested", "40")
	if tg[s3object.TagJob] != j.ID {
		t.Errorf("job tag %q, want %q", tg[s3object.TagJob], j.ID)
	}
	f.assertUnchanged(o)
}

func TestCSVFilesShareOneJobAndABadFileFailsAlone(t *testing.T) {
	f := newFixture(t, withConfig(func(c *Config) { c.BulkPartBytes = 300 }))
	a := f.put("ingest/crm/Contact/a.csv", []byte(csvHeader+csvRecords(1, 3)))
	bad := f.put("ingest/crm/Contact/bad.csv", []byte(csvHeader+csvRecords(4, 2)+"6,\"unterminated,x\n"))
	b := f.put("ingest/crm/Contact/b.csv", []byte(csvHeader+csvRecords(7, 2)))
	other := f.put("ingest/crm/Lead/l.csv", []byte("lid,x\n1,y\n"))
	// A file of several parts gets a job of its own; one with a bad record in its last part fails alone.
	big := f.put("ingest/crm/Contact/big.csv", []byte(csvHeader+csvRecords(100, 12)))
	bigBad := f.put("ingest/crm/Contact/bigbad.csv", []byte(csvHeader+csvRecords(200, 12)+"x,\"y\"z,1\n"))
	c := f.put("ingest/crm/Contact/c.csv", []byte(csvHeader+csvRecords(9, 1)))

	_, err := f.invoke(s3Event(a, bad, b, other, big, bigBad, c))
	var ie *IngestError
	if !errors.As(err, &ie) || len(ie.Failed) != 2 || ie.Total != 7 {
		t.Fatalf("err = %v, want an IngestError for bad.csv and bigbad.csv", err)
	}
	if !strings.Contains(err.Error(), "bad.csv") || !strings.Contains(err.Error(), "bigbad.csv") {
		t.Errorf("error does not name the files: %v", err)
	}

	contact := f.jobsOf("Contact")
	if len(contact) != 3 {
		t.Fatalf("%d Contact jobs, want shared + big + bigbad: %+v", len(contact), contact)
	}
	states := map[string]int{}
	for _, j := range contact {
		states[j.State]++
	}
	if states[datacloudtest.StateJobComplete] != 2 || states[datacloudtest.StateAborted] != 1 {
		t.Errorf("job states %v", states)
	}
	shared := contact[0]
	if shared.Uploads != 3 {
		t.Errorf("shared job has %d uploads, want a, b and c", shared.Uploads)
	}
	if len(f.jobsOf("Lead")) != 1 {
		t.Errorf("Lead jobs: %+v", f.jobsOf("Lead"))
	}
	if n := len(f.dc.Records("crm", "Contact")); n != 3+2+1+12 {
		t.Errorf("%d Contact records, want 18", n)
	}
	for _, o := range []landed{a, b, c} {
		if tg := f.assertTags(o, "ingested", ""); tg[s3object.TagJob] != shared.ID {
			t.Errorf("%s job tag %q, want the shared job %s", o.ref.Key, tg[s3object.TagJob], shared.ID)
		}
	}
	f.assertTags(big, "ingested", "12")
	if tg := f.assertTags(bad, "failed", "0"); !strings.Contains(tg[s3object.TagError], "csv: line") {
		t.Errorf("bad.csv error tag %q", tg[s3object.TagError])
	}
	f.assertTags(bigBad, "failed", "")
	f.assertUnchanged(a, bad, b, other, big, bigBad, c)
}

func TestCSVSharedJobRollsOverAtUploadLimit(t *testing.T) {
	f := newFixture(t, withConfig(func(c *Config) { c.MaxUploadsPerJob = 2 }))
	var objs []landed
	for i := range 5 {
		objs = append(objs, f.put(fmt.Sprintf("ingest/crm/Contact/%d.csv", i), []byte(csvHeader+csvRecords(i*10, 2))))
	}
	if _, err := f.invoke(s3Event(objs...)); err != nil {
		t.Fatal(err)
	}
	jobs := f.jobs()
	if len(jobs) != 3 || jobs[0].Uploads != 2 || jobs[1].Uploads != 2 || jobs[2].Uploads != 1 {
		t.Fatalf("jobs %+v, want 2+2+1 uploads", jobs)
	}
	for _, o := range objs {
		f.assertTags(o, "ingested", "2")
	}
}

func TestCSVDeleteGoesUnchangedAsBulkDelete(t *testing.T) {
	f := newFixture(t, withConfig(func(c *Config) { c.BulkPartBytes = 6 }))
	up := f.put("ingest/crm/Contact/up.jsonl", []byte(`{"id":"1"}`+"\n"+`{"id":"2"}`+"\n"+`{"id":"3"}`+"\n"+`{"id":"4"}`+"\n"+`{"id":"5"}`+"\n"+`{"id":"6"}`+"\n"))
	if _, err := f.invoke(s3Event(up)); err != nil {
		t.Fatal(err)
	}
	delBody := []byte("1\n2\n3\n4\n5\n")
	del := f.put("ingest/crm/Contact/delete/2026/old.csv", delBody)
	if _, err := f.invoke(s3Event(del)); err != nil {
		t.Fatal(err)
	}
	jobs := f.jobs()
	if len(jobs) != 1 || jobs[0].Operation != "delete" || jobs[0].State != datacloudtest.StateJobComplete || jobs[0].Uploads != 2 {
		t.Fatalf("jobs %+v, want one delete job of two uploads", jobs)
	}
	if got := bytes.Join(f.dc.JobData(jobs[0].ID), nil); !bytes.Equal(got, delBody) {
		t.Errorf("delete uploads %q, want the file unchanged", got)
	}
	if recs := f.dc.Records("crm", "Contact"); len(recs) != 1 {
		t.Errorf("%d records left, want 1", len(recs))
	}
	f.assertTags(del, "ingested", "5")
	f.assertUnchanged(up, del)
}
