package ingest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/s3object"
)

// Status is an object's outcome in one invocation.
type Status string

// Statuses.
const (
	StatusIngested Status = "ingested" // sent to Data Cloud (or nothing to send), tagged
	StatusFailed   Status = "failed"   // failed; tagged when it was attempted
	StatusSkipped  Status = "skipped"  // already ingested, claimed elsewhere, or replaced since the event
	StatusIgnored  Status = "ignored"  // not ours: outside the prefix, a claim marker, a folder
)

// Result is the outcome for one announced object.
type Result struct {
	Ref       ObjectRef
	Route     Route
	Status    Status
	Reason    string // why skipped or ignored
	Err       error  // why failed
	JobIDs    []string
	Streaming bool
	Records   int64
	Bytes     int64 // bytes read from S3
	Duration  time.Duration
}

// Failed reports whether the object failed.
func (r Result) Failed() bool { return r.Status == StatusFailed }

// IngestError fails a direct S3 or EventBridge invocation after every object was attempted,
// so that Lambda's retries and the dead-letter destination apply.
type IngestError struct {
	Failed []Result
	Total  int
}

// Error lists the failed objects and why.
func (e *IngestError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "datacloud: ingest: %d of %d objects failed:", len(e.Failed), e.Total)
	for i, r := range e.Failed {
		if i == 10 {
			fmt.Fprintf(&b, " and %d more", len(e.Failed)-i)
			break
		}
		fmt.Fprintf(&b, " s3://%s/%s (%v);", r.Ref.Bucket, r.Ref.Key, r.Err)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Unwrap returns the objects' errors.
func (e *IngestError) Unwrap() []error {
	out := make([]error, 0, len(e.Failed))
	for _, r := range e.Failed {
		out = append(out, r.Err)
	}
	return out
}

// item is an object on its way through the pipeline.
type item struct {
	res *Result
	obj s3object.Object
	// rawKey is the event's undecoded EventBridge key, tried when obj.Key does not exist.
	rawKey string
	claim  *s3object.Claim
	start  time.Time
	done   bool
	// tagUnclaimed records the outcome without a claim: for keys that fail routing, which
	// no invocation can ever ingest.
	tagUnclaimed bool
	// wideChunks: a CSV record is larger than Config.ChunkBytes, so the file is split into
	// chunks of a whole part (bulkstream.go).
	wideChunks bool
}

func (it *item) outcome() s3object.Outcome {
	o := s3object.Outcome{Failed: it.res.Failed(), JobIDs: it.res.JobIDs, Streaming: it.res.Streaming, Records: it.res.Records}
	if it.res.Err != nil {
		o.Error = tagReason(it.res.Err)
	}
	return o
}

// tagReason is the short reason stored in datacloud-error: the error without the
// "datacloud: " prefix every error of the project carries.
func tagReason(err error) string {
	if errors.Is(err, errDeadline) {
		return "deadline"
	}
	return strings.TrimPrefix(err.Error(), "datacloud: ")
}
