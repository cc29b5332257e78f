package datacloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// bulkServer is a minimal bulk job state machine for the client's tests.
type bulkServer struct {
	mu         sync.Mutex
	jobs       map[string]*Job
	order      []string
	uploads    map[string][]string
	polls      map[string]int // GETs until an UploadComplete job completes
	final      string         // state reached after the polls (default JobComplete)
	lastReq    string
	failCreate bool
}

func newBulkServer(tn *tenant) *bulkServer {
	s := &bulkServer{jobs: map[string]*Job{}, uploads: map[string][]string{}, polls: map[string]int{}, final: JobComplete}
	tn.mux.HandleFunc("POST /api/v1/ingest/jobs", s.create)
	tn.mux.HandleFunc("GET /api/v1/ingest/jobs", s.list)
	tn.mux.HandleFunc("PUT /api/v1/ingest/jobs/{id}/batches", s.upload)
	tn.mux.HandleFunc("PATCH /api/v1/ingest/jobs/{id}", s.patch)
	tn.mux.HandleFunc("GET /api/v1/ingest/jobs/{id}", s.get)
	tn.mux.HandleFunc("DELETE /api/v1/ingest/jobs/{id}", s.delete)
	return s
}

func (s *bulkServer) create(w http.ResponseWriter, r *http.Request) {
	var spec JobSpec
	if err := json.NewDecoder(r.Body).Decode(&spec); err != nil || r.Header.Get("Content-Type") != "application/json" {
		reply(400, `{"error":"Bad Request"}`)(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failCreate {
		reply(400, `{"error":"Bad Request","message":"unknown object"}`)(w, r)
		return
	}
	id := fmt.Sprintf("job-%d", len(s.order)+1)
	j := &Job{ID: id, Object: spec.Object, SourceName: spec.SourceName, Operation: spec.Operation, State: JobOpen,
		ContentType: "CSV", APIVersion: "v1", ContentURL: "/api/v1/ingest/jobs/" + id + "/batches"}
	s.jobs[id] = j
	s.order = append(s.order, id)
	writeJSON(w, 201, j)
}

func (s *bulkServer) job(w http.ResponseWriter, r *http.Request) *Job {
	j := s.jobs[r.PathValue("id")]
	if j == nil {
		reply(404, `{"error":"Not Found","message":"Not Found"}`)(w, r)
	}
	return j
}

func (s *bulkServer) upload(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.job(w, r)
	if j == nil {
		return
	}
	if j.State != JobOpen || r.Header.Get("Content-Type") != "text/csv" {
		reply(409, `{"error":"Conflict","message":"job is not open"}`)(w, r)
		return
	}
	s.uploads[j.ID] = append(s.uploads[j.ID], string(b))
	reply(202, `{"accepted":true}`)(w, r)
}

func (s *bulkServer) patch(w http.ResponseWriter, r *http.Request) {
	var body struct{ State string }
	json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.job(w, r)
	if j == nil {
		return
	}
	if j.State != JobOpen || (body.State != JobUploadComplete && body.State != JobAborted) {
		reply(409, `{"error":"Conflict","message":"state change not allowed"}`)(w, r)
		return
	}
	j.State = body.State
	writeJSON(w, 200, map[string]string{"id": j.ID, "state": j.State, "object": j.Object})
}

func (s *bulkServer) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.job(w, r)
	if j == nil {
		return
	}
	if j.State == JobUploadComplete || j.State == JobInProgress {
		if s.polls[j.ID]--; s.polls[j.ID] < 0 {
			j.State = s.final
		} else {
			j.State = JobInProgress
		}
	}
	writeJSON(w, 200, j)
}

func (s *bulkServer) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastReq = r.URL.RawQuery
	var out []*Job
	for _, id := range s.order {
		out = append(out, s.jobs[id])
	}
	writeJSON(w, 200, map[string]any{"data": out})
}

func (s *bulkServer) delete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.job(w, r)
	if j == nil {
		return
	}
	if j.State == JobOpen {
		reply(409, `{"error":"Conflict"}`)(w, r)
		return
	}
	delete(s.jobs, j.ID)
	w.WriteHeader(204)
}

func TestBulkJobLifecycle(t *testing.T) {
	tn := setup(t)
	s := newBulkServer(tn)
	ctx := context.Background()
	job, err := tn.client.CreateJob(ctx, JobSpec{Object: "runner_profiles", SourceName: "Event_API", Operation: "upsert"})
	if err != nil {
		t.Fatal(err)
	}
	if job.ID != "job-1" || job.State != JobOpen || job.Object != "runner_profiles" || job.ContentType != "CSV" {
		t.Fatalf("job = %+v", job)
	}
	if err := tn.client.UploadJobData(ctx, job.ID, []byte("id,name\n1,a\n")); err != nil {
		t.Fatal(err)
	}
	if got := s.uploads[job.ID]; len(got) != 1 || got[0] != "id,name\n1,a\n" {
		t.Errorf("uploads = %q", got)
	}
	closed, err := tn.client.CloseJob(ctx, job.ID)
	if err != nil || closed.State != JobUploadComplete {
		t.Fatalf("close: %+v %v", closed, err)
	}
	// Closing again is a 409 from the server, but the job did reach UploadComplete (or later):
	// a retried close whose first try landed must not fail.
	s.polls[job.ID] = 3
	again, err := tn.client.CloseJob(ctx, job.ID)
	if err != nil || again.State != JobInProgress {
		t.Fatalf("second close: %+v %v", again, err)
	}
	// Aborting a closed job is a real conflict.
	_, err = tn.client.AbortJob(ctx, job.ID)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 409 || ae.Op != "abort job" {
		t.Fatalf("abort after close: %v", err)
	}
	done, err := tn.client.WaitJob(ctx, job.ID)
	if err != nil || done.State != JobComplete {
		t.Fatalf("wait: %+v %v", done, err)
	}
	if err := tn.client.DeleteJob(ctx, job.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.client.GetJob(ctx, job.ID); !errors.As(err, &ae) || ae.StatusCode != 404 {
		t.Errorf("get after delete: %v", err)
	}
}

func TestAbortJob(t *testing.T) {
	tn := setup(t)
	newBulkServer(tn)
	ctx := context.Background()
	job, err := tn.client.CreateJob(ctx, JobSpec{Object: "o", SourceName: "s", Operation: "delete"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second abort gets a 409 but finds the job Aborted
		j, err := tn.client.AbortJob(ctx, job.ID)
		if err != nil || j.State != JobAborted {
			t.Fatalf("abort: %+v %v", j, err)
		}
	}
	done, err := tn.client.WaitJob(ctx, job.ID)
	if err != nil || done.State != JobAborted {
		t.Fatalf("wait: %+v %v", done, err)
	}
}

func TestBulkArgumentErrors(t *testing.T) {
	tn := setup(t)
	s := newBulkServer(tn)
	ctx := context.Background()
	tests := []struct {
		name, want string
		call       func() error
	}{
		{"no object", "datacloud: create job: object is empty", func() error {
			_, err := tn.client.CreateJob(ctx, JobSpec{SourceName: "s", Operation: "upsert"})
			return err
		}},
		{"no source", "datacloud: create job: source name is empty", func() error {
			_, err := tn.client.CreateJob(ctx, JobSpec{Object: "o", Operation: "upsert"})
			return err
		}},
		{"bad operation", `datacloud: create job: operation "insert" is not upsert or delete`, func() error {
			_, err := tn.client.CreateJob(ctx, JobSpec{Object: "o", SourceName: "s", Operation: "insert"})
			return err
		}},
		{"upload no id", "datacloud: upload job data: job id is empty", func() error { return tn.client.UploadJobData(ctx, "", []byte("x")) }},
		{"upload empty", "datacloud: upload job data: the CSV part is empty", func() error { return tn.client.UploadJobData(ctx, "j", nil) }},
		{"upload too big", "exceed the 150000000-byte limit", func() error {
			return tn.client.UploadJobData(ctx, "j", make([]byte, MaxUploadBytes+1))
		}},
		{"close no id", "datacloud: close job: job id is empty", func() error { _, err := tn.client.CloseJob(ctx, ""); return err }},
		{"get no id", "datacloud: get job: job id is empty", func() error { _, err := tn.client.GetJob(ctx, ""); return err }},
		{"delete no id", "datacloud: delete job: job id is empty", func() error { return tn.client.DeleteJob(ctx, " ") }},
		{"next batch no id", "datacloud: next batch: next batch id is empty", func() error { _, err := tn.client.NextBatch(ctx, ""); return err }},
		{"empty sql", "datacloud: query: sql is empty", func() error { _, err := tn.client.QueryV2(ctx, " "); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if len(s.order) != 0 {
		t.Errorf("bad arguments reached the server: %v", s.order)
	}
}

func TestListJobs(t *testing.T) {
	tests := []struct {
		name      string
		opts      ListJobsOptions
		wantQuery string
	}{
		{"defaults", ListJobsOptions{}, ""},
		{"all options", ListJobsOptions{Limit: 50, Offset: 10, OrderBy: "createdDate", States: []string{JobOpen, JobAborted}},
			"limit=50&offset=10&orderBy=createdDate&states=Open%2CAborted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			s := newBulkServer(tn)
			for range 2 {
				if _, err := tn.client.CreateJob(context.Background(), JobSpec{Object: "o", SourceName: "s", Operation: "upsert"}); err != nil {
					t.Fatal(err)
				}
			}
			jobs, err := tn.client.ListJobs(context.Background(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != 2 || jobs[1].ID != "job-2" || s.lastReq != tt.wantQuery {
				t.Errorf("jobs = %+v, query = %q", jobs, s.lastReq)
			}
		})
	}
}

func TestWaitJobStopsAtTheDeadline(t *testing.T) {
	tn := setup(t)
	s := newBulkServer(tn)
	job, _ := tn.client.CreateJob(context.Background(), JobSpec{Object: "o", SourceName: "s", Operation: "upsert"})
	tn.client.CloseJob(context.Background(), job.ID)
	s.polls[job.ID] = 1 << 30
	// The deadline is generous so that at least one poll answers even on a loaded machine;
	// the server never finishes the job, so the deadline is what ends the wait.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	last, err := tn.client.WaitJob(ctx, job.ID)
	if !errors.Is(err, context.DeadlineExceeded) || last == nil || last.State != JobInProgress {
		t.Fatalf("last = %+v, err = %v", last, err)
	}
	if _, err := tn.client.WaitJob(context.Background(), "missing"); err == nil {
		t.Error("waiting on a missing job succeeded")
	}
}

func TestBulkLoaderRollsOver(t *testing.T) {
	tests := []struct {
		name       string
		max, parts int
		wantJobs   []int // uploads per job
	}{
		{"no uploads", 3, 0, nil},
		{"fits one job", 3, 3, []int{3}},
		{"rolls over", 3, 7, []int{3, 3, 1}},
		{"default max", 0, 101, []int{100, 1}},
		{"max above the service limit", 500, 101, []int{100, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			s := newBulkServer(tn)
			spec := JobSpec{Object: "o", SourceName: "s", Operation: "upsert"}
			b := NewBulkLoader(tn.client, spec, tt.max)
			ctx := context.Background()
			for i := range tt.parts {
				if err := b.Upload(ctx, []byte(fmt.Sprintf("id\n%d\n", i))); err != nil {
					t.Fatal(err)
				}
			}
			ids := b.JobIDs()
			if len(ids) != len(tt.wantJobs) {
				t.Fatalf("jobs = %v, want %d", ids, len(tt.wantJobs))
			}
			next := 0
			for i, id := range ids {
				got := s.uploads[id]
				if len(got) != tt.wantJobs[i] {
					t.Errorf("job %s has %d uploads, want %d", id, len(got), tt.wantJobs[i])
				}
				for _, part := range got { // parts go out in order
					if part != fmt.Sprintf("id\n%d\n", next) {
						t.Errorf("job %s: part %q out of order (want %d)", id, part, next)
					}
					next++
				}
			}
			if err := b.Close(ctx); err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if st := s.jobs[id].State; st != JobUploadComplete {
					t.Errorf("job %s is %s after Close", id, st)
				}
			}
			if err := b.Abort(ctx); err != nil { // nothing is open any more
				t.Errorf("abort after close: %v", err)
			}
		})
	}
}

func TestBulkLoaderAbortsWithAnExpiredContext(t *testing.T) {
	tn := setup(t)
	s := newBulkServer(tn)
	b := NewBulkLoader(tn.client, JobSpec{Object: "o", SourceName: "s", Operation: "upsert"}, 2)
	ctx, cancel := context.WithCancel(context.Background())
	for range 3 {
		if err := b.Upload(ctx, []byte("id\n1\n")); err != nil {
			t.Fatal(err)
		}
	}
	cancel() // the deadline hit: aborting must still reach the server
	if err := b.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range b.JobIDs() {
		if st := s.jobs[id].State; st != JobAborted {
			t.Errorf("job %s is %s", id, st)
		}
	}
	// A loader never uploads into a job it aborted.
	if err := b.Upload(context.Background(), []byte("id\n2\n")); err != nil {
		t.Fatal(err)
	}
	if ids := b.JobIDs(); len(ids) != 3 || len(s.uploads[ids[2]]) != 1 {
		t.Errorf("after abort: jobs %v", ids)
	}
}

func TestBulkLoaderErrors(t *testing.T) {
	tn := setup(t)
	s := newBulkServer(tn)
	ctx := context.Background()
	b := NewBulkLoader(tn.client, JobSpec{Object: "o", SourceName: "s", Operation: "upsert"}, 1)
	s.failCreate = true
	var ae *APIError
	if err := b.Upload(ctx, []byte("id\n1\n")); !errors.As(err, &ae) || ae.Op != "create job" || len(b.JobIDs()) != 0 {
		t.Fatalf("create failure: %v, jobs %v", err, b.JobIDs())
	}
	s.failCreate = false
	if err := b.Upload(ctx, []byte("id\n1\n")); err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(ctx, []byte("id\n2\n")); err != nil {
		t.Fatal(err)
	}
	// The server lost job-1: Close reports it and still closes job-2.
	delete(s.jobs, "job-1")
	err := b.Close(ctx)
	if !errors.As(err, &ae) || ae.StatusCode != 404 || s.jobs["job-2"].State != JobUploadComplete {
		t.Fatalf("close: %v", err)
	}
	// Abort tries job-1 (still open as far as the loader knows) and reports the failure.
	if err := b.Abort(ctx); !errors.As(err, &ae) || ae.Op != "abort job" {
		t.Errorf("abort: %v", err)
	}
}
