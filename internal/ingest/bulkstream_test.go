package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/s3object"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// streamConfig makes uploads of at most 400 bytes streamed in chunks of chunk bytes.
func streamConfig(chunk int) fixtureOpt {
	return withConfig(func(c *Config) { c.BulkPartBytes, c.ChunkBytes = 400, chunk })
}

// assertParts checks the uploads of a job: each at most limit bytes and starting with header,
// none much emptier than the limit allows but the last, and together exactly data.
func (f *fixture) assertParts(jobID, header, data string, limit, chunk int) {
	f.t.Helper()
	parts := f.dc.JobData(jobID)
	if len(parts) == 0 {
		f.t.Fatalf("job %s has no uploads", jobID)
	}
	var joined []byte
	for i, p := range parts {
		if len(p) > limit || !bytes.HasPrefix(p, []byte(header)) {
			f.t.Fatalf("upload %d: %d bytes (limit %d), starts %q", i, len(p), limit, p[:min(len(p), 20)])
		}
		if i < len(parts)-1 && len(p) <= limit-chunk {
			f.t.Errorf("upload %d holds %d bytes: a chunk of at most %d would have fitted", i, len(p), chunk)
		}
		joined = append(joined, p[len(header):]...)
	}
	if string(joined) != data {
		f.t.Fatalf("the uploads do not add up to the file's records:\n%q\nwant\n%q", joined, data)
	}
}

func TestCSVStreamedInChunks(t *testing.T) {
	const chunk = 100
	big := csvRecords(1, 40)
	deletes := strings.Repeat("id-0123456789\n", 60)
	tests := []struct {
		name, key      string
		body           []byte
		header, data   string
		records        string
		wantUploadsMin int
	}{
		{name: "a file larger than a part is streamed from its first byte", key: "ingest/crm/Contact/big.csv",
			body: []byte(csvHeader + big), header: csvHeader, data: big, records: "40", wantUploadsMin: 5},
		{name: "a gzip file found larger than a part after buffering one", key: "ingest/crm/Contact/big.csv.gz",
			body: gz(t, []byte(csvHeader+big)), header: csvHeader, data: big, records: "40", wantUploadsMin: 5},
		{name: "a file that fits in one part is sent whole", key: "ingest/crm/Contact/small.csv",
			body: []byte(csvHeader + csvRecords(1, 7)), header: csvHeader, data: csvRecords(1, 7), records: "7", wantUploadsMin: 1},
		{name: "a delete file has no header", key: "ingest/crm/Contact/delete/d.csv",
			body: []byte(deletes), data: deletes, records: "60", wantUploadsMin: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, streamConfig(chunk))
			o := f.put(tt.key, tt.body)
			if _, err := f.invoke(s3Event(o)); err != nil {
				t.Fatal(err)
			}
			jobs := f.jobs()
			if len(jobs) != 1 || jobs[0].State != datacloudtest.StateJobComplete {
				t.Fatalf("jobs %+v, want one complete", jobs)
			}
			if n := len(f.dc.JobData(jobs[0].ID)); n < tt.wantUploadsMin {
				t.Errorf("%d uploads, want at least %d", n, tt.wantUploadsMin)
			}
			f.assertParts(jobs[0].ID, tt.header, tt.data, 400, chunk)
			f.assertTags(o, "ingested", tt.records)
			f.assertUnchanged(o)
		})
	}
}

func TestCSVStreamedUploadSentAgainReadsItsPartAgain(t *testing.T) {
	f := newFixture(t, streamConfig(100))
	data := csvRecords(1, 40)
	o := f.put("ingest/crm/Contact/big.csv", []byte(csvHeader+data))
	// The first upload goes through; the second is refused unprocessed (503), then its new
	// attempt finds the token revoked (401): both are sent again, read anew from S3.
	f.fault(datacloudtest.Fault{Route: uploadRoute, Delay: time.Millisecond, Times: 1})
	f.fault(datacloudtest.Fault{Route: uploadRoute, Status: 503, Times: 1})
	f.fault(datacloudtest.Fault{Route: uploadRoute, RevokeToken: true, Times: 1})
	if _, err := f.invoke(s3Event(o)); err != nil {
		t.Fatal(err)
	}
	jobs := f.jobs()
	if len(jobs) != 1 || jobs[0].State != datacloudtest.StateJobComplete {
		t.Fatalf("jobs %+v, want one complete job", jobs)
	}
	f.assertParts(jobs[0].ID, csvHeader, data, 400, 100)
	f.assertTags(o, "ingested", "40")
	f.assertUnchanged(o)
}

// wholePartsError is where splitting data into parts of limit bytes fails, as the tags show it.
func wholePartsError(t *testing.T, data string, limit int) string {
	t.Helper()
	sp, err := datacloud.NewCSVSplitter(strings.NewReader(data), limit, datacloud.CheckFieldCounts())
	for err == nil {
		_, err = sp.Next()
	}
	var ce *datacloud.CSVError
	if !errors.As(err, &ce) {
		t.Fatalf("splitting the data: %v, want a CSV error", err)
	}
	return fmt.Sprintf("line %d column %d", ce.Line, ce.Column)
}

func TestCSVRecordLargerThanAChunk(t *testing.T) {
	long := "1,long," + strings.Repeat("x", 150) + "\n"
	small := long + csvRecords(2, 3)
	big := csvRecords(1, 4) + strings.Replace(long, "1,", "5,", 1) + csvRecords(6, 10)
	tests := []struct {
		name, data string
		status     string
		records    string
		errPart    string
	}{
		{name: "in a file of one part", data: small, status: "ingested", records: "4"},
		{name: "in a file of several parts", data: big, status: "ingested", records: "15"},
		{name: "bad input after it fails the file as whole parts would", data: big + "99,\"unterminated,x\n",
			status: "failed", errPart: wholePartsError(t, csvHeader+big+"99,\"unterminated,x\n", 400)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, streamConfig(64))
			o := f.put("ingest/crm/Contact/f.csv", []byte(csvHeader+tt.data))
			_, _ = f.invoke(s3Event(o))
			tg := f.assertTags(o, tt.status, tt.records)
			if !strings.Contains(tg[s3object.TagError], tt.errPart) {
				t.Errorf("error tag %q, want it to hold %q", tg[s3object.TagError], tt.errPart)
			}
			jobs := f.jobs()
			if len(jobs) == 0 && tt.status == "ingested" {
				t.Fatal("no job")
			}
			for i, j := range jobs {
				last := i == len(jobs)-1
				switch {
				case tt.status == "ingested" && last:
					if j.State != datacloudtest.StateJobComplete {
						t.Fatalf("last job %+v, want complete", j)
					}
					f.assertParts(j.ID, csvHeader, tt.data, 400, 400)
				case j.State != datacloudtest.StateAborted:
					t.Fatalf("job %d %+v, want aborted", i, j)
				}
			}
			f.assertUnchanged(o)
		})
	}
}
