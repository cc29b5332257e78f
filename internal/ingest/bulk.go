package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// csvRun holds the state of one invocation's CSV files of one (source, object, operation).
type csvRun struct {
	in            *Ingester
	work, cleanup context.Context
	spec          datacloud.JobSpec
	noHeader      bool
	buf           []byte // the part being uploaded; the splitter holds the next one
}

// csvJob is one bulk load and the files whose data went into it. A shared job takes files
// that were validated whole (one part each); a file of several parts gets a job of its own,
// so that a bad record in its last part cannot fail the files of a shared job.
type csvJob struct {
	loader  *datacloud.BulkLoader
	items   []*item
	uploads int
	shared  bool
	dead    bool // aborted; its items are finished
}

// csvFile is an opened CSV file with its first part read.
type csvFile struct {
	body    *body
	sp      *datacloud.CSVSplitter
	first   bool   // a first part exists (in run.buf)
	pending []byte // the second part (valid until the next sp.Next), nil if the file is one part
}

// uploadError marks a failed upload, as opposed to a failure reading the file.
type uploadError struct{ err error }

func (e *uploadError) Error() string { return e.err.Error() }
func (e *uploadError) Unwrap() error { return e.err }

// runCSV sends the CSV files of one group through bulk jobs.
func (in *Ingester) runCSV(work, cleanup context.Context, items []*item, owner string, ttl time.Duration) {
	route := items[0].res.Route
	r := &csvRun{in: in, work: work, cleanup: cleanup, noHeader: route.Operation == OpDelete,
		spec: datacloud.JobSpec{Object: route.Object, SourceName: route.Source, Operation: route.Operation}}
	var shared *csvJob
	for _, it := range items {
		if !in.claim(work, cleanup, it, owner, ttl) {
			continue
		}
		f, err := r.open(it)
		switch {
		case errors.Is(err, errReplaced):
			in.skip(cleanup, it, err.Error())
			continue
		case err != nil:
			in.fail(cleanup, it, deadlineErr(work, err))
			continue
		case !f.first:
			f.body.Close()
			in.succeed(cleanup, it) // a header and no records: nothing to send
			continue
		case f.pending != nil:
			job := r.newJob(false)
			r.add(job, it, f)
			f.body.Close()
			r.close(job)
			continue
		}
		f.body.Close()
		if shared != nil && (shared.dead || shared.uploads >= in.cfg.MaxUploadsPerJob) {
			r.close(shared)
			shared = nil
		}
		if shared == nil {
			shared = r.newJob(true)
		}
		r.add(shared, it, f)
	}
	if shared != nil {
		r.close(shared)
	}
}

func (r *csvRun) newJob(shared bool) *csvJob {
	return &csvJob{loader: datacloud.NewBulkLoader(r.in.dc, r.spec, r.in.cfg.MaxUploadsPerJob), shared: shared}
}

// open opens the item's file and reads up to two parts: a file that ends within its first
// part has then been validated whole.
func (r *csvRun) open(it *item) (*csvFile, error) {
	b, err := r.in.open(r.work, it)
	if err != nil {
		return nil, err
	}
	// A ragged row makes Data Cloud fail the whole job, with every file sharing it: refuse the
	// file as bad input before its part is uploaded.
	opts := []datacloud.SplitOption{datacloud.CheckFieldCounts(), datacloud.SizeHint(dataSizeHint(b, it))}
	if r.noHeader {
		opts = append(opts, datacloud.NoHeader())
	}
	f := &csvFile{body: b}
	fail := func(err error) (*csvFile, error) {
		b.Close()
		return nil, err
	}
	if f.sp, err = datacloud.NewCSVSplitter(b, r.in.cfg.BulkPartBytes, opts...); err != nil {
		return fail(err)
	}
	first, err := f.sp.Next()
	if err == io.EOF {
		return f, nil
	}
	if err != nil {
		return fail(err)
	}
	f.first = true
	r.buf = append(r.buf[:0], first...)
	if f.pending, err = f.sp.Next(); err != nil && err != io.EOF {
		return fail(err)
	}
	return f, nil
}

// add uploads the file into job and handles a failure.
func (r *csvRun) add(job *csvJob, it *item, f *csvFile) {
	job.items = append(job.items, it)
	err := r.pump(job, it, f)
	switch r.classify(job, err) {
	case actRestart:
		r.restart(job, err)
	case actDrop:
		r.drop(job, it, err)
	case actAbort:
		r.abort(job, err)
	}
}

type action int

const (
	actNone    action = iota
	actRestart        // an upload's outcome is unknown: abort and start the job's files over
	actDrop           // this file failed and none of its data is in the job: the job goes on
	actAbort          // the job cannot go on: abort it, its files fail
)

func (r *csvRun) classify(job *csvJob, err error) action {
	var ue *uploadError
	switch {
	case err == nil:
		return actNone
	case r.work.Err() != nil:
		return actAbort
	case errors.As(err, &ue) && errors.Is(err, datacloud.ErrOutcomeUnknown):
		return actRestart
	case job.shared || errors.Is(err, errReplaced):
		return actDrop
	}
	return actAbort
}

// pump uploads the file's parts in order, reading part k+1 from S3 while part k uploads:
// at most two parts are held, the one in r.buf and the one in the splitter.
func (r *csvRun) pump(job *csvJob, it *item, f *csvFile) error {
	done := make(chan error, 1)
	upload := func() {
		job.uploads++
		part := r.buf
		go func() {
			err := job.loader.Upload(r.work, part)
			if err == nil {
				r.in.metrics.Count(obs.BytesSent, int64(len(part)))
			}
			done <- err
		}()
	}
	upload()
	next := f.pending
	for {
		if err := <-done; err != nil {
			return &uploadError{err}
		}
		if next == nil {
			break
		}
		r.buf = append(r.buf[:0], next...)
		upload()
		var err error
		if next, err = f.sp.Next(); err == io.EOF {
			next = nil
		} else if err != nil {
			<-done // the job is aborted anyway: only wait for the upload to end
			return err
		}
	}
	it.res.Records = f.sp.Records()
	return nil
}

// restart aborts job and uploads its files again into a new job, up to MaxRestarts times.
func (r *csvRun) restart(job *csvJob, cause error) {
	for attempt := 1; attempt <= r.in.cfg.MaxRestarts; attempt++ {
		r.in.metrics.Count(obs.Retries, 1)
		r.in.log.WarnContext(r.work, "bulk upload outcome unknown: aborting the job and starting its files over in a new job",
			slog.String("source", r.spec.SourceName), slog.String("object", r.spec.Object),
			slog.String("job_id", strings.Join(job.loader.JobIDs(), " ")), slog.Int("attempt", attempt), slog.String("error", cause.Error()))
		if err := job.loader.Abort(r.cleanup); err != nil {
			r.in.log.ErrorContext(r.work, "abort bulk job", slog.String("job_id", strings.Join(job.loader.JobIDs(), " ")), slog.String("error", err.Error()))
		}
		job.loader, job.uploads = datacloud.NewBulkLoader(r.in.dc, r.spec, r.in.cfg.MaxUploadsPerJob), 0
		files := job.items
		job.items = nil
		cause = nil
		for i, it := range files {
			job.items = append(job.items, it)
			err := r.resend(job, it)
			switch r.classify(job, err) {
			case actRestart:
				job.items = append(job.items, files[i+1:]...)
				cause = err
			case actDrop:
				r.drop(job, it, err)
				continue
			case actAbort:
				job.items = append(job.items, files[i+1:]...)
				r.abort(job, err)
				return
			default:
				continue
			}
			break
		}
		if cause == nil {
			return
		}
	}
	r.abort(job, fmt.Errorf("datacloud: ingest: gave up after %d new jobs: %w", r.in.cfg.MaxRestarts, cause))
}

// resend opens the item's file anew and uploads it into job.
func (r *csvRun) resend(job *csvJob, it *item) error {
	f, err := r.open(it)
	if err != nil {
		return err
	}
	defer f.body.Close()
	if !f.first {
		return nil
	}
	return r.pump(job, it, f)
}

// drop finishes a file whose data is not in the job.
func (r *csvRun) drop(job *csvJob, it *item, err error) {
	job.items = slices.DeleteFunc(job.items, func(x *item) bool { return x == it })
	if errors.Is(err, errReplaced) {
		r.in.skip(r.cleanup, it, err.Error())
		return
	}
	r.in.fail(r.cleanup, it, err)
}

// abort aborts every job of the load (never leaving one Open) and fails its files.
func (r *csvRun) abort(job *csvJob, cause error) {
	cause = deadlineErr(r.work, cause)
	if err := job.loader.Abort(r.cleanup); err != nil {
		r.in.log.ErrorContext(r.cleanup, "abort bulk job", slog.String("job_id", strings.Join(job.loader.JobIDs(), " ")), slog.String("error", err.Error()))
	}
	ids := job.loader.JobIDs()
	for _, it := range job.items {
		it.res.JobIDs = ids
		r.in.fail(r.cleanup, it, cause)
	}
	job.items, job.dead = nil, true
}

// close marks the load's jobs UploadComplete and finishes its files.
func (r *csvRun) close(job *csvJob) {
	if job.dead {
		return
	}
	if len(job.items) == 0 {
		if err := job.loader.Abort(r.cleanup); err != nil { // every file dropped out
			r.in.log.ErrorContext(r.cleanup, "abort bulk job", slog.String("job_id", strings.Join(job.loader.JobIDs(), " ")), slog.String("error", err.Error()))
		}
		return
	}
	if err := job.loader.Close(r.work); err != nil {
		r.abort(job, fmt.Errorf("datacloud: ingest: close job: %w", err))
		return
	}
	ids := job.loader.JobIDs()
	for _, it := range job.items {
		it.res.JobIDs = ids
		r.in.succeed(r.cleanup, it)
	}
	job.items = nil
}

// dataSizeHint guesses the decompressed size of the file, so that the splitter sizes its part
// buffer once: the object's size, or four times it for gzip (CSV compresses at least that well).
func dataSizeHint(b *body, it *item) int64 {
	if it.res.Route.Gzip {
		return 4 * b.stream.Size()
	}
	return b.stream.Size()
}
