package datacloud

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// postmanResponses returns the saved example bodies of the shared Postman collection,
// keyed "folder/request name". It skips when ../shared is absent, unless REQUIRE_SHARED=1.
func postmanResponses(t *testing.T) map[string]string {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "data", "postman", "datacloud-apis.postman_collection.json")
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("REQUIRE_SHARED") == "1" {
			t.Fatalf("REQUIRE_SHARED=1 but %s is missing", path)
		}
		t.Skipf("%s is absent", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	type item struct {
		Name     string `json:"name"`
		Item     []item `json:"item"`
		Response []struct {
			Body string `json:"body"`
		} `json:"response"`
	}
	var coll item
	if err := json.Unmarshal(raw, &coll); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(prefix string, items []item)
	walk = func(prefix string, items []item) {
		for _, it := range items {
			if len(it.Item) > 0 {
				walk(prefix+it.Name+"/", it.Item)
			} else if len(it.Response) > 0 {
				out[prefix+it.Name] = it.Response[0].Body
			}
		}
	}
	walk("", coll.Item)
	return out
}

// TestPostmanShapes feeds the saved responses of Salesforce's own collection through the
// client, so the parsers are checked against bodies recorded on a real tenant.
func TestPostmanShapes(t *testing.T) {
	saved := postmanResponses(t)
	body := func(name string) string {
		b, ok := saved[name]
		if !ok || strings.TrimSpace(b) == "" {
			t.Fatalf("no saved response for %q", name)
		}
		return b
	}
	tn := setup(t)
	routes := map[string]struct {
		name   string
		status int
	}{
		"POST /api/v1/ingest/jobs":                                           {"Ingestion API/Bulk/Create Job", 201},
		"PUT /api/v1/ingest/jobs/{id}/batches":                               {"Ingestion API/Bulk/Upload Job", 202},
		"GET /api/v1/ingest/jobs/{id}":                                       {"Ingestion API/Bulk/Get Job Info", 200},
		"GET /api/v1/ingest/jobs":                                            {"Ingestion API/Bulk/Get All Jobs", 200},
		"POST /api/v1/ingest/sources/Event_API/runner_profiles":              {"Ingestion API/Streaming/Insert Records", 202},
		"DELETE /api/v1/ingest/sources/Event_API/runner_profiles":            {"Ingestion API/Streaming/Delete Records", 202},
		"POST /api/v1/ingest/sources/Event_API/runner_profiles/actions/test": {"Ingestion API/Streaming/Sync Record Validation", 200},
		"POST /api/v1/query":                                                 {"Query API V1/Query", 200},
		"POST /api/v2/query":                                                 {"Query API V2/Query", 200},
		"GET /api/v1/metadata":                                               {"Metadata API/Metadata By Entity", 200},
	}
	for pattern, r := range routes {
		tn.mux.HandleFunc(pattern, reply(r.status, body(r.name)))
	}
	patch := map[string]string{JobUploadComplete: body("Ingestion API/Bulk/Close Job"), JobAborted: body("Ingestion API/Bulk/Abort Job")}
	tn.mux.HandleFunc("PATCH /api/v1/ingest/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ State string }
		json.NewDecoder(r.Body).Decode(&req)
		reply(200, patch[req.State])(w, r)
	})
	ctx := context.Background()

	job, err := tn.client.CreateJob(ctx, JobSpec{Object: "runner_profiles", SourceName: "Event_API", Operation: "upsert"})
	if err != nil || job.State != JobOpen || job.ID == "" || job.ContentURL == "" || job.CreatedDate == "" {
		t.Errorf("create job: %+v %v", job, err)
	}
	if err := tn.client.UploadJobData(ctx, job.ID, []byte("a,b\n1,2\n")); err != nil {
		t.Errorf("upload: %v", err)
	}
	if j, err := tn.client.CloseJob(ctx, job.ID); err != nil || j.State != JobUploadComplete {
		t.Errorf("close: %+v %v", j, err)
	}
	if j, err := tn.client.AbortJob(ctx, job.ID); err != nil || j.State != JobAborted {
		t.Errorf("abort: %+v %v", j, err)
	}
	if j, err := tn.client.GetJob(ctx, job.ID); err != nil || j.APIVersion != "v1" || j.Object != "runner_profiles" {
		t.Errorf("get: %+v %v", j, err)
	}
	if jobs, err := tn.client.ListJobs(ctx, ListJobsOptions{Limit: 50}); err != nil || len(jobs) == 0 || jobs[0].ID == "" {
		t.Errorf("list: %+v %v", jobs, err)
	}
	if err := tn.client.UpsertBody(ctx, "Event_API", "runner_profiles", []byte(`{"data":[{}]}`)); err != nil {
		t.Errorf("upsert: %v", err)
	}
	if err := tn.client.DeleteRecords(ctx, "Event_API", "runner_profiles", []string{"101"}); err != nil {
		t.Errorf("delete: %v", err)
	}
	if v, err := tn.client.ValidateRecords(ctx, "Event_API", "runner_profiles", []byte(`{"data":[{}]}`)); err != nil || !v.Accepted {
		t.Errorf("validate: %+v %v", v, err)
	}
	for name, query := range map[string]func() (*QueryResult, error){
		"v1": func() (*QueryResult, error) { return tn.client.QueryV1(ctx, "SELECT 1", QueryV1Options{}) },
		// The saved V2 example is a copy of V1 (object rows): the parser must cope with both.
		"v2": func() (*QueryResult, error) { return tn.client.QueryV2(ctx, "SELECT 1") },
	} {
		res, err := query()
		if err != nil || len(res.Rows) == 0 || len(res.Columns) == 0 || res.QueryID == "" {
			t.Errorf("%s: %+v %v", name, res, err)
			continue
		}
		for i, row := range res.Rows {
			if len(row) != len(res.Columns) {
				t.Errorf("%s row %d has %d values for %d columns", name, i, len(row), len(res.Columns))
			}
		}
	}
	md, err := tn.client.Metadata(ctx, MetadataOptions{EntityName: "ssot__Individual__dlm"})
	var doc struct {
		Metadata []struct{ Name string } `json:"metadata"`
	}
	if err != nil || json.Unmarshal(md, &doc) != nil || len(doc.Metadata) == 0 || doc.Metadata[0].Name == "" {
		t.Errorf("metadata: %.200s %v", md, err)
	}
}
