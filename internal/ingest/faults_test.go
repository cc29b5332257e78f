package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbridge/datacloud-lambda/internal/s3object"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

func (f *fixture) fault(fl datacloudtest.Fault) {
	f.t.Helper()
	if err := f.dc.InjectFault(fl); err != nil {
		f.t.Fatal(err)
	}
}

const uploadRoute = "PUT /api/v1/ingest/jobs/{id}/batches"

func TestDuplicateEventDoesNoSecondDataCloudWork(t *testing.T) {
	f := newFixture(t)
	a := f.put("ingest/crm/Contact/a.csv", []byte(csvHeader+csvRecords(1, 3)))
	j := f.put("ingest/web/Event/j.jsonl", []byte(jsonRecord(1)))
	if _, err := f.invoke(s3Event(a, j)); err != nil {
		t.Fatal(err)
	}
	before := len(f.dc.Requests())
	if _, err := f.invoke(s3Event(a, j)); err != nil {
		t.Fatal(err)
	}
	if after := len(f.dc.Requests()); after != before {
		t.Fatalf("a duplicate event made %d Data Cloud requests", after-before)
	}
	if !strings.Contains(f.logs.String(), `"reason":"already ingested`) {
		t.Error("the skip is not logged with its reason")
	}
	if len(f.jobs()) != 1 {
		t.Errorf("%d jobs", len(f.jobs()))
	}
	f.assertTags(a, "ingested", "3")
	f.assertUnchanged(a, j)
}

func TestUploadOutcomeUnknownAbortsAndStartsOverInANewJob(t *testing.T) {
	f := newFixture(t)
	a := f.put("ingest/crm/Contact/a.csv", []byte(csvHeader+csvRecords(1, 3)))
	b := f.put("ingest/crm/Contact/b.csv", []byte(csvHeader+csvRecords(4, 2)))
	// a's upload goes through (a harmless 1ms delay uses up the first match); b's upload is
	// read whole, then the connection drops: Data Cloud may or may not have taken it.
	f.fault(datacloudtest.Fault{Route: uploadRoute, Delay: time.Millisecond, Times: 1})
	f.fault(datacloudtest.Fault{Route: uploadRoute, Reset: true, ResetAfterBytes: 1 << 20, Times: 1})

	if _, err := f.invoke(s3Event(a, b)); err != nil {
		t.Fatal(err)
	}
	jobs := f.jobs()
	if len(jobs) != 2 || jobs[0].State != datacloudtest.StateAborted || jobs[1].State != datacloudtest.StateJobComplete || jobs[1].Uploads != 2 {
		t.Fatalf("jobs %+v, want the first aborted and both files in the second", jobs)
	}
	if n := len(f.dc.Records("crm", "Contact")); n != 5 {
		t.Errorf("%d records, want 5", n)
	}
	for _, o := range []landed{a, b} {
		if tg := f.assertTags(o, "ingested", ""); tg[s3object.TagJob] != jobs[1].ID {
			t.Errorf("%s job tag %q", o.ref.Key, tg[s3object.TagJob])
		}
	}
	if !strings.Contains(f.metrics.String(), `"Retries":1`) {
		t.Errorf("metrics %s, want Retries 1", f.metrics.String())
	}
	f.assertUnchanged(a, b)
}

func TestUploadOutcomeUnknownMidFileStartsTheFileOver(t *testing.T) {
	f := newFixture(t, withConfig(func(c *Config) { c.BulkPartBytes = 200 }))
	big := f.put("ingest/crm/Contact/big.csv.gz", gz(t, []byte(csvHeader+csvRecords(1, 10))))
	f.fault(datacloudtest.Fault{Route: uploadRoute, Delay: time.Millisecond, Times: 2})
	f.fault(datacloudtest.Fault{Route: uploadRoute, Reset: true, ResetAfterBytes: 1 << 20, Times: 1})
	if _, err := f.invoke(s3Event(big)); err != nil {
		t.Fatal(err)
	}
	jobs := f.jobs()
	if len(jobs) != 2 || jobs[0].State != datacloudtest.StateAborted || jobs[0].Uploads != 2 || jobs[1].State != datacloudtest.StateJobComplete {
		t.Fatalf("jobs %+v", jobs)
	}
	var joined []byte
	for _, p := range f.dc.JobData(jobs[1].ID) {
		joined = append(joined, p[len(csvHeader):]...)
	}
	if string(joined) != csvRecords(1, 10) {
		t.Error("the new job does not hold the whole file once")
	}
	if tg := f.assertTags(big, "ingested", "10"); tg[s3object.TagJob] != jobs[1].ID {
		t.Errorf("job tag %q", tg[s3object.TagJob])
	}
	f.assertUnchanged(big)
}

func TestUploadOutcomeUnknownGivesUpAfterRestarts(t *testing.T) {
	f := newFixture(t, withConfig(func(c *Config) { c.MaxRestarts = 2; c.BulkPartBytes = 200 }))
	big := f.put("ingest/crm/Contact/big.csv", []byte(csvHeader+csvRecords(1, 10)))
	f.fault(datacloudtest.Fault{Route: uploadRoute, Reset: true, ResetAfterBytes: 1 << 20})
	_, err := f.invoke(s3Event(big))
	if err == nil || !strings.Contains(err.Error(), "gave up after 2 new jobs") {
		t.Fatalf("err = %v", err)
	}
	jobs := f.jobs()
	if len(jobs) != 3 {
		t.Fatalf("%d jobs, want 3", len(jobs))
	}
	for _, j := range jobs {
		if j.State != datacloudtest.StateAborted {
			t.Errorf("job %s left %s", j.ID, j.State)
		}
	}
	f.assertTags(big, "failed", "")
	f.assertUnchanged(big)
}

func TestThrottlingAndServerErrorsAreRetried(t *testing.T) {
	f := newFixture(t)
	a := f.put("ingest/crm/Contact/a.csv", []byte(csvHeader+csvRecords(1, 3)))
	j := f.put("ingest/web/Event/j.jsonl", []byte(jsonRecord(1)+"\n"+jsonRecord(2)))
	f.fault(datacloudtest.Fault{Route: "POST /api/v1/ingest/jobs", Status: 429, Times: 2})
	f.fault(datacloudtest.Fault{Route: uploadRoute, Status: 503, Times: 1})
	f.fault(datacloudtest.Fault{Route: "PATCH /api/v1/ingest/jobs/{id}", Status: 500, Times: 1})
	f.fault(datacloudtest.Fault{Route: "POST /api/v1/ingest/sources/{source}/{object}", Status: 502, Body: "<html>bad gateway</html>", Times: 1})
	f.fault(datacloudtest.Fault{Route: "POST /api/v1/ingest/sources/{source}/{object}", Status: 429, RetryAfter: "0", Times: 1})
	if _, err := f.invoke(s3Event(a, j)); err != nil {
		t.Fatal(err)
	}
	if jobs := f.jobs(); len(jobs) != 1 || jobs[0].State != datacloudtest.StateJobComplete {
		t.Fatalf("jobs %+v", jobs)
	}
	if len(f.dc.Records("crm", "Contact")) != 3 || len(f.dc.Records("web", "Event")) != 2 {
		t.Error("records missing")
	}
	if !strings.Contains(f.metrics.String(), `"Retries":6`) {
		t.Errorf("metrics %s, want Retries 6", f.metrics.String())
	}
	f.assertTags(a, "ingested", "3")
	f.assertTags(j, "ingested", "2")
	f.assertUnchanged(a, j)
}

func TestTokenRevokedMidJobRefreshesOnce(t *testing.T) {
	f := newFixture(t, withConfig(func(c *Config) { c.BulkPartBytes = 200 }))
	big := f.put("ingest/crm/Contact/big.csv", []byte(csvHeader+csvRecords(1, 10)))
	// The second upload finds its token revoked: 401, then the token store logs in anew.
	f.fault(datacloudtest.Fault{Route: uploadRoute, Delay: time.Millisecond, Times: 1})
	f.fault(datacloudtest.Fault{Route: uploadRoute, RevokeToken: true, Times: 1})
	if _, err := f.invoke(s3Event(big)); err != nil {
		t.Fatal(err)
	}
	var unauthorized, logins int
	for _, r := range f.dc.Requests() {
		if r.Status == 401 {
			unauthorized++
		}
		if r.Path == "/services/oauth2/token" && r.Status == 200 {
			logins++
		}
	}
	if unauthorized != 1 || logins != 1 {
		t.Errorf("%d 401s and %d logins, want one each", unauthorized, logins)
	}
	jobs := f.jobs()
	if len(jobs) != 1 || jobs[0].State != datacloudtest.StateJobComplete || jobs[0].Uploads < 3 {
		t.Fatalf("jobs %+v", jobs)
	}
	f.assertTags(big, "ingested", "10")
	for _, sec := range f.dc.IssuedSecrets() {
		if strings.Contains(f.logs.String(), sec) {
			t.Fatal("a token appears in the logs")
		}
	}
	f.assertUnchanged(big)
}

func TestDeadlineAbortsJobAndNextDeliverySucceeds(t *testing.T) {
	f := newFixture(t, withConfig(func(c *Config) { c.MinMargin = time.Second; c.BulkPartBytes = 200 }))
	big := f.put("ingest/crm/Contact/big.csv", []byte(csvHeader+csvRecords(1, 10)))
	f.fault(datacloudtest.Fault{Route: uploadRoute, Delay: time.Millisecond, Times: 1})
	f.fault(datacloudtest.Fault{Route: uploadRoute, Delay: 20 * time.Second, Times: 1})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := f.h.Handle(ctx, s3Event(big))
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("the invocation did not stop before its deadline")
	}
	jobs := f.jobs()
	if len(jobs) != 1 || jobs[0].State != datacloudtest.StateAborted {
		t.Fatalf("jobs %+v, want the job aborted", jobs)
	}
	if tg := f.assertTags(big, "failed", ""); tg[s3object.TagError] != "deadline" {
		t.Errorf("error tag %q", tg[s3object.TagError])
	}

	f.dc.ClearFaults()
	if _, err := f.invoke(s3Event(big)); err != nil {
		t.Fatalf("next delivery: %v", err)
	}
	jobs = f.jobs()
	if len(jobs) != 2 || jobs[1].State != datacloudtest.StateJobComplete {
		t.Fatalf("jobs %+v", jobs)
	}
	f.assertTags(big, "ingested", "10")
	f.assertUnchanged(big)
}

func TestSQSBatchReportsExactlyTheFailedMessages(t *testing.T) {
	f := newFixture(t)
	good := f.put("ingest/crm/Contact/good.csv", []byte(csvHeader+csvRecords(1, 2)))
	bad := f.put("ingest/crm/Contact/bad.csv", []byte("id,x\n1,\"open\n"))
	outside := f.put("elsewhere/x.csv", []byte("a\n1\n"))
	ev := s3Notification(
		sqsRec("m-good", string(s3Event(good))),
		sqsRec("m-bad", string(s3Event(bad, outside))),
		sqsRec("m-test", testEventBody),
		sqsRec("m-garbage", `{"hello":1}`),
		sqsRec("m-outside", string(s3Event(outside))),
	)
	out, err := f.invoke(json.RawMessage(ev))
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := out.(events.SQSEventResponse)
	if !ok {
		t.Fatalf("answer %T", out)
	}
	var ids []string
	for _, it := range resp.BatchItemFailures {
		ids = append(ids, it.ItemIdentifier)
	}
	if strings.Join(ids, ",") != "m-bad,m-garbage" {
		t.Errorf("batchItemFailures %v", ids)
	}
	f.assertTags(good, "ingested", "2")
	f.assertTags(bad, "failed", "0")
	if tg := f.tags(outside); len(tg) != 0 {
		t.Errorf("an object outside the prefix was tagged: %v", tg)
	}
	b, _ := json.Marshal(resp)
	if string(b) == "" || !strings.Contains(string(b), `"batchItemFailures"`) {
		t.Errorf("answer %s", b)
	}
	f.assertUnchanged(good, bad, outside)
}

func TestTestEventAndUnknownEvents(t *testing.T) {
	f := newFixture(t)
	if out, err := f.invoke(json.RawMessage(testEventBody)); err != nil || out != nil {
		t.Fatalf("test event: %v %v", out, err)
	}
	_, err := f.invoke(json.RawMessage(`{"foo":"bar"}`))
	var ee *EventError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v", err)
	}
}

// cuttingS3 passes GetObject to moto_server and cuts the body of the landed files after a
// few bytes the first `cuts` times, the way a reset connection does.
type cuttingS3 struct {
	s3object.GetObjectAPI
	mu   sync.Mutex
	cuts int
}

func (c *cuttingS3) GetObject(ctx context.Context, in *s3.GetObjectInput, opt ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := c.GetObjectAPI.GetObject(ctx, in, opt...)
	if err != nil || !strings.HasPrefix(aws.ToString(in.Key), "ingest/") {
		return out, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cuts > 0 {
		c.cuts--
		out.Body = &cutAfter{rc: out.Body, left: 100}
	}
	return out, nil
}

type cutAfter struct {
	rc   io.ReadCloser
	left int
}

func (c *cutAfter) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("read: connection reset by peer")
	}
	p = p[:min(len(p), c.left)]
	n, err := c.rc.Read(p)
	c.left -= n
	return n, err
}

func (c *cutAfter) Close() error { return c.rc.Close() }

func TestBrokenS3BodyResumesWithoutStartingOver(t *testing.T) {
	f := newFixture(t, withConfig(func(c *Config) { c.BulkPartBytes = 300 }))
	cut := &cuttingS3{GetObjectAPI: f.s3, cuts: 3}
	f.in.reader = s3object.NewReader(cut, s3object.WithResumes(5, time.Millisecond, 2*time.Millisecond))
	big := f.put("ingest/crm/Contact/big.csv.gz", gz(t, []byte(csvHeader+csvRecords(1, 200))))
	if int64(len(big.body)) < 400 {
		t.Fatalf("test file too small to be cut 3 times: %d bytes", len(big.body))
	}
	if _, err := f.invoke(s3Event(big)); err != nil {
		t.Fatal(err)
	}
	if n := len(f.dc.Records("crm", "Contact")); n != 200 {
		t.Errorf("%d records, want 200", n)
	}
	if !strings.Contains(f.metrics.String(), `"Retries":3`) {
		t.Errorf("metrics %s, want 3 retries", f.metrics.String())
	}
	f.assertTags(big, "ingested", "200")
	f.assertUnchanged(big)
}
