package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// partBytes is the bulk part size the bulk tests run with, small to force splits.
const partBytes = 300

// trickyCSV has n records whose quoted fields hold commas, quotes and newlines.
func trickyCSV(n int) []byte {
	var b strings.Builder
	b.WriteString("id,note,score\n")
	for i := range n {
		fmt.Fprintf(&b, "t%d,\"line one of %d, with a comma\nline two with \"\"quotes\"\"\",%d\n", i, i, i)
	}
	return []byte(b.String())
}

// parseCSV parses CSV data, failing the test on error.
func parseCSV(t *testing.T, data []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v", err)
	}
	return recs
}

// jobsOf returns the emulator's jobs for an object.
func jobsOf(dc *datacloudtest.Server, object string) []datacloudtest.Job {
	var out []datacloudtest.Job
	for _, j := range dc.Jobs() {
		if j.Object == object {
			out = append(out, j)
		}
	}
	return out
}

// noOpenJobs fails when any job is left Open or UploadComplete-but-not-processed.
func noOpenJobs(t *testing.T, dc *datacloudtest.Server) {
	t.Helper()
	for _, j := range dc.Jobs() {
		if j.State == datacloudtest.StateOpen {
			t.Errorf("job %s (%s) left Open", j.ID, j.Object)
		}
	}
}

func TestIngestBulk(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		w.seedToken(time.Hour)
		ing := w.start("s3ingest", fnOptions{Env: []string{fmt.Sprintf("INGEST_BULK_PART_BYTES=%d", partBytes)}})

		t.Run("large CSV splits between records with the header on each part", func(t *testing.T) {
			data := trickyCSV(40)
			o := w.put("ingest/"+source+"/Split/big.csv", data, "")
			mustSucceed(t, ing.invoke(w.s3Event(o)))
			tags := w.wantOutcome(t, o.Key, "ingested", 40)
			jobs := jobsOf(w.DC, "Split")
			if len(jobs) != 1 || tags["datacloud-job"] != jobs[0].ID || jobs[0].State != datacloudtest.StateJobComplete {
				t.Fatalf("jobs %+v, tag %q: want one completed job named in the tag", jobs, tags["datacloud-job"])
			}
			parts := w.DC.JobData(jobs[0].ID)
			if len(parts) < 5 {
				t.Errorf("%d uploads of a %d-byte file with %d-byte parts, want several", len(parts), len(data), partBytes)
			}
			want := parseCSV(t, data)
			var got [][]string
			for i, p := range parts {
				if len(p) > partBytes {
					t.Errorf("upload %d is %d bytes, over INGEST_BULK_PART_BYTES=%d", i, len(p), partBytes)
				}
				recs := parseCSV(t, p)
				if !slices.Equal(recs[0], want[0]) {
					t.Errorf("upload %d starts with %q, want the header", i, recs[0])
				}
				got = append(got, recs[1:]...)
			}
			if !slices.EqualFunc(got, want[1:], slices.Equal) {
				t.Errorf("records across uploads differ from the file's (%d vs %d)", len(got), len(want)-1)
			}
			rec := w.DC.Records(source, "Split")
			if len(rec) != 40 || !strings.Contains(fmt.Sprint(rec[3]["note"]), "\n") {
				t.Errorf("Data Cloud holds %d records (note %q), want 40 with multi-line notes", len(rec), rec[3]["note"])
			}
		})

		t.Run("files of one object share a job; a bad file does not fail the others", func(t *testing.T) {
			a := w.put("ingest/"+source+"/Shared/a.csv", csvOf(1, 10), "")
			bad := w.put("ingest/"+source+"/Shared/bad.csv", []byte("id,name,score\nBADROW1,fine,1\nBADROW2,\"unterminated,2\n"), "")
			b := w.put("ingest/"+source+"/Shared/b.csv.gz", gz(t, csvOf(11, 10)), "")
			utf := w.put("ingest/"+source+"/Shared/latin1.csv", []byte("id,name,score\nBADUTF,M\xfcller,3\n"), "")
			c := w.put("ingest/"+source+"/Shared/c.csv", csvOf(21, 10), "")
			res := ing.invoke(w.s3Event(a, bad, b, utf, c))
			mustFail(t, res) // direct event: the bad files fail the invocation
			ta := w.wantOutcome(t, a.Key, "ingested", 10)
			tb := w.wantOutcome(t, b.Key, "ingested", 10)
			tc := w.wantOutcome(t, c.Key, "ingested", 10)
			w.wantOutcome(t, bad.Key, "failed", -1)
			w.wantOutcome(t, utf.Key, "failed", -1)
			if ta["datacloud-job"] != tb["datacloud-job"] || tb["datacloud-job"] != tc["datacloud-job"] {
				t.Errorf("jobs %q %q %q, want one shared job", ta["datacloud-job"], tb["datacloud-job"], tc["datacloud-job"])
			}
			wantRecords(t, w.DC, "Shared", 30)
			for _, j := range jobsOf(w.DC, "Shared") {
				if j.State == datacloudtest.StateJobComplete {
					for _, p := range w.DC.JobData(j.ID) {
						if bytes.Contains(p, []byte("BADROW")) || bytes.Contains(p, []byte("BADUTF")) {
							t.Errorf("bytes of a bad file went into completed job %s", j.ID)
						}
					}
				}
			}
			noOpenJobs(t, w.DC)
		})

		t.Run("more than 100 uploads roll over into new jobs; job ids in the tag end with +N", func(t *testing.T) {
			// About 14 records per 300-byte part: over 600 parts, so 7 jobs, whose ids
			// (36 characters each) do not all fit in a 256-character tag value.
			data := csvOf(0, 8600)
			o := w.put("ingest/"+source+"/Roll/big.csv", data, "")
			mustSucceed(t, ing.invoke(w.s3Event(o)))
			tags := w.wantOutcome(t, o.Key, "ingested", 8600)
			jobs := jobsOf(w.DC, "Roll")
			if len(jobs) < 7 {
				t.Fatalf("%d jobs, want at least 7 (100 uploads each)", len(jobs))
			}
			for _, j := range jobs {
				if j.Uploads > 100 || j.State != datacloudtest.StateJobComplete {
					t.Errorf("job %s: %d uploads, state %s; want at most 100 and complete", j.ID, j.Uploads, j.State)
				}
			}
			tag := tags["datacloud-job"]
			fields := strings.Fields(tag)
			listed := fields[:len(fields)-1]
			if len(tag) > 256 || fields[len(fields)-1] != fmt.Sprintf("+%d", len(jobs)-len(listed)) {
				t.Errorf("datacloud-job %q (%d chars), want the ids that fit then +%d", tag, len(tag), len(jobs)-len(listed))
			}
			for i, id := range listed {
				if id != jobs[i].ID {
					t.Errorf("tag id %d = %s, want %s", i, id, jobs[i].ID)
				}
			}
			wantRecords(t, w.DC, "Roll", 8600)
		})

		t.Run("header-only CSV does no Data Cloud work", func(t *testing.T) {
			n := len(w.DC.Requests())
			o := w.put("ingest/"+source+"/HeaderOnly/h.csv", []byte("id,name,score\n"), "")
			mustSucceed(t, ing.invoke(w.s3Event(o)))
			w.wantOutcome(t, o.Key, "ingested", 0)
			if len(w.DC.Requests()) != n {
				t.Error("a header-only CSV caused Data Cloud requests")
			}
		})

		t.Run("bad input fails before any job", func(t *testing.T) {
			cases := map[string][]byte{
				"empty.csv":        nil,
				"empty-gz.csv.gz":  gz(t, nil),
				"corrupt.csv.gz":   append(gz(t, csvOf(1, 50))[:40], []byte("garbage")...),
				"notgz.csv.gz":     []byte("id,name\n1,x\n"),
				"unterminated.csv": []byte("id,name\n1,\"open\n"),
			}
			for name, data := range cases {
				o := w.put("ingest/"+source+"/BadIn/"+name, data, "")
				mustFail(t, ing.invoke(w.s3Event(o)))
				tags := w.wantOutcome(t, o.Key, "failed", -1)
				if !validTagValue(tags["datacloud-error"]) {
					t.Errorf("%s: datacloud-error %q breaks the contract's character set", name, tags["datacloud-error"])
				}
			}
			if jobs := jobsOf(w.DC, "BadIn"); len(jobs) != 0 {
				t.Errorf("bad input created jobs %+v", jobs)
			}
			wantRecords(t, w.DC, "BadIn", 0)
		})
	})
}
