package s3object

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// GetObjectAPI is the one S3 call the Reader needs.
type GetObjectAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Defaults for Reader.
const (
	DefaultMaxResumes   = 5
	DefaultResumeBase   = 200 * time.Millisecond
	DefaultResumeCap    = 5 * time.Second
	rangeToEnd          = -1
	errReadOpNamePrefix = "datacloud: read s3 object"
)

// Reader opens object versions as streams that survive a broken connection: when the body
// fails mid-way, the stream asks S3 for the rest (Range: bytes=N-, If-Match: the same ETag)
// instead of starting over, so a multi-GB file is not read twice because of one reset.
type Reader struct {
	api        GetObjectAPI
	maxResumes int
	base, cap  time.Duration
	log        *slog.Logger
}

// ReaderOption configures a Reader.
type ReaderOption func(*Reader)

// WithResumes sets how many times one stream may resume, and the backoff between attempts
// (full jitter between 0 and min(cap, base·2^n)).
func WithResumes(max int, base, cap time.Duration) ReaderOption {
	return func(r *Reader) { r.maxResumes, r.base, r.cap = max, base, cap }
}

// WithReaderLogger sets the logger resumes are reported on.
func WithReaderLogger(l *slog.Logger) ReaderOption {
	return func(r *Reader) { r.log = l }
}

// NewReader returns a Reader over api.
func NewReader(api GetObjectAPI, opts ...ReaderOption) *Reader {
	r := &Reader{api: api, maxResumes: DefaultMaxResumes, base: DefaultResumeBase, cap: DefaultResumeCap, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(r)
	}
	return r
}

// ByteRange selects bytes [Start, End) of an object; End < 0 means to the end. It lets one
// invocation ingest a slice of a file too large for a single run.
type ByteRange struct {
	Start, End int64
}

// Whole is the ByteRange of a whole object.
var Whole = ByteRange{Start: 0, End: rangeToEnd}

func (b ByteRange) header(from int64) *string {
	if from == 0 && b.End < 0 {
		return nil
	}
	if b.End < 0 {
		return aws.String(fmt.Sprintf("bytes=%d-", from))
	}
	return aws.String(fmt.Sprintf("bytes=%d-%d", from, b.End-1))
}

// Stream is an open object body. It is not safe for concurrent use.
type Stream struct {
	r       *Reader
	ctx     context.Context
	obj     Object
	rng     ByteRange
	body    io.ReadCloser
	size    int64 // bytes the stream will deliver in total
	read    int64
	resumes int
	closed  bool
}

// Open starts reading obj (a specific version when VersionID or ETag is set) over rng. The
// context governs every later Read as well, including resumes. Size is the number of bytes
// the stream will deliver.
func (r *Reader) Open(ctx context.Context, obj Object, rng ByteRange) (*Stream, error) {
	if rng.Start < 0 || (rng.End >= 0 && rng.End < rng.Start) {
		return nil, fmt.Errorf("%s: invalid byte range %d-%d", errReadOpNamePrefix, rng.Start, rng.End)
	}
	s := &Stream{r: r, ctx: ctx, obj: obj, rng: rng}
	if rng.End == rng.Start {
		s.body = io.NopCloser(eofReader{})
		return s, nil
	}
	out, err := r.get(ctx, obj, rng.header(rng.Start))
	if err != nil {
		return nil, fmt.Errorf("%s s3://%s/%s: %w", errReadOpNamePrefix, obj.Bucket, obj.Key, err)
	}
	s.body = out.Body
	s.size = aws.ToInt64(out.ContentLength)
	if s.obj.ETag == "" {
		// Pin later resumes to the version this first response came from.
		s.obj.ETag = aws.ToString(out.ETag)
	}
	return s, nil
}

func (r *Reader) get(ctx context.Context, obj Object, rangeHeader *string) (*s3.GetObjectOutput, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(obj.Bucket), Key: aws.String(obj.Key), Range: rangeHeader}
	if obj.VersionID != "" {
		in.VersionId = aws.String(obj.VersionID)
	}
	if obj.ETag != "" {
		in.IfMatch = aws.String(quotedETag(obj.ETag))
	}
	return r.api.GetObject(ctx, in)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Size is the number of bytes the stream delivers (the object's size, or the range's).
func (s *Stream) Size() int64 { return s.size }

// BytesRead counts the bytes delivered so far.
func (s *Stream) BytesRead() int64 { return s.read }

// Resumes counts the ranged GETs made after a broken body.
func (s *Stream) Resumes() int { return s.resumes }

// ETag is the ETag the stream is pinned to.
func (s *Stream) ETag() string { return bareETag(s.obj.ETag) }

// Read reads the body; a failure other than EOF (or an EOF before Size bytes) resumes from
// the current offset.
func (s *Stream) Read(p []byte) (int, error) {
	if s.closed {
		return 0, fmt.Errorf("%s: read after close", errReadOpNamePrefix)
	}
	for {
		n, err := s.body.Read(p)
		s.read += int64(n)
		if err == nil || (errors.Is(err, io.EOF) && s.read >= s.size) {
			return n, err
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if n > 0 {
			// Hand over what arrived; the next Read resumes.
			s.body.Close()
			s.body = failedBody{err}
			return n, nil
		}
		if rerr := s.resume(err); rerr != nil {
			return 0, rerr
		}
	}
}

type failedBody struct{ err error }

func (f failedBody) Read([]byte) (int, error) { return 0, f.err }
func (failedBody) Close() error               { return nil }

func (s *Stream) resume(cause error) error {
	s.body.Close()
	for {
		if s.resumes >= s.r.maxResumes {
			return fmt.Errorf("%s s3://%s/%s: body broke at byte %d after %d resumes: %w", errReadOpNamePrefix, s.obj.Bucket, s.obj.Key, s.read, s.resumes, cause)
		}
		if err := s.ctx.Err(); err != nil {
			return fmt.Errorf("%s s3://%s/%s: %w", errReadOpNamePrefix, s.obj.Bucket, s.obj.Key, errors.Join(cause, err))
		}
		s.resumes++
		wait := s.r.backoff(s.resumes)
		s.r.log.WarnContext(s.ctx, "s3 body broke, resuming with a ranged get",
			"bucket", s.obj.Bucket, "key", s.obj.Key, "bytes", s.read, "attempt", s.resumes, "error", cause.Error())
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return fmt.Errorf("%s s3://%s/%s: %w", errReadOpNamePrefix, s.obj.Bucket, s.obj.Key, errors.Join(cause, s.ctx.Err()))
		case <-t.C:
		}
		out, err := s.r.get(s.ctx, s.obj, s.rng.header(s.rng.Start+s.read))
		if err != nil {
			if IsPreconditionFailed(err) || IsNotFound(err) {
				return fmt.Errorf("%s s3://%s/%s: object changed while reading: %w", errReadOpNamePrefix, s.obj.Bucket, s.obj.Key, err)
			}
			cause = err
			continue
		}
		s.body = out.Body
		return nil
	}
}

func (r *Reader) backoff(attempt int) time.Duration {
	d := r.base << min(attempt-1, 20)
	if d <= 0 || d > r.cap {
		d = r.cap
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// Close releases the body.
func (s *Stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.body.Close()
}
