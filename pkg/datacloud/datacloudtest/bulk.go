package datacloudtest

import (
	"cmp"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Bulk job states.
const (
	StateOpen           = "Open"
	StateUploadComplete = "UploadComplete"
	StateInProgress     = "InProgress"
	StateJobComplete    = "JobComplete"
	StateFailed         = "Failed"
	StateAborted        = "Aborted"
)

var allStates = []string{StateOpen, StateUploadComplete, StateInProgress, StateJobComplete, StateFailed, StateAborted}

// Job is a bulk ingestion job as the emulator holds it.
type Job struct {
	ID, Object, SourceName, Operation, State string
	CreatedByID                              string
	CreatedDate, SystemModstamp              time.Time
	Uploads                                  int   // files uploaded
	UploadedBytes                            int64 // bytes uploaded
	TotalProcessingTime                      int64 // milliseconds from close to completion
	Error                                    string
}

type job struct {
	Job
	data     [][]byte
	closedAt time.Time
}

// jobJSON is the job body; optional parts are left out per response, as in Postman's examples.
type jobJSON struct {
	Object              string `json:"object"`
	ID                  string `json:"id"`
	Operation           string `json:"operation"`
	SourceName          string `json:"sourceName"`
	CreatedByID         string `json:"createdById"`
	CreatedDate         string `json:"createdDate"`
	SystemModstamp      string `json:"systemModstamp"`
	State               string `json:"state"`
	ContentType         string `json:"contentType"`
	APIVersion          string `json:"apiVersion"`
	ContentURL          string `json:"contentUrl,omitempty"`
	Retries             *int   `json:"retries,omitempty"`
	TotalProcessingTime *int64 `json:"totalProcessingTime,omitempty"`
}

type jobView int

const (
	viewCreated jobView = iota // create: with contentUrl
	viewPatched                // close/abort: no contentUrl, retries, totalProcessingTime
	viewFull                   // get/list: everything
)

func (j *job) render(v jobView) jobJSON {
	out := jobJSON{
		Object: j.Object, ID: j.ID, Operation: j.Operation, SourceName: j.SourceName,
		CreatedByID: j.CreatedByID, CreatedDate: timestampMicros(j.CreatedDate),
		SystemModstamp: timestampMicros(j.SystemModstamp), State: j.State,
		ContentType: "CSV", APIVersion: "v1",
	}
	if v != viewPatched {
		out.ContentURL = "/api/v1/ingest/jobs/" + j.ID + "/batches"
	}
	if v == viewFull {
		retries, total := 0, j.TotalProcessingTime
		out.Retries, out.TotalProcessingTime = &retries, &total
	}
	return out
}

func (s *Server) handleCreateJob(w http.ResponseWriter, r *http.Request, t *token) {
	var spec struct{ Object, SourceName, Operation string }
	if !s.readJSON(w, r, 64<<10, &spec) {
		return
	}
	switch {
	case spec.Object == "" || spec.SourceName == "":
		s.springError(w, http.StatusBadRequest, `"object" and "sourceName" are required`)
		return
	case !identRE.MatchString(spec.Object):
		s.springErrorf(w, http.StatusBadRequest, "invalid object name %q", spec.Object)
		return
	case spec.Operation != "upsert" && spec.Operation != "delete":
		s.springErrorf(w, http.StatusBadRequest, `invalid operation %q: must be "upsert" or "delete"`, spec.Operation)
		return
	}
	s.mu.Lock()
	now := s.nowLocked()
	j := &job{Job: Job{
		ID: s.uuid(), Object: spec.Object, SourceName: spec.SourceName, Operation: spec.Operation,
		State: StateOpen, CreatedByID: t.userID, CreatedDate: now, SystemModstamp: now,
	}}
	s.jobs[j.ID] = j
	s.jobSeq = append(s.jobSeq, j.ID)
	body := j.render(viewCreated)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, body)
}

// lookupJob finds a job or answers 404; it returns with s.mu held on success.
func (s *Server) lookupJob(w http.ResponseWriter, r *http.Request) *job {
	s.mu.Lock()
	s.advanceJobsLocked()
	j, ok := s.jobs[r.PathValue("id")]
	if !ok {
		s.mu.Unlock()
		s.springErrorf(w, http.StatusNotFound, "job %s not found", r.PathValue("id"))
		return nil
	}
	return j
}

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, _ *token) {
	opts := s.Options()
	limit := opts.MaxUploadBytes
	var data []byte
	var size int64
	var err error
	if opts.DiscardIngestedData {
		size, err = io.Copy(io.Discard, io.LimitReader(r.Body, limit+1))
	} else {
		data, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		size = int64(len(data))
	}
	if err != nil {
		s.springErrorf(w, http.StatusBadRequest, "reading body: %v", err)
		return
	}
	j := s.lookupJob(w, r)
	if j == nil {
		return
	}
	state, uploads, maxUploads := j.State, j.Uploads, s.opts.MaxUploadsPerJob
	if state == StateOpen && size > 0 && size <= limit && uploads < maxUploads {
		if data != nil {
			j.data = append(j.data, data)
		}
		j.Uploads++
		j.UploadedBytes += size
		j.SystemModstamp = s.nowLocked()
	}
	s.mu.Unlock()
	switch {
	case state != StateOpen:
		s.springErrorf(w, http.StatusConflict, "job is in state %s: uploads are accepted only while Open", state)
	case size == 0:
		s.springError(w, http.StatusBadRequest, "empty upload: the body must hold CSV data")
	case size > limit:
		s.springErrorf(w, http.StatusBadRequest, "upload too large: at most %d bytes per upload", limit)
	case uploads >= maxUploads:
		s.springErrorf(w, http.StatusBadRequest, "too many uploads: a job holds at most %d files", maxUploads)
	default:
		writeJSON(w, http.StatusAccepted, map[string]bool{"accepted": true})
	}
}

func (s *Server) handlePatchJob(w http.ResponseWriter, r *http.Request, _ *token) {
	var req struct{ State string }
	if !s.readJSON(w, r, 64<<10, &req) {
		return
	}
	if req.State != StateUploadComplete && req.State != StateAborted {
		s.springErrorf(w, http.StatusBadRequest, `invalid state %q: must be "UploadComplete" or "Aborted"`, req.State)
		return
	}
	j := s.lookupJob(w, r)
	if j == nil {
		return
	}
	from := j.State
	allowed := from == StateOpen || (req.State == StateAborted && from == StateUploadComplete)
	if !allowed {
		s.mu.Unlock()
		s.springErrorf(w, http.StatusConflict, "cannot change job state from %s to %s", from, req.State)
		return
	}
	now := s.nowLocked()
	j.State, j.SystemModstamp = req.State, now
	if req.State == StateAborted {
		j.data = nil
	} else {
		j.closedAt = now
	}
	body := j.render(viewPatched)
	if req.State == StateUploadComplete && s.opts.JobProcessingDelay == 0 {
		s.advanceJobsLocked()
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request, _ *token) {
	j := s.lookupJob(w, r)
	if j == nil {
		return
	}
	body := j.render(viewFull)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleDeleteJob(w http.ResponseWriter, r *http.Request, _ *token) {
	j := s.lookupJob(w, r)
	if j == nil {
		return
	}
	state := j.State
	if state == StateOpen || state == StateInProgress {
		s.mu.Unlock()
		s.springErrorf(w, http.StatusConflict, "cannot delete a job in state %s", state)
		return
	}
	delete(s.jobs, j.ID)
	s.jobSeq = slices.DeleteFunc(s.jobSeq, func(id string) bool { return id == j.ID })
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListJobs(w http.ResponseWriter, r *http.Request, _ *token) {
	q := r.URL.Query()
	limit, offset, ok := s.pageParams(w, q, 20, 100)
	if !ok {
		return
	}
	var states []string
	for _, v := range append(q["states"], q["state"]...) {
		for _, st := range strings.Split(v, ",") {
			if st = strings.TrimSpace(st); st == "" {
				continue
			}
			if !slices.Contains(allStates, st) {
				s.springErrorf(w, http.StatusBadRequest, "invalid state %q", st)
				return
			}
			states = append(states, st)
		}
	}
	less, err := jobOrder(cmp.Or(q.Get("orderBy"), q.Get("orderby")))
	if err != nil {
		s.springError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	s.advanceJobsLocked()
	var list []*job
	for _, id := range s.jobSeq {
		if j := s.jobs[id]; len(states) == 0 || slices.Contains(states, j.State) {
			list = append(list, j)
		}
	}
	slices.SortStableFunc(list, less)
	page := []jobJSON{}
	for i := offset; i < len(list) && len(page) < limit; i++ {
		page = append(page, list[i].render(viewFull))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": page})
}

// Jobs returns every job in creation order.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceJobsLocked()
	out := make([]Job, 0, len(s.jobSeq))
	for _, id := range s.jobSeq {
		out = append(out, s.jobs[id].Job)
	}
	return out
}

// Job returns one job by id.
func (s *Server) Job(id string) (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceJobsLocked()
	j, ok := s.jobs[id]
	if !ok {
		return Job{}, false
	}
	return j.Job, true
}

// JobData returns the CSV files uploaded to a job, in upload order (nil once aborted).
func (s *Server) JobData(id string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		return slices.Clone(j.data)
	}
	return nil
}
