package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/internal/s3object"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// Defaults of Config (contract §1 for the first three).
const (
	DefaultPrefix                = "ingest/"
	DefaultBulkPartBytes         = 150_000_000
	DefaultStreamingPayloadBytes = datacloud.DefaultStreamingPayloadBytes
	DefaultMaxRestarts           = 2
	DefaultChunkBytes            = 1 << 20
	DefaultStreamingInFlight     = 4
	DefaultProgressBytes         = 64 << 20
	DefaultMinMargin             = 10 * time.Second
	DefaultMarginFraction        = 0.05
	DefaultClaimSlack            = 2 * time.Minute
	// DefaultTimeout stands in for the Lambda deadline when the context has none (tests,
	// local tools): the longest a Lambda invocation can run.
	DefaultTimeout = 15 * time.Minute
)

// MetricTagsDropped counts outcomes that did not fit in the object's tags.
const MetricTagsDropped = "OutcomeTagsDropped"

// Config is the pipeline's configuration. Zero fields take the defaults.
type Config struct {
	Prefix                string // INGEST_PREFIX
	BulkPartBytes         int    // INGEST_BULK_PART_BYTES
	StreamingPayloadBytes int    // INGEST_STREAMING_PAYLOAD_BYTES
	StreamingInFlight     int    // INGEST_STREAMING_IN_FLIGHT: bodies of one file posted at once
	ClaimPrefix           string // where claim markers live (outside Prefix)
	MaxUploadsPerJob      int    // uploads per bulk job (Data Cloud: 100)
	MaxRestarts           int    // new jobs after an upload whose outcome is unknown
	// ChunkBytes is how much of a CSV file is read and checked at a time while an upload is
	// sent (bulk.go): an upload is streamed chunk by chunk instead of being held whole.
	ChunkBytes     int
	ProgressBytes  int64 // a progress line every this many bytes read
	MinMargin      time.Duration
	MarginFraction float64 // the work stops max(MinMargin, fraction × time left) before the deadline
	ClaimSlack     time.Duration
}

func (c *Config) fill() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.BulkPartBytes, DefaultBulkPartBytes)
	def(&c.StreamingPayloadBytes, DefaultStreamingPayloadBytes)
	def(&c.StreamingInFlight, DefaultStreamingInFlight)
	def(&c.MaxUploadsPerJob, datacloud.DefaultMaxUploadsPerJob)
	def(&c.ChunkBytes, DefaultChunkBytes)
	c.ChunkBytes = min(c.ChunkBytes, c.BulkPartBytes)
	if c.MaxRestarts < 0 {
		c.MaxRestarts = 0
	} else if c.MaxRestarts == 0 {
		c.MaxRestarts = DefaultMaxRestarts
	}
	if c.ClaimPrefix == "" {
		c.ClaimPrefix = s3object.DefaultClaimPrefix
	}
	if c.ProgressBytes <= 0 {
		c.ProgressBytes = DefaultProgressBytes
	}
	if c.MinMargin <= 0 {
		c.MinMargin = DefaultMinMargin
	}
	if c.MarginFraction <= 0 {
		c.MarginFraction = DefaultMarginFraction
	}
	if c.ClaimSlack <= 0 {
		c.ClaimSlack = DefaultClaimSlack
	}
}

// S3API is every S3 call the pipeline makes.
type S3API interface {
	s3object.ClaimAPI
	s3object.TaggingAPI
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Ingester runs the pipeline. Build it once per process; Run is called per invocation.
type Ingester struct {
	cfg     Config
	router  Router
	s3      S3API
	dc      *datacloud.Client
	reader  *s3object.Reader
	tagger  *s3object.Tagger
	claims  *s3object.Claims
	log     *slog.Logger
	metrics *obs.Metrics
	now     func() time.Time
}

// Option configures an Ingester.
type Option func(*Ingester)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(in *Ingester) { in.log = l } }

// WithMetrics sets the metrics the pipeline counts into.
func WithMetrics(m *obs.Metrics) Option { return func(in *Ingester) { in.metrics = m } }

// WithClock sets the clock of claim expiry (tests).
func WithClock(now func() time.Time) Option { return func(in *Ingester) { in.now = now } }

// WithReader replaces the S3 reader (tests inject broken bodies through its API).
func WithReader(r *s3object.Reader) Option { return func(in *Ingester) { in.reader = r } }

// New returns an Ingester.
func New(cfg Config, s3api S3API, dc *datacloud.Client, opts ...Option) (*Ingester, error) {
	if s3api == nil || dc == nil {
		return nil, errors.New("datacloud: ingest: S3 and Data Cloud clients are required")
	}
	cfg.fill()
	in := &Ingester{cfg: cfg, s3: s3api, dc: dc, log: slog.New(slog.DiscardHandler), metrics: obs.NewMetrics("s3ingest"), now: time.Now}
	for _, o := range opts {
		o(in)
	}
	if in.reader == nil {
		in.reader = s3object.NewReader(s3api, s3object.WithReaderLogger(in.log))
	}
	in.tagger = s3object.NewTagger(s3api)
	in.claims = s3object.NewClaims(s3api, cfg.ClaimPrefix, in.now)
	in.router = Router{Prefix: cfg.Prefix, Reserved: []string{cfg.ClaimPrefix}}
	return in, nil
}

// Metrics returns the counters the pipeline counts into.
func (in *Ingester) Metrics() *obs.Metrics { return in.metrics }

// Router returns the key router.
func (in *Ingester) Router() Router { return in.router }

// deadlines derives the working context, which ends a safety margin before the Lambda
// deadline so that open jobs can still be aborted and outcomes recorded, and the cleanup
// context, which survives the working one's end and lasts until the real deadline.
func (in *Ingester) deadlines(ctx context.Context) (work, cleanup context.Context, claimTTL time.Duration, cancel func()) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	left := time.Until(deadline)
	margin := max(in.cfg.MinMargin, time.Duration(float64(left)*in.cfg.MarginFraction))
	margin = min(margin, left/2)
	work, cancelWork := context.WithDeadline(ctx, deadline.Add(-margin))
	cleanup, cancelCleanup := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	return work, cleanup, left + in.cfg.ClaimSlack, func() { cancelWork(); cancelCleanup() }
}

// owner names this invocation in claim markers.
func owner(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "local-" + hex.EncodeToString(b[:])
}

// errDeadline marks work stopped by the working context's end.
var errDeadline = errors.New("deadline: stopped before the Lambda timeout")

// deadlineErr turns a failure caused by the working context's end into errDeadline.
func deadlineErr(work context.Context, err error) error {
	if err != nil && work.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return fmt.Errorf("datacloud: ingest: %w", errDeadline)
	}
	return err
}
