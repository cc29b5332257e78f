package datacloudtest

import (
	"strings"
	"testing"
)

// TestDiscardIngestedData checks the benchmark sink: uploads and streaming bodies are
// checked and counted as usual, and nothing is stored.
func TestDiscardIngestedData(t *testing.T) {
	e := newEnv(t, Options{DiscardIngestedData: true, MaxUploadBytes: 64})
	tok := e.tenantToken()
	id := e.createJob(tok, "people", "upsert")
	mustStatus(t, e.do("PUT", "/api/v1/ingest/jobs/"+id+"/batches", tok, "id,name\n1,Ada\n2,Bob\n", "text/csv"), 202)
	mustStatus(t, e.do("PUT", "/api/v1/ingest/jobs/"+id+"/batches", tok, "id,name\n"+strings.Repeat("3,Cy\n", 20), "text/csv"), 400)
	mustStatus(t, e.do("PUT", "/api/v1/ingest/jobs/"+id+"/batches", tok, "", "text/csv"), 400)
	mustStatus(t, e.do("PATCH", "/api/v1/ingest/jobs/"+id, tok, map[string]string{"state": "UploadComplete"}, ""), 200)
	j, ok := e.s.Job(id)
	if !ok || j.State != StateJobComplete || j.Uploads != 1 || j.UploadedBytes != 20 {
		t.Fatalf("job %+v, want JobComplete with 1 upload of 20 bytes", j)
	}
	if data := e.s.JobData(id); len(data) != 0 {
		t.Errorf("job data kept: %q", data)
	}
	mustStatus(t, e.do("POST", "/api/v1/ingest/sources/S/people", tok, `{"data":[{"id":"1","name":"Ada"}]}`, "application/json"), 202)
	for _, bad := range []string{`{"data":[]}`, `{"data":[{}]}`, `{"data":[1]}`, `{"data":[{"id":"1"}`, `[{"id":"1"}]`} {
		mustStatus(t, e.do("POST", "/api/v1/ingest/sources/S/people", tok, bad, "application/json"), 400)
	}
	if recs := e.s.Records("S", "people"); len(recs) != 0 {
		t.Errorf("records stored: %v", recs)
	}
}
