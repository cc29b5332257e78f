package ingest

import (
	"context"
	"log/slog"

	"github.com/dcbridge/datacloud-lambda/internal/s3object"
)

// groupKey identifies the CSV files that may share one bulk job.
type groupKey struct{ source, object, op string }

// Run ingests the announced objects and returns one result per object, in order. Every
// object is attempted; a failure of one does not stop the others.
func (in *Ingester) Run(ctx context.Context, refs []ObjectRef) []Result {
	work, cleanup, ttl, cancel := in.deadlines(ctx)
	defer cancel()
	own := owner(ctx)

	results := make([]Result, len(refs))
	var (
		units  [][]*item // in order of first appearance: one JSON file, or all CSVs of a group
		groups = map[groupKey]int{}
	)
	for i, ref := range refs {
		res := &results[i]
		res.Ref = ref
		it := &item{res: res, obj: s3object.Object{Bucket: ref.Bucket, Key: ref.Key, ETag: ref.ETag, VersionID: ref.VersionID}, rawKey: ref.RawKey}
		route, ignored, err := in.router.Route(ref.Key)
		res.Route = route
		switch {
		case ignored:
			res.Status, res.Reason = StatusIgnored, "key outside "+in.router.Prefix+" or reserved"
			in.log.InfoContext(ctx, "object ignored", slog.String("bucket", ref.Bucket), slog.String("key", ref.Key), slog.String("reason", res.Reason))
			continue
		case err != nil:
			it.tagUnclaimed = true
			it.start = in.now()
			in.fail(cleanup, it, err)
			continue
		}
		if route.Format != FormatCSV {
			units = append(units, []*item{it})
			continue
		}
		k := groupKey{route.Source, route.Object, route.Operation}
		if g, ok := groups[k]; ok {
			units[g] = append(units[g], it)
			continue
		}
		groups[k] = len(units)
		units = append(units, []*item{it})
	}
	for _, u := range units {
		if u[0].res.Route.Format == FormatCSV {
			in.runCSV(work, cleanup, u, own, ttl)
			continue
		}
		it := u[0]
		if !in.claim(work, cleanup, it, own, ttl) {
			continue
		}
		in.runStreaming(work, cleanup, it)
	}
	return results
}
