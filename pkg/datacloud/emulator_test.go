package datacloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// world is the client stack (Authenticator → CachedTokenSource → Client) against the
// emulator over TLS on loopback.
type world struct {
	emu    *datacloudtest.Server
	run    *datacloudtest.Running
	kp     *datacloudtest.KeyPair
	auth   *datacloud.Authenticator
	client *datacloud.Client
}

func newWorld(t *testing.T, opts datacloudtest.Options, keyForm string) *world {
	t.Helper()
	w := &world{emu: datacloudtest.New(opts), kp: datacloudtest.NewKeyPair(t)}
	t.Cleanup(func() { w.emu.Close() })
	if err := w.emu.RegisterApp(datacloudtest.App{ClientID: "3MVG9-emu", Usernames: []string{"etl@example.com"},
		CertificatePEM: w.kp.CertPEM, Dataspaces: []string{"marketing"}}); err != nil {
		t.Fatal(err)
	}
	w.run = w.emu.StartTLS()
	t.Cleanup(func() { w.run.Close() })
	key := w.kp.PKCS1PEM
	if keyForm == "pkcs8" {
		key = w.kp.PKCS8PEM
	}
	secret, _ := json.Marshal(map[string]string{"client_id": "3MVG9-emu", "username": "etl@example.com",
		"private_key": key, "login_url": w.run.URL, "audience": "https://login.salesforce.com"})
	creds, err := datacloud.ParseCredentials(secret)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := datacloud.ParseAllowedHosts("127.0.0.1,localhost")
	if err != nil {
		t.Fatal(err)
	}
	w.auth, err = datacloud.NewAuthenticator(creds, datacloud.WithAuthAllowedHosts(hosts), datacloud.WithAuthHTTPClient(w.run.Client()))
	if err != nil {
		t.Fatal(err)
	}
	w.client, err = datacloud.NewClient(datacloud.NewCachedTokenSource(w.auth, 5*time.Minute),
		datacloud.WithAllowedHosts(hosts), datacloud.WithHTTPClient(w.run.Client()),
		datacloud.WithRetryPolicy(datacloud.ExponentialBackoff{MaxAttempts: 3, Base: time.Millisecond, Cap: 2 * time.Millisecond}),
		datacloud.WithJobPollInterval(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestEmulatorTokenFlow(t *testing.T) {
	for _, form := range []string{"pkcs1", "pkcs8"} {
		t.Run(form, func(t *testing.T) {
			w := newWorld(t, datacloudtest.Options{}, form)
			tok, err := w.auth.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// The emulator answers a bare host:port under TLS; the client makes it https://.
			if tok.InstanceURL != w.run.URL || tok.ExpiresAt.Sub(tok.IssuedAt) != datacloudtest.DefaultTokenTTL {
				t.Errorf("token = %v", tok)
			}
		})
	}
}

func TestEmulatorStreaming(t *testing.T) {
	w := newWorld(t, datacloudtest.Options{}, "pkcs1")
	ctx := context.Background()
	var in strings.Builder
	for i := range 250 {
		fmt.Fprintf(&in, `{"id":"r%03d","name":"runner %d","km":%d}`+"\n", i, i, i*3)
	}
	rr := datacloud.NewRecordReader(strings.NewReader(in.String()), datacloud.FormatJSONLines)
	n, err := w.client.StreamRecords(ctx, "Event_API", "runner_profiles", rr, 4000, nil)
	if err != nil || n != 250 {
		t.Fatalf("streamed %d: %v", n, err)
	}
	if got := len(w.emu.Records("Event_API", "runner_profiles")); got != 250 {
		t.Fatalf("emulator holds %d records", got)
	}
	ids := make([]string, 230)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%03d", i)
	}
	if err := w.client.DeleteRecords(ctx, "Event_API", "runner_profiles", ids); err != nil {
		t.Fatal(err)
	}
	if got := len(w.emu.Records("Event_API", "runner_profiles")); got != 20 {
		t.Errorf("after deleting 230: %d records", got)
	}
	res, err := w.client.ValidateRecords(ctx, "Event_API", "runner_profiles", []byte(`{"data":[{"id":"x","name":"n","km":1}]}`))
	if err != nil || !res.Accepted {
		t.Errorf("validate: %+v %v", res, err)
	}
	// The emulator's 200,000-byte limit is the client's default: one byte less must pass.
	big := `{"data":[{"id":"big","name":"` + strings.Repeat("x", datacloud.DefaultStreamingPayloadBytes-40) + `"}]}`
	err = w.client.UpsertBody(ctx, "Event_API", "runner_profiles", []byte(big+strings.Repeat(" ", datacloud.DefaultStreamingPayloadBytes-len(big))))
	var ae *datacloud.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Errorf("a body of exactly the limit: %v", err)
	}
}

// TestEmulatorStreamingKeepsToTheRateLimit streams 400 one-record bodies, four in flight, at
// the default pace to an emulator enforcing Data Cloud's 250 requests in any second: none may
// be answered 429 (the client would retry it, so the request log is what tells).
func TestEmulatorStreamingKeepsToTheRateLimit(t *testing.T) {
	w := newWorld(t, datacloudtest.Options{StreamingRequestsPerSecond: datacloud.MaxStreamingRequestsPerSecond}, "pkcs1")
	var in strings.Builder
	for i := range 400 {
		fmt.Fprintf(&in, `{"id":"r%03d","name":"runner %d"}`+"\n", i, i)
	}
	from := len(w.emu.Requests())
	rr := datacloud.NewRecordReader(strings.NewReader(in.String()), datacloud.FormatJSONLines)
	n, err := w.client.StreamRecordsWith(context.Background(), "Event_API", "runner_profiles", rr, datacloud.StreamOptions{Limit: 60, InFlight: 4})
	if err != nil || n != 400 {
		t.Fatalf("streamed %d: %v", n, err)
	}
	posts := 0
	for _, r := range w.emu.Requests()[from:] {
		if r.Method == "POST" && strings.HasPrefix(r.Path, "/api/v1/ingest/sources/") {
			posts++
			if r.Status == 429 {
				t.Errorf("request %d answered 429: over the limit", posts)
			}
		}
	}
	if posts != 400 {
		t.Errorf("%d streaming requests, want one per record (400)", posts)
	}
}

func TestEmulatorBulkLoad(t *testing.T) {
	w := newWorld(t, datacloudtest.Options{}, "pkcs1")
	ctx := context.Background()
	b := datacloud.NewBulkLoader(w.client, datacloud.JobSpec{Object: "orders", SourceName: "Orders_API", Operation: "upsert"}, 2)
	for i := range 5 {
		part := fmt.Sprintf("id,total,note\no%d,%d.50,\"multi\nline, \"\"quoted\"\"\"\n", i, i)
		if err := b.Upload(ctx, []byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ids := b.JobIDs()
	if len(ids) != 3 {
		t.Fatalf("jobs = %v, want 3 (2+2+1 uploads)", ids)
	}
	for _, id := range ids {
		j, err := w.client.WaitJob(ctx, id)
		if err != nil || j.State != datacloud.JobComplete {
			t.Fatalf("job %s: %+v %v", id, j, err)
		}
	}
	recs := w.emu.Records("Orders_API", "orders")
	if len(recs) != 5 {
		t.Fatalf("records = %v", recs)
	}
	jobs, err := w.client.ListJobs(ctx, datacloud.ListJobsOptions{States: []string{datacloud.JobComplete}, Limit: 10})
	if err != nil || len(jobs) != 3 {
		t.Errorf("list: %d jobs, %v", len(jobs), err)
	}
	if err := w.client.DeleteJob(ctx, ids[0]); err != nil {
		t.Error(err)
	}
}

func TestEmulatorBulkAbortAfterUnknownOutcome(t *testing.T) {
	w := newWorld(t, datacloudtest.Options{}, "pkcs1")
	ctx := context.Background()
	b := datacloud.NewBulkLoader(w.client, datacloud.JobSpec{Object: "orders", SourceName: "Orders_API", Operation: "upsert"}, 100)
	if err := w.emu.InjectFault(datacloudtest.Fault{Route: "PUT /api/v1/ingest/jobs/{id}/batches", Reset: true, ResetAfterBytes: 5, Times: 1}); err != nil {
		t.Fatal(err)
	}
	err := b.Upload(ctx, []byte("id,total\no1,1\n"))
	if !errors.Is(err, datacloud.ErrOutcomeUnknown) {
		t.Fatalf("err = %v, want ErrOutcomeUnknown", err)
	}
	if err := b.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	for _, j := range w.emu.Jobs() {
		if j.State != datacloud.JobAborted {
			t.Errorf("job %s left %s", j.ID, j.State)
		}
	}
}

func TestEmulatorRetriesAndReauth(t *testing.T) {
	w := newWorld(t, datacloudtest.Options{}, "pkcs1")
	ctx := context.Background()
	body := []byte(`{"data":[{"id":"a","v":1}]}`)
	if err := w.client.UpsertBody(ctx, "S", "o", body); err != nil {
		t.Fatal(err)
	}
	faults := []datacloudtest.Fault{
		{Route: "POST /api/v1/ingest/sources/{source}/{object}", Status: 503, RetryAfter: "0", Times: 2},
		{Route: "POST /api/v1/ingest/sources/{source}/{object}", RevokeToken: true, Times: 1},
		{Route: "POST /api/v1/ingest/sources/{source}/{object}", Reset: true, Times: 1},
	}
	for _, f := range faults {
		if err := w.emu.InjectFault(f); err != nil {
			t.Fatal(err)
		}
		if err := w.client.UpsertBody(ctx, "S", "o", body); err != nil {
			t.Fatalf("fault %+v: %v", f, err)
		}
	}
	// The revoked token made the client log in and exchange once more.
	exchanges := 0
	for _, r := range w.emu.Requests() {
		if r.Path == "/services/a360/token" {
			exchanges++
		}
	}
	if exchanges != 2 {
		t.Errorf("exchanges = %d, want 2", exchanges)
	}
	if err := w.emu.InjectFault(datacloudtest.Fault{Route: "POST /api/v2/query", Status: 429, RetryAfter: "0"}); err != nil {
		t.Fatal(err)
	}
	_, err := w.client.QueryV2(ctx, "SELECT id FROM o")
	var rl *datacloud.RateLimitError
	if !errors.As(err, &rl) {
		t.Errorf("err = %v, want RateLimitError", err)
	}
}

func TestEmulatorQuery(t *testing.T) {
	w := newWorld(t, datacloudtest.Options{QueryBatchRows: 3, EmptyFinalBatch: true}, "pkcs1")
	ctx := context.Background()
	var recs []string
	for i := range 10 {
		recs = append(recs, fmt.Sprintf(`{"id":"p%02d","score":%d}`, i, 1000000000000+i))
	}
	if err := w.client.UpsertBody(ctx, "S", "people", []byte(`{"data":[`+strings.Join(recs, ",")+`]}`)); err != nil {
		t.Fatal(err)
	}
	cols, rows := w.client.Rows(ctx, "SELECT id, score FROM people ORDER BY id")
	var ids []string
	for row, err := range rows {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, row[0].(string))
		if n, ok := row[1].(json.Number); !ok || !strings.HasPrefix(n.String(), "100000000000") {
			t.Errorf("score = %#v", row[1])
		}
	}
	if len(ids) != 10 || !sort.StringsAreSorted(ids) || len(cols()) != 2 || cols()[0].Name != "id" {
		t.Errorf("ids = %v, cols = %v", ids, cols())
	}
	// Fetching ahead reads the same rows, with the single-use batch ids each used once.
	before := len(w.emu.Requests())
	_, rows = w.client.Rows(ctx, "SELECT id, score FROM people ORDER BY id", datacloud.PrefetchBatches())
	var again []string
	for row, err := range rows {
		if err != nil {
			t.Fatal(err)
		}
		again = append(again, row[0].(string))
	}
	if strings.Join(again, ",") != strings.Join(ids, ",") || len(w.emu.Requests())-before != 5 { // 4 batches of 3 rows and the empty one
		t.Errorf("prefetched: %v in %d requests, want %v in 5", again, len(w.emu.Requests())-before, ids)
	}
	// Early break: only the first batch is fetched.
	before = len(w.emu.Requests())
	_, rows = w.client.Rows(ctx, "SELECT id FROM people")
	for range rows {
		break
	}
	if got := len(w.emu.Requests()) - before; got != 1 {
		t.Errorf("an early break made %d requests, want 1", got)
	}
	v1, err := w.client.QueryV1(ctx, "SELECT id, score FROM people ORDER BY id", datacloud.QueryV1Options{Limit: 4, Offset: 2})
	if err != nil || len(v1.Rows) != 4 || v1.Rows[0][indexOf(v1.Columns, "id")] != "p02" {
		t.Errorf("v1: %+v %v", v1, err)
	}
	md, err := w.client.Metadata(ctx, datacloud.MetadataOptions{})
	if err != nil || !strings.Contains(string(md), "people") {
		t.Errorf("metadata: %s %v", md, err)
	}
}

func indexOf(cols []datacloud.Column, name string) int {
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

func TestEmulatorAuthFailuresLeakNothing(t *testing.T) {
	w := newWorld(t, datacloudtest.Options{}, "pkcs1")
	ctx := context.Background()
	if _, err := w.auth.Token(ctx); err != nil { // some secrets issued
		t.Fatal(err)
	}
	other := datacloudtest.NewKeyPair(t)
	tests := []struct {
		name     string
		mutate   func(m map[string]string)
		wantOp   string
		wantCode string
	}{
		{"unknown user", func(m map[string]string) { m["username"] = "nobody@example.com" }, "login", "invalid_grant"},
		{"unknown client", func(m map[string]string) { m["client_id"] = "nope" }, "login", "invalid_client_id"},
		{"wrong key", func(m map[string]string) { m["private_key"] = other.PKCS8PEM }, "login", "invalid_grant"},
		{"unknown dataspace", func(m map[string]string) { m["dataspace"] = "nope" }, "exchange", "invalid_request"},
	}
	hosts, _ := datacloud.ParseAllowedHosts("127.0.0.1")
	var texts []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{"client_id": "3MVG9-emu", "username": "etl@example.com", "private_key": w.kp.PKCS1PEM, "login_url": w.run.URL}
			tt.mutate(m)
			secret, _ := json.Marshal(m)
			creds, err := datacloud.ParseCredentials(secret)
			if err != nil {
				t.Fatal(err)
			}
			a, err := datacloud.NewAuthenticator(creds, datacloud.WithAuthAllowedHosts(hosts), datacloud.WithAuthHTTPClient(w.run.Client()))
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Token(ctx)
			var oe *datacloud.OAuthError
			if !errors.As(err, &oe) || oe.Op != tt.wantOp || oe.Code != tt.wantCode {
				t.Fatalf("err = %v", err)
			}
			texts = append(texts, err.Error())
		})
	}
	for _, s := range w.emu.IssuedSecrets() {
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Errorf("secret leaked into %q", text)
			}
		}
	}
}
