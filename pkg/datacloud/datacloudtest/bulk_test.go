package datacloudtest

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// createJob creates a job and returns its id.
func (e *env) createJob(tok, object, op string) string {
	e.t.Helper()
	r := e.do("POST", "/api/v1/ingest/jobs", tok, map[string]string{"object": object, "sourceName": "Event_API", "operation": op}, "")
	mustStatus(e.t, r, 201)
	return r.json(e.t)["id"].(string)
}

func (e *env) jobState(tok, id string) string {
	e.t.Helper()
	r := e.do("GET", "/api/v1/ingest/jobs/"+id, tok, nil, "")
	mustStatus(e.t, r, 200)
	return r.json(e.t)["state"].(string)
}

func keysOf(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

func TestBulkJobShapes(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	r := e.do("POST", "/api/v1/ingest/jobs", tok, map[string]string{"object": "runner_profiles", "sourceName": "Event_API", "operation": "upsert"}, "")
	mustStatus(t, r, 201)
	created := r.json(t)
	const base = "apiVersion,contentType,createdById,createdDate,id,object,operation,sourceName,state,systemModstamp"
	if got := keysOf(created); got != "apiVersion,contentType,contentUrl,createdById,createdDate,id,object,operation,sourceName,state,systemModstamp" {
		t.Errorf("create keys %s", got)
	}
	id := created["id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("id %q is not a UUID", id)
	}
	if created["contentUrl"] != "/api/v1/ingest/jobs/"+id+"/batches" || created["state"] != "Open" || created["contentType"] != "CSV" || created["apiVersion"] != "v1" {
		t.Errorf("created %v", created)
	}
	if created["createdDate"] != "2026-03-01T12:00:00.000000Z" {
		t.Errorf("createdDate %v", created["createdDate"])
	}
	got := e.do("GET", "/api/v1/ingest/jobs/"+id, tok, nil, "").json(t)
	if keysOf(got) != "apiVersion,contentType,contentUrl,createdById,createdDate,id,object,operation,retries,sourceName,state,systemModstamp,totalProcessingTime" {
		t.Errorf("get keys %s", keysOf(got))
	}
	r = e.do("PATCH", "/api/v1/ingest/jobs/"+id, tok, map[string]string{"state": "Aborted"}, "")
	mustStatus(t, r, 200)
	if patched := r.json(t); keysOf(patched) != base || patched["state"] != "Aborted" {
		t.Errorf("patch body %v", patched)
	}
}

func TestBulkStateMachine(t *testing.T) {
	e := newEnv(t, Options{MaxUploadBytes: 100, MaxUploadsPerJob: 2})
	tok := e.tenantToken()
	csv := "maid,name\n1,a\n"
	type step struct {
		method, suffix string
		body           any
		code           int
	}
	patch := func(state string, code int) step {
		return step{"PATCH", "", map[string]string{"state": state}, code}
	}
	upload := func(code int) step { return step{"PUT", "/batches", csv, code} }
	del := func(code int) step { return step{"DELETE", "", nil, code} }
	for _, tc := range []struct {
		name  string
		steps []step
		final string // state after the steps ("" = deleted)
	}{
		{"upload close complete", []step{upload(202), upload(202), patch("UploadComplete", 200)}, "JobComplete"},
		{"third upload over the file limit", []step{upload(202), upload(202), upload(400)}, "Open"},
		{"upload too large", []step{{"PUT", "/batches", strings.Repeat("x", 101), 400}}, "Open"},
		{"empty upload", []step{{"PUT", "/batches", "", 400}}, "Open"},
		{"abort open", []step{upload(202), patch("Aborted", 200)}, "Aborted"},
		{"upload after close", []step{patch("UploadComplete", 200), upload(409)}, "JobComplete"},
		{"upload after abort", []step{patch("Aborted", 200), upload(409)}, "Aborted"},
		{"close twice", []step{patch("UploadComplete", 200), patch("UploadComplete", 409)}, "JobComplete"},
		{"close aborted", []step{patch("Aborted", 200), patch("UploadComplete", 409)}, "Aborted"},
		{"abort completed", []step{patch("UploadComplete", 200), patch("Aborted", 409)}, "JobComplete"},
		{"bad state value", []step{patch("Open", 400), patch("JobComplete", 400)}, "Open"},
		{"delete open", []step{del(409)}, "Open"},
		{"delete aborted", []step{patch("Aborted", 200), del(204), del(404)}, ""},
		{"delete complete", []step{upload(202), patch("UploadComplete", 200), del(204)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := e.createJob(tok, "obj_"+strings.NewReplacer(" ", "_").Replace(tc.name), "upsert")
			for i, st := range tc.steps {
				r := e.do(st.method, "/api/v1/ingest/jobs/"+id+st.suffix, tok, st.body, "text/csv")
				if r.code != st.code {
					t.Fatalf("step %d %s%s: status %d, want %d: %s", i, st.method, st.suffix, r.code, st.code, r.raw)
				}
			}
			if tc.final == "" {
				mustStatus(t, e.do("GET", "/api/v1/ingest/jobs/"+id, tok, nil, ""), 404)
				return
			}
			if got := e.jobState(tok, id); got != tc.final {
				t.Fatalf("state %s, want %s", got, tc.final)
			}
		})
	}
	for _, tc := range []struct {
		name, method, suffix string
		body                 any
		code                 int
	}{
		{"get unknown", "GET", "", nil, 404},
		{"upload unknown", "PUT", "/batches", csv, 404},
		{"patch unknown", "PATCH", "", map[string]string{"state": "Aborted"}, 404},
		{"delete unknown", "DELETE", "", nil, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, "/api/v1/ingest/jobs/00000000-0000-4000-8000-000000000000"+tc.suffix, tok, tc.body, "text/csv")
			mustStatus(t, r, tc.code)
			if !strings.Contains(r.message(t), "not found") {
				t.Errorf("message %q", r.message(t))
			}
		})
	}
}

func TestBulkCreateErrors(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	for _, tc := range []struct {
		name string
		body any
		msg  string
	}{
		{"bad operation", map[string]string{"object": "o", "sourceName": "s", "operation": "insert"}, `invalid operation "insert"`},
		{"no operation", map[string]string{"object": "o", "sourceName": "s"}, "invalid operation"},
		{"no object", map[string]string{"sourceName": "s", "operation": "upsert"}, "required"},
		{"bad object", map[string]string{"object": "a-b", "sourceName": "s", "operation": "upsert"}, "invalid object name"},
		{"not json", "{", "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/ingest/jobs", tok, tc.body, "application/json")
			mustStatus(t, r, 400)
			if !strings.Contains(r.message(t), tc.msg) {
				t.Fatalf("message %q, want %q", r.message(t), tc.msg)
			}
		})
	}
}

func TestBulkAppliesData(t *testing.T) {
	e := newEnv(t, Options{Objects: map[string]ObjectSpec{"people": {PrimaryKey: "id"}}})
	tok := e.tenantToken()
	id := e.createJob(tok, "people", "upsert")
	mustStatus(t, e.do("PUT", "/api/v1/ingest/jobs/"+id+"/batches", tok, "name,id,note\r\nAda,1,\"a, \"\"quoted\"\"\nline\"\r\nBob,2,\r\n", "text/csv"), 202)
	mustStatus(t, e.do("PUT", "/api/v1/ingest/jobs/"+id+"/batches", tok, "name,id,note\nAda L,1,x\n", "text/csv"), 202)
	mustStatus(t, e.do("PATCH", "/api/v1/ingest/jobs/"+id, tok, map[string]string{"state": "UploadComplete"}, ""), 200)
	recs := e.s.Records("Event_API", "people")
	if len(recs) != 2 {
		t.Fatalf("records %v", recs)
	}
	got := map[int64]map[string]any{}
	for _, r := range recs {
		got[r["id"].(int64)] = r
	}
	if got[1]["name"] != "Ada L" || got[2]["note"] != nil || got[2]["name"] != "Bob" {
		t.Fatalf("records %v", recs)
	}
	j, ok := e.s.Job(id)
	if !ok || j.State != StateJobComplete || j.Uploads != 2 || len(e.s.JobData(id)) != 2 {
		t.Fatalf("job %+v", j)
	}

	del := e.createJob(tok, "people", "delete")
	mustStatus(t, e.do("PUT", "/api/v1/ingest/jobs/"+del+"/batches", tok, "1\n", "text/csv"), 202)
	mustStatus(t, e.do("PATCH", "/api/v1/ingest/jobs/"+del, tok, map[string]string{"state": "UploadComplete"}, ""), 200)
	if recs := e.s.Records("Event_API", "people"); len(recs) != 1 || recs[0]["id"] != int64(2) {
		t.Fatalf("after delete job: %v", recs)
	}
}

func TestBulkFailedJobs(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	for _, tc := range []struct {
		name, op string
		files    []string
		errText  string
	}{
		{"ragged rows", "upsert", []string{"a,b\n1,2\n3\n"}, "wrong number of fields"},
		{"bare quote", "upsert", []string{"a,b\n1,x\"y\n"}, "bare"},
		{"bad utf8", "upsert", []string{"a,b\n1,\xff\n"}, "UTF-8"},
		{"bad header", "upsert", []string{"a b,c\n1,2\n"}, "invalid column name"},
		{"second file bad", "upsert", []string{"a,b\n1,2\n", "a,b\n\"1,2\n"}, "file 2"},
		{"delete three columns", "delete", []string{"1,2,3\n"}, "at most 2 columns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := "fail_" + strings.ReplaceAll(tc.name, " ", "_")
			id := e.createJob(tok, obj, tc.op)
			for _, f := range tc.files {
				mustStatus(t, e.do("PUT", "/api/v1/ingest/jobs/"+id+"/batches", tok, f, "text/csv"), 202)
			}
			mustStatus(t, e.do("PATCH", "/api/v1/ingest/jobs/"+id, tok, map[string]string{"state": "UploadComplete"}, ""), 200)
			j, _ := e.s.Job(id)
			if j.State != StateFailed || !strings.Contains(j.Error, tc.errText) {
				t.Fatalf("job %+v, want Failed with %q", j, tc.errText)
			}
			if recs := e.s.Records("Event_API", obj); recs != nil {
				t.Fatalf("a failed job applied data: %v", recs)
			}
			mustStatus(t, e.do("DELETE", "/api/v1/ingest/jobs/"+id, tok, nil, ""), 204)
		})
	}
}

func TestBulkProcessingDelay(t *testing.T) {
	e := newEnv(t, Options{JobProcessingDelay: 30 * time.Second})
	tok := e.tenantToken()
	id := e.createJob(tok, "delayed", "upsert")
	mustStatus(t, e.do("PUT", "/api/v1/ingest/jobs/"+id+"/batches", tok, "k\n1\n", "text/csv"), 202)
	r := e.do("PATCH", "/api/v1/ingest/jobs/"+id, tok, map[string]string{"state": "UploadComplete"}, "")
	if mustStatus(t, r, 200); r.json(t)["state"] != "UploadComplete" {
		t.Fatalf("close answered %s", r.raw)
	}
	if st := e.jobState(tok, id); st != StateInProgress {
		t.Fatalf("state %s, want InProgress", st)
	}
	mustStatus(t, e.do("DELETE", "/api/v1/ingest/jobs/"+id, tok, nil, ""), 409)
	mustStatus(t, e.do("PATCH", "/api/v1/ingest/jobs/"+id, tok, map[string]string{"state": "Aborted"}, ""), 409)
	if recs := e.s.Records("Event_API", "delayed"); recs != nil {
		t.Fatalf("data visible before completion: %v", recs)
	}
	e.clock.Advance(30 * time.Second)
	got := e.do("GET", "/api/v1/ingest/jobs/"+id, tok, nil, "").json(t)
	if got["state"] != StateJobComplete || got["totalProcessingTime"] != float64(30000) {
		t.Fatalf("job %v", got)
	}
	if recs := e.s.Records("Event_API", "delayed"); len(recs) != 1 {
		t.Fatalf("records %v", recs)
	}
}

func TestBulkList(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	var ids []string
	for i := range 25 {
		ids = append(ids, e.createJob(tok, "list_obj", "upsert"))
		e.clock.Advance(time.Second)
		if i%5 == 0 {
			mustStatus(t, e.do("PATCH", "/api/v1/ingest/jobs/"+ids[i], tok, map[string]string{"state": "Aborted"}, ""), 200)
		}
	}
	list := func(query string) []any {
		t.Helper()
		r := e.do("GET", "/api/v1/ingest/jobs"+query, tok, nil, "")
		mustStatus(t, r, 200)
		data, ok := r.json(t)["data"].([]any)
		if !ok {
			t.Fatalf("no data array: %s", r.raw)
		}
		return data
	}
	idAt := func(data []any, i int) string { return data[i].(map[string]any)["id"].(string) }
	if n := len(list("")); n != 20 {
		t.Errorf("default page %d, want 20", n)
	}
	if d := list("?limit=100"); len(d) != 25 || idAt(d, 0) != ids[0] {
		t.Errorf("limit=100 gave %d", len(d))
	}
	if d := list("?limit=5&offset=22"); len(d) != 3 || idAt(d, 0) != ids[22] {
		t.Errorf("offset page %d", len(d))
	}
	if d := list("?limit=50&offset=&orderby=&state="); len(d) != 25 {
		t.Errorf("postman query gave %d", len(d))
	}
	if d := list("?states=Aborted"); len(d) != 5 {
		t.Errorf("states=Aborted gave %d", len(d))
	}
	if d := list("?state=Open,Aborted&limit=100"); len(d) != 25 {
		t.Errorf("state=Open,Aborted gave %d", len(d))
	}
	if d := list("?orderBy=createdDate%20DESC"); idAt(d, 0) != ids[24] {
		t.Errorf("DESC first %s", idAt(d, 0))
	}
	if d := list("?orderby=systemModstamp%20ASC&limit=1"); len(d) != 1 || idAt(d, 0) != ids[0] {
		t.Errorf("ASC first %v", d)
	}
	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x", "?offset=-1", "?states=Done", "?orderBy=nope", "?orderBy=id%20SIDEWAYS"} {
		mustStatus(t, e.do("GET", "/api/v1/ingest/jobs"+q, tok, nil, ""), 400)
	}
	if n := len(e.s.Jobs()); n != 25 {
		t.Errorf("Jobs() has %d", n)
	}
}
