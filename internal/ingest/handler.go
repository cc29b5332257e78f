package ingest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Handler is the s3ingest Lambda handler: it decodes the event, runs the pipeline and answers
// in the event source's terms.
type Handler struct {
	Ingester *Ingester
	Log      *slog.Logger
	// MetricsOut receives one EMF line per invocation (stdout in Lambda); nil writes none.
	MetricsOut io.Writer
}

// Handle processes one invocation. For SQS it returns an events.SQSEventResponse listing the
// messages whose objects failed (and never an error for object failures); for direct S3 and
// EventBridge events it returns nil, or an *IngestError after every object was attempted.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	start := time.Now()
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if h.MetricsOut != nil {
			if err := h.Ingester.Metrics().Flush(h.MetricsOut); err != nil {
				log.ErrorContext(ctx, "write metrics", slog.String("error", err.Error()))
			}
		}
	}()
	ev, err := DecodeEvent(raw)
	if err != nil {
		log.ErrorContext(ctx, "event rejected", slog.String("error", err.Error()))
		return nil, err
	}
	for _, s := range ev.Skipped {
		log.InfoContext(ctx, "event record ignored: not an object creation", slog.String("record", s))
	}
	if ev.Kind == KindTest {
		log.InfoContext(ctx, "s3:TestEvent acknowledged")
		return nil, nil
	}
	results := h.Ingester.Run(ctx, ev.Objects)
	var failed []Result
	counts := map[Status]int{}
	for _, r := range results {
		counts[r.Status]++
		if r.Failed() {
			failed = append(failed, r)
		}
	}
	log.InfoContext(ctx, "invocation done", slog.String("event", ev.Kind.String()), slog.Int("objects", len(results)),
		slog.Int("ingested", counts[StatusIngested]), slog.Int("failed", counts[StatusFailed]),
		slog.Int("skipped", counts[StatusSkipped]), slog.Int("ignored", counts[StatusIgnored]),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()))
	if ev.Kind == KindSQS {
		return sqsResponse(ctx, log, ev, results), nil
	}
	if len(failed) > 0 {
		return nil, &IngestError{Failed: failed, Total: len(results)}
	}
	return nil, nil
}

// sqsResponse lists exactly the messages that could not be read or whose objects failed.
func sqsResponse(ctx context.Context, log *slog.Logger, ev *Event, results []Result) events.SQSEventResponse {
	failedMsg := map[string]bool{}
	for _, r := range results {
		if r.Failed() {
			failedMsg[r.Ref.MessageID] = true
		}
	}
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, m := range ev.Messages {
		if m.Err != nil {
			log.ErrorContext(ctx, "SQS message rejected", slog.String("message_id", m.ID), slog.String("error", m.Err.Error()))
		}
		if m.Err != nil || failedMsg[m.ID] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.ID})
		}
	}
	return resp
}
