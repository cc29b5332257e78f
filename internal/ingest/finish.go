package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
)

// claim takes the item's claim. It returns false when the item is finished already (skipped
// or failed).
func (in *Ingester) claim(work, cleanup context.Context, it *item, owner string, ttl time.Duration) bool {
	it.start = in.now()
	if err := work.Err(); err != nil {
		// Never started: no claim, no tags; the next delivery starts it afresh.
		in.fail(cleanup, it, fmt.Errorf("datacloud: ingest: %w", errDeadline))
		return false
	}
	if it.obj.ETag == "" {
		head, err := in.s3.HeadObject(work, &s3.HeadObjectInput{Bucket: aws.String(it.obj.Bucket), Key: aws.String(it.obj.Key), VersionId: optional(it.obj.VersionID)})
		if err != nil {
			in.fail(cleanup, it, fmt.Errorf("datacloud: ingest: head object: %w", deadlineErr(work, err)))
			return false
		}
		it.obj.ETag = aws.ToString(head.ETag)
	}
	cl, skip, err := in.claims.Acquire(work, it.obj, owner, ttl)
	switch {
	case err != nil:
		in.fail(cleanup, it, deadlineErr(work, err))
		return false
	case skip != nil:
		in.skip(cleanup, it, fmt.Sprintf("%s (claim owner %s, state %s)", skip.Reason, skip.Marker.Owner, skip.Marker.State))
		return false
	}
	it.claim = cl
	return true
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// skip finishes an item that needs no work.
func (in *Ingester) skip(ctx context.Context, it *item, reason string) {
	it.res.Status, it.res.Reason, it.done = StatusSkipped, reason, true
	if it.claim != nil {
		// The version is gone: nothing will ever be ingested for it.
		if err := it.claim.Done(ctx); err != nil {
			in.log.WarnContext(ctx, "release claim", in.attrs(it, slog.String("error", err.Error()))...)
		}
	}
	in.log.InfoContext(ctx, "object skipped", in.attrs(it, slog.String("reason", reason))...)
}

// succeed finishes an ingested item: tags, then the claim, then the log line.
func (in *Ingester) succeed(ctx context.Context, it *item) {
	it.res.Status, it.res.Err = StatusIngested, nil
	in.record(ctx, it)
}

// fail finishes a failed item. Objects that were never claimed are not tagged: another
// invocation may own them.
func (in *Ingester) fail(ctx context.Context, it *item, err error) {
	it.res.Status, it.res.Err = StatusFailed, err
	in.record(ctx, it)
}

func (in *Ingester) record(ctx context.Context, it *item) {
	if it.done {
		return
	}
	it.done = true
	it.res.Duration = in.now().Sub(it.start)
	if it.claim != nil || it.tagUnclaimed {
		dropped, err := in.tagger.Record(ctx, it.obj, it.outcome())
		if err != nil {
			in.log.ErrorContext(ctx, "record outcome tags", in.attrs(it, slog.String("error", err.Error()))...)
		}
		if dropped > 0 {
			in.metrics.Count(MetricTagsDropped, 1)
			in.log.WarnContext(ctx, "object tags leave no room for the outcome", in.attrs(it, slog.Int("dropped_tags", dropped))...)
		}
	}
	if it.claim != nil {
		var err error
		if it.res.Failed() {
			err = it.claim.Fail(ctx, tagReason(it.res.Err))
		} else {
			err = it.claim.Done(ctx)
		}
		if err != nil {
			in.log.WarnContext(ctx, "release claim", in.attrs(it, slog.String("error", err.Error()))...)
		}
	}
	if it.res.Failed() {
		in.metrics.Count(obs.FailedObjects, 1)
		in.log.ErrorContext(ctx, "object failed", in.attrs(it, slog.String("error", it.res.Err.Error()), slog.Bool("bad_input", badInput(it.res.Err)))...)
		return
	}
	in.metrics.Count(obs.RecordsSent, it.res.Records)
	in.log.InfoContext(ctx, "object ingested", in.attrs(it)...)
}

// attrs are the stable log keys of an item.
func (in *Ingester) attrs(it *item, extra ...any) []any {
	r := it.res
	a := []any{
		slog.String("bucket", r.Ref.Bucket), slog.String("key", r.Ref.Key),
		slog.String("source", r.Route.Source), slog.String("object", r.Route.Object),
		slog.String("operation", r.Route.Operation),
		slog.String("job_id", strings.Join(r.JobIDs, " ")),
		slog.Int64("bytes", r.Bytes), slog.Int64("records", r.Records),
		slog.Int64("duration_ms", r.Duration.Milliseconds()),
	}
	if r.Streaming {
		a[5] = slog.String("job_id", "streaming")
	}
	if r.Ref.MessageID != "" {
		a = append(a, slog.String("message_id", r.Ref.MessageID))
	}
	return append(a, extra...)
}
