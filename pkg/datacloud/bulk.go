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
	"time"
)

// Bulk limits (datacloud-api.md §4).
const (
	MaxUploadBytes          = 150_000_000 // per PUT
	DefaultMaxUploadsPerJob = 100
)

// Job states.
const (
	JobOpen           = "Open"
	JobUploadComplete = "UploadComplete"
	JobInProgress     = "InProgress"
	JobComplete       = "JobComplete"
	JobFailed         = "Failed"
	JobAborted        = "Aborted"
)

const jobsPath = "/api/v1/ingest/jobs"

// Job is a bulk ingestion job as Data Cloud describes it.
type Job struct {
	ID                  string `json:"id"`
	Object              string `json:"object"`
	SourceName          string `json:"sourceName"`
	Operation           string `json:"operation"`
	State               string `json:"state"`
	ContentType         string `json:"contentType,omitempty"`
	APIVersion          string `json:"apiVersion,omitempty"`
	ContentURL          string `json:"contentUrl,omitempty"`
	CreatedByID         string `json:"createdById,omitempty"`
	CreatedDate         string `json:"createdDate,omitempty"`
	SystemModstamp      string `json:"systemModstamp,omitempty"`
	Retries             int    `json:"retries,omitempty"`
	TotalProcessingTime int    `json:"totalProcessingTime,omitempty"`
}

// JobSpec says what a job loads.
type JobSpec struct {
	Object     string `json:"object"`
	SourceName string `json:"sourceName"`
	Operation  string `json:"operation"` // "upsert" | "delete"
}

// CreateJob opens a bulk job. It is retried only when Data Cloud certainly did not act on the
// request; otherwise the error wraps ErrOutcomeUnknown.
func (c *Client) CreateJob(ctx context.Context, spec JobSpec) (*Job, error) {
	const op = "create job"
	switch {
	case strings.TrimSpace(spec.Object) == "":
		return nil, errors.New("datacloud: create job: object is empty")
	case strings.TrimSpace(spec.SourceName) == "":
		return nil, errors.New("datacloud: create job: source name is empty")
	case spec.Operation != "upsert" && spec.Operation != "delete":
		return nil, fmt.Errorf("datacloud: create job: operation %q is not upsert or delete", spec.Operation)
	}
	body, _ := json.Marshal(spec)
	return c.jobCall(ctx, call{op: op, method: http.MethodPost, path: jobsPath, body: body,
		contentType: "application/json", mode: retryUnsent})
}

// UploadJobData uploads one CSV part (at most MaxUploadBytes) to an open job. It is retried
// only when Data Cloud certainly did not act on it; otherwise the error wraps
// ErrOutcomeUnknown and the job should be aborted.
func (c *Client) UploadJobData(ctx context.Context, jobID string, csv []byte) error {
	const op = "upload job data"
	id, err := pathSeg(op, "job id", jobID)
	if err != nil {
		return err
	}
	if len(csv) == 0 {
		return errors.New("datacloud: upload job data: the CSV part is empty")
	}
	if len(csv) > MaxUploadBytes {
		return fmt.Errorf("datacloud: upload job data: %d bytes exceed the %d-byte limit per upload", len(csv), MaxUploadBytes)
	}
	_, _, err = c.do(ctx, call{op: op, method: http.MethodPut, path: jobsPath + "/" + id + "/batches",
		body: csv, contentType: "text/csv", mode: retryUnsent})
	return err
}

// UploadJobDataFrom uploads one CSV part that is read while it is sent, so that the part need
// not be held in memory. open is called for every attempt and must return a reader of the same
// bytes each time, as http.Request.GetBody does; net/http closes each reader, possibly after the
// call returned. Retries are those of UploadJobData. A reader's own error ends the attempt as a
// broken connection does (Data Cloud never gets a complete request, but the error wraps
// ErrOutcomeUnknown): the caller, which knows its reader failed, should report that failure
// instead. The part must not exceed MaxUploadBytes; the reader is not checked.
//
// maxBytes is the most the part can hold (the splitter's part size), or 0 if unknown. A part
// that cannot exceed 8 MiB, or of unknown bound that ends within 8 MiB, is read whole first and
// sent with its Content-Length; a larger one goes out as it is read, with no length (chunked
// transfer encoding over HTTP/1.1), which Data Cloud does not document either way.
func (c *Client) UploadJobDataFrom(ctx context.Context, jobID string, open func() (io.ReadCloser, error), maxBytes int64) error {
	const op = "upload job data"
	id, err := pathSeg(op, "job id", jobID)
	if err != nil {
		return err
	}
	if open == nil {
		return errors.New("datacloud: upload job data: the part's reader is nil")
	}
	_, _, err = c.do(ctx, call{op: op, method: http.MethodPut, path: jobsPath + "/" + id + "/batches",
		open: open, openMax: maxBytes, contentType: "text/csv", mode: retryUnsent})
	return err
}

// CloseJob marks the job UploadComplete so Data Cloud processes it.
func (c *Client) CloseJob(ctx context.Context, jobID string) (*Job, error) {
	return c.setJobState(ctx, "close job", jobID, JobUploadComplete)
}

// AbortJob marks the job Aborted; its uploaded data is discarded.
func (c *Client) AbortJob(ctx context.Context, jobID string) (*Job, error) {
	return c.setJobState(ctx, "abort job", jobID, JobAborted)
}

// setJobState PATCHes the state. A retried PATCH whose first try did land gets a 409; the
// job is then read back, and reaching the wanted state counts as success.
func (c *Client) setJobState(ctx context.Context, op, jobID, state string) (*Job, error) {
	id, err := pathSeg(op, "job id", jobID)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"state": state})
	job, err := c.jobCall(ctx, call{op: op, method: http.MethodPatch, path: jobsPath + "/" + id,
		body: body, contentType: "application/json"})
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusConflict {
		if cur, gerr := c.GetJob(ctx, jobID); gerr == nil && reached(cur.State, state) {
			return cur, nil
		}
	}
	return job, err
}

// reached reports whether a job in state cur has already been moved to want.
func reached(cur, want string) bool {
	if want == JobAborted {
		return cur == JobAborted
	}
	return cur == JobUploadComplete || cur == JobInProgress || cur == JobComplete || cur == JobFailed
}

// GetJob reads a job.
func (c *Client) GetJob(ctx context.Context, jobID string) (*Job, error) {
	id, err := pathSeg("get job", "job id", jobID)
	if err != nil {
		return nil, err
	}
	return c.jobCall(ctx, call{op: "get job", method: http.MethodGet, path: jobsPath + "/" + id})
}

// DeleteJob deletes a finished job (UploadComplete, JobComplete, Aborted or Failed).
func (c *Client) DeleteJob(ctx context.Context, jobID string) error {
	id, err := pathSeg("delete job", "job id", jobID)
	if err != nil {
		return err
	}
	_, _, err = c.do(ctx, call{op: "delete job", method: http.MethodDelete, path: jobsPath + "/" + id})
	return err
}

// ListJobsOptions filters ListJobs. Zero values leave Data Cloud's defaults (limit 20).
type ListJobsOptions struct {
	Limit, Offset int
	OrderBy       string
	States        []string
}

// ListJobs lists jobs.
func (c *Client) ListJobs(ctx context.Context, o ListJobsOptions) ([]Job, error) {
	const op = "list jobs"
	q := pageQuery(o.Limit, o.Offset, "orderBy", o.OrderBy)
	if len(o.States) > 0 {
		q.Set("states", strings.Join(o.States, ","))
	}
	body, _, err := c.do(ctx, call{op: op, method: http.MethodGet, path: jobsPath, query: q})
	if err != nil {
		return nil, err
	}
	var r struct {
		Data []Job `json:"data"`
	}
	if err := decodeJSON(op, body, &r); err != nil {
		return nil, err
	}
	return r.Data, nil
}

// WaitJob polls the job, with growing intervals, until it is JobComplete, Failed or Aborted,
// or ctx ends (then the last job read is returned with the error).
func (c *Client) WaitJob(ctx context.Context, jobID string) (*Job, error) {
	wait := c.pollMin
	var last *Job
	for {
		job, err := c.GetJob(ctx, jobID)
		if err != nil {
			// The deadline often ends a poll in flight: the caller still gets the last state seen.
			return last, err
		}
		last = job
		switch job.State {
		case JobComplete, JobFailed, JobAborted:
			return job, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return job, fmt.Errorf("datacloud: wait job: job %s still %s: %w", job.ID, job.State, ctx.Err())
		case <-t.C:
		}
		if wait *= 2; wait > c.pollMax {
			wait = c.pollMax
		}
	}
}

func (c *Client) jobCall(ctx context.Context, cl call) (*Job, error) {
	body, _, err := c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	var j Job
	if err := decodeJSON(cl.op, body, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// abortTimeout bounds the detached abort calls of BulkLoader.Abort.
const abortTimeout = 30 * time.Second

// BulkLoader is one logical load (source, object, operation) spread over many uploads: it
// creates a job lazily on the first upload and rolls over to a new job after
// maxUploadsPerJob uploads (Data Cloud allows 100 files per job). It is safe for concurrent
// use; uploads are serialised (Data Cloud takes one upload at a time per job).
type BulkLoader struct {
	c    *Client
	spec JobSpec
	max  int

	mu   sync.Mutex
	jobs []*loaderJob
}

type loaderJob struct {
	id      string
	uploads int
	state   string // JobOpen, JobUploadComplete or JobAborted as far as this loader knows
}

// NewBulkLoader returns a loader; maxUploadsPerJob <= 0 means DefaultMaxUploadsPerJob.
func NewBulkLoader(c *Client, spec JobSpec, maxUploadsPerJob int) *BulkLoader {
	if maxUploadsPerJob <= 0 || maxUploadsPerJob > DefaultMaxUploadsPerJob {
		maxUploadsPerJob = DefaultMaxUploadsPerJob
	}
	return &BulkLoader{c: c, spec: spec, max: maxUploadsPerJob}
}

// Upload sends one CSV part, creating a job first when there is none or the current one is
// full. An error wrapping ErrOutcomeUnknown means the part may be in the job: Abort and
// start over.
func (b *BulkLoader) Upload(ctx context.Context, part []byte) error {
	return b.upload(ctx, func(id string) error { return b.c.UploadJobData(ctx, id, part) })
}

// upload runs send on the current job, creating one first when there is none or it is full.
func (b *BulkLoader) upload(ctx context.Context, send func(jobID string) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var cur *loaderJob
	if n := len(b.jobs); n > 0 && b.jobs[n-1].state == JobOpen && b.jobs[n-1].uploads < b.max {
		cur = b.jobs[n-1]
	} else {
		job, err := b.c.CreateJob(ctx, b.spec)
		if err != nil {
			return err
		}
		cur = &loaderJob{id: job.ID, state: JobOpen}
		b.jobs = append(b.jobs, cur)
	}
	cur.uploads++ // counted even on failure: a failed upload may still have landed
	return send(cur.id)
}

// UploadFrom is Upload for a part streamed by UploadJobDataFrom (maxBytes as there).
func (b *BulkLoader) UploadFrom(ctx context.Context, open func() (io.ReadCloser, error), maxBytes int64) error {
	return b.upload(ctx, func(id string) error { return b.c.UploadJobDataFrom(ctx, id, open, maxBytes) })
}

// JobIDs returns the ids of the jobs created so far, oldest first.
func (b *BulkLoader) JobIDs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]string, len(b.jobs))
	for i, j := range b.jobs {
		ids[i] = j.id
	}
	return ids
}

// Close marks every open job UploadComplete. It tries them all and joins the errors.
func (b *BulkLoader) Close(ctx context.Context) error {
	return b.moveOpenJobs(ctx, JobUploadComplete, b.c.CloseJob)
}

// Abort marks every job still open Aborted, best effort. It runs detached from ctx's
// cancellation (bounded by its own timeout) so that a load stopped by an expiring deadline
// still leaves no job Open.
func (b *BulkLoader) Abort(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	return b.moveOpenJobs(ctx, JobAborted, b.c.AbortJob)
}

// moveOpenJobs applies move to every job still open, records the new state of those that
// moved and joins the errors of the others.
func (b *BulkLoader) moveOpenJobs(ctx context.Context, state string, move func(context.Context, string) (*Job, error)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for _, j := range b.jobs {
		if j.state != JobOpen {
			continue
		}
		if _, err := move(ctx, j.id); err != nil {
			errs = append(errs, err)
			continue
		}
		j.state = state
	}
	return errors.Join(errs...)
}
