package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// runStreaming sends a claimed .json / .jsonl file through the streaming API: upserts packed
// into bodies as full as the limit allows, deletes in calls of at most 200 ids.
func (in *Ingester) runStreaming(work, cleanup context.Context, it *item) {
	b, err := in.open(work, it)
	if errors.Is(err, errReplaced) {
		in.skip(cleanup, it, err.Error())
		return
	}
	if err != nil {
		in.fail(cleanup, it, deadlineErr(work, err))
		return
	}
	defer b.Close()
	it.res.Streaming = true
	format := datacloud.FormatJSON
	if it.res.Route.Format == FormatJSONLines {
		format = datacloud.FormatJSONLines
	}
	rr := datacloud.NewRecordReader(b, format)
	route := it.res.Route
	if route.Operation == OpDelete {
		err = in.streamDeletes(work, it, rr)
	} else {
		var sent int64
		it.res.Records, err = in.dc.StreamRecordsWith(work, route.Source, route.Object, rr, datacloud.StreamOptions{
			Limit: in.cfg.StreamingPayloadBytes, InFlight: in.cfg.StreamingInFlight,
			Progress: func(records, bytes int64) {
				in.metrics.Count(obs.BytesSent, bytes-sent)
				sent = bytes
			}})
	}
	if err != nil {
		in.fail(cleanup, it, deadlineErr(work, err))
		return
	}
	in.succeed(cleanup, it)
}

// streamDeletes reads ids (JSON strings) and deletes them in calls of MaxDeleteIDs.
func (in *Ingester) streamDeletes(ctx context.Context, it *item, rr *datacloud.RecordReader) error {
	route := it.res.Route
	ids := make([]string, 0, datacloud.MaxDeleteIDs)
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		if err := in.dc.DeleteRecords(ctx, route.Source, route.Object, ids); err != nil {
			return err
		}
		it.res.Records += int64(len(ids))
		ids = ids[:0]
		return nil
	}
	err := datacloud.ReadIDs(rr, func(id string) error {
		if strings.Contains(id, ",") {
			// Data Cloud takes ids as a comma list; such an id cannot be deleted this way.
			return &BadInputError{Key: it.obj.Key, Reason: fmt.Sprintf("record %d: id holds a comma", rr.Records())}
		}
		ids = append(ids, id)
		if len(ids) == datacloud.MaxDeleteIDs {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
