package ingest

import (
	"context"
	"errors"
	"fmt"
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
	buf           []byte // the first part of a file read before its upload (csvFile.buffered)
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

// csvFile is an opened CSV file. A file that may be small enough to share a job is read up
// to one part into run.buf first: when it ends there, it was validated whole. A file known to
// be larger than a part is streamed into a job of its own from its first byte.
type csvFile struct {
	src      *csvSource
	buffered bool // run.buf holds the file's first part, to be uploaded before src's chunks
	whole    bool // the file ended within run.buf
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
		case !f.buffered && f.src.chunk == nil:
			f.src.close()
			in.succeed(cleanup, it) // a header and no records: nothing to send
			continue
		case !f.whole:
			job := r.newJob(false)
			r.add(job, it, f)
			f.src.close()
			r.close(job)
			continue
		}
		f.src.close()
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

// open opens the item's file. A file that could be a single part (by its size) is read into
// run.buf up to one part: a file that ends there has been validated whole and may share a job.
func (r *csvRun) open(it *item) (*csvFile, error) {
	src, err := r.openSource(it)
	if errors.Is(err, errWiden) {
		src, err = r.openSource(it)
	}
	if err != nil {
		return nil, err
	}
	f := &csvFile{src: src}
	if src.chunk == nil || r.largerThanAPart(src.body, it) {
		return f, nil
	}
	if err := r.fill(it, f); err != nil {
		src.close()
		if errors.Is(err, errWiden) {
			return r.open(it)
		}
		return nil, err
	}
	return f, nil
}

// fill reads chunks into run.buf while they fit in one part.
func (r *csvRun) fill(it *item, f *csvFile) error {
	s := f.src
	if want := int(min(dataSizeHint(s.body, it)+int64(len(s.chunk)), int64(r.in.cfg.BulkPartBytes))); cap(r.buf) < want {
		r.buf = make([]byte, 0, want)
	}
	r.buf = append(r.buf[:0], s.chunk...)
	f.buffered = true
	for {
		if err := s.next(); err != nil {
			return r.widen(it, err)
		}
		if s.chunk == nil {
			f.whole = true
			return nil
		}
		if len(r.buf)+len(s.chunk)-s.hlen > r.in.cfg.BulkPartBytes {
			return nil // more than one part: the rest is streamed
		}
		r.buf = append(r.buf, s.chunk[s.hlen:]...)
	}
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
	case errors.As(err, &ue) && errors.Is(err, datacloud.ErrOutcomeUnknown), errors.Is(err, errWiden):
		return actRestart
	case job.shared || errors.Is(err, errReplaced):
		return actDrop
	}
	return actAbort
}

// pump uploads the file's parts in order: run.buf when the file was buffered, then every part
// streamed from its source.
func (r *csvRun) pump(job *csvJob, it *item, f *csvFile) error {
	if f.buffered {
		job.uploads++
		if err := job.loader.Upload(r.work, r.buf); err != nil {
			return &uploadError{err}
		}
		r.in.metrics.Count(obs.BytesSent, int64(len(r.buf)))
	}
	for f.src.chunk != nil {
		if err := r.uploadStream(job, it, f); err != nil {
			return err
		}
	}
	it.res.Records = f.src.records()
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
	defer func() { f.src.close() }()
	if !f.buffered && f.src.chunk == nil {
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

// largerThanAPart reports whether the file's data will not fit in one part, so that it is
// streamed into a job of its own from its first byte: certainly for a plain file larger than a
// part; for gzip, by dataSizeHint, but only from 64 KiB compressed (smaller inputs compress
// worse, and buffering them costs little). A gzip file that compresses less than 4× and does
// fit in a part then gets a job of its own, which the contract allows.
func (r *csvRun) largerThanAPart(b *body, it *item) bool {
	if it.res.Route.Gzip && b.stream.Size() < 64<<10 {
		return false
	}
	return dataSizeHint(b, it) > int64(r.in.cfg.BulkPartBytes)
}

// dataSizeHint guesses the decompressed size of the file, so that the splitter sizes its part
// buffer once: the object's size, or four times it for gzip (CSV compresses at least that well).
func dataSizeHint(b *body, it *item) int64 {
	if it.res.Route.Gzip {
		return 4 * b.stream.Size()
	}
	return b.stream.Size()
}
