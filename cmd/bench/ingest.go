package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// ingestTimeout is the s3ingest function timeout in the bench (Lambda's maximum).
const ingestTimeout = 15 * time.Minute

// ingestCase is one file to ingest.
type ingestCase struct {
	Format format
	Size   int64 // uncompressed bytes
}

func (c ingestCase) name() string {
	return fmt.Sprintf("%s-%s", c.Format.Name, strings.ReplaceAll(formatSize(c.Size), " ", ""))
}

// IngestRow is one line of the ingest table.
type IngestRow struct {
	Case      string
	Format    string
	Size      int64 // bytes of the landed object (compressed for .gz)
	Raw       int64 // uncompressed bytes
	Records   int64
	ColdWall  time.Duration // the first invoke in a fresh execution environment, INIT excluded
	Wall      time.Duration // the second invoke in the same environment (another copy of the file)
	PeakRSS   int64         // VmHWM of the bootstrap
	Requests  int           // Data Cloud requests the function made
	Uploads   int           // of which bulk uploads or streaming bodies
	BodyFill  float64       // streaming: mean body bytes / limit
	PartBytes int           // bulk: INGEST_BULK_PART_BYTES
	Base      Baseline
	// Unpaced is the streaming baseline once more without the request rate limit, for
	// comparison; zero for bulk.
	Unpaced Baseline
}

// MBps is the function's throughput in uncompressed MB (10^6 bytes) per second.
func (r IngestRow) MBps() float64 { return mbps(r.Raw, r.Wall) }

// Ratio is the function's throughput over the baseline's (the same bytes both ways).
func (r IngestRow) Ratio() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Base.Wall) / float64(r.Wall)
}

func mbps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / 1e6 / d.Seconds()
}

// ingestCases lists the cases of a run.
func ingestCases(cfg Config) []ingestCase {
	var out []ingestCase
	if cfg.Formats != nil {
		for _, size := range cfg.Sizes {
			for _, f := range cfg.Formats {
				out = append(out, ingestCase{Format: formatsByName[f], Size: size})
			}
		}
		return out
	}
	smallest := cfg.Sizes[0]
	for _, s := range cfg.Sizes {
		smallest = min(smallest, s)
	}
	for _, size := range cfg.Sizes {
		out = append(out, ingestCase{Format: formatsByName["csv"], Size: size})
	}
	for _, f := range []string{"csv.gz", "jsonl"} {
		out = append(out, ingestCase{Format: formatsByName[f], Size: smallest})
	}
	return out
}

// ingestOptions configures the emulator of the ingest section: it counts what it receives
// and keeps none of it, so a 1 GiB file does not fill the bench process, and it answers 429
// to streaming requests over Data Cloud's 250 a second, which any measured request fails.
func ingestOptions() datacloudtest.Options {
	return datacloudtest.Options{DiscardIngestedData: true, StreamingRequestsPerSecond: datacloud.MaxStreamingRequestsPerSecond}
}

// runIngest measures every case: the function, then the baseline on the same object.
func runIngest(ctx context.Context, w *world, progress func(string, ...any)) ([]IngestRow, error) {
	var rows []IngestRow
	for i, c := range ingestCases(w.cfg) {
		progress("ingest %s: generating", c.name())
		g, err := generate(w.dir, c.Format, c.Size, 0, uint64(i+1))
		if err != nil {
			return rows, err
		}
		key := fmt.Sprintf("ingest/%s/%s/bench/%s%s", benchSource, benchObject, c.name(), c.Format.Ext)
		warmKey := fmt.Sprintf("ingest/%s/%s/bench/%s-warm%s", benchSource, benchObject, c.name(), c.Format.Ext)
		etag, err := w.putFile(ctx, key, g.Path)
		var warmEtag string
		if err == nil {
			warmEtag, err = w.putFile(ctx, warmKey, g.Path)
		}
		os.Remove(g.Path)
		if err != nil {
			w.deleteObject(ctx, key)
			return rows, err
		}
		row := IngestRow{Case: c.name(), Format: c.Format.Name, Size: g.Size, Raw: g.Raw, Records: g.Records}
		if !c.Format.JSON {
			row.PartBytes = w.cfg.PartBytes
		}
		progress("ingest %s: s3ingest (%s landed, %d records)", c.name(), formatSize(g.Size), g.Records)
		err = measureFunction(ctx, w, &row, landed{key, etag}, landed{warmKey, warmEtag})
		w.deleteObject(ctx, warmKey)
		if err != nil {
			w.deleteObject(ctx, key)
			return rows, fmt.Errorf("ingest %s: %w", c.name(), err)
		}
		progress("ingest %s: baseline", c.name())
		w.dc.SetStreamingRequestsPerSecond(datacloud.MaxStreamingRequestsPerSecond) // a fresh window: the function's requests do not count
		if row.Base, err = runBaseline(ctx, w, c.Format, key, row.PartBytes, datacloud.DefaultStreamingRequestsPerSecond); err != nil {
			w.deleteObject(ctx, key)
			return rows, fmt.Errorf("ingest %s: baseline: %w", c.name(), err)
		}
		if c.Format.JSON {
			progress("ingest %s: baseline without the rate limit", c.name())
			w.dc.SetStreamingRequestsPerSecond(0)
			row.Unpaced, err = runBaseline(ctx, w, c.Format, key, 0, 0)
			w.dc.SetStreamingRequestsPerSecond(datacloud.MaxStreamingRequestsPerSecond)
			if err != nil {
				w.deleteObject(ctx, key)
				return rows, fmt.Errorf("ingest %s: unpaced baseline: %w", c.name(), err)
			}
		}
		if row.Base.Raw != row.Raw {
			return rows, fmt.Errorf("ingest %s: the baseline read %d bytes, the file holds %d", c.name(), row.Base.Raw, row.Raw)
		}
		w.deleteObject(ctx, key)
		rows = append(rows, row)
	}
	return rows, nil
}

// landed is an object of the bench bucket.
type landed struct{ key, etag string }

// measureFunction runs s3ingest twice in one fresh execution environment: on the file (the
// cold figure: the container's first invocation, which also pays for its first TLS
// handshake, token read and fresh memory), then on a copy of it under another key (the warm
// figure, like for like with the baseline, whose process is warm too). VmHWM is read after
// the first invocation, so it is this file's alone. Both invocations must send every record.
func measureFunction(ctx context.Context, w *world, row *IngestRow, file, warmCopy landed) error {
	var extra []string
	if row.PartBytes > 0 {
		extra = append(extra, "INGEST_BULK_PART_BYTES="+strconv.Itoa(row.PartBytes))
	}
	rt, err := w.startFunction(ctx, w.cfg.Packages.S3Ingest, "s3ingest", ingestTimeout, extra...)
	if err != nil {
		return err
	}
	defer rt.Close()
	if row.ColdWall, err = invokeIngest(ctx, w, rt, row, file); err != nil {
		return err
	}
	if row.PeakRSS, err = rt.PeakRSS(); err != nil {
		return err
	}
	row.Wall, err = invokeIngest(ctx, w, rt, row, warmCopy)
	return err
}

// invokeIngest invokes s3ingest on one object, checks its outcome and the requests it made,
// fills in the row's request counts and returns the invoke's duration, INIT excluded.
func invokeIngest(ctx context.Context, w *world, rt *lambdarun.Runtime, row *IngestRow, obj landed) (time.Duration, error) {
	from := len(w.dc.Requests())
	res, err := rt.Invoke(ctx, s3Event(obj.key, obj.etag, row.Size))
	if err != nil {
		return 0, err
	}
	if ferr := res.Err(); ferr != nil {
		return 0, fmt.Errorf("%w\n%s", ferr, tail(res.Logs, 20))
	}
	wall := res.Duration - res.InitDuration
	tags, err := w.tags(ctx, obj.key)
	if err != nil {
		return 0, err
	}
	if tags["datacloud-status"] != "ingested" || tags["datacloud-records"] != strconv.FormatInt(row.Records, 10) {
		return 0, fmt.Errorf("%s: outcome tags %v, want datacloud-status=ingested and datacloud-records=%d\n%s", obj.key, tags, row.Records, tail(res.Logs, 20))
	}
	reqs := w.dc.Requests()[from:]
	row.Requests, row.Uploads = len(reqs), 0
	var sent int64
	for _, r := range reqs {
		if r.Status >= 300 {
			return 0, fmt.Errorf("Data Cloud answered %d to %s %s", r.Status, r.Method, r.Path)
		}
		if isUpload(r) {
			row.Uploads++
			sent += r.BodyBytes
		}
	}
	if row.Uploads > 0 && row.PartBytes == 0 {
		limit := w.dc.Options().MaxStreamingBytes
		row.BodyFill = float64(sent) / float64(row.Uploads) / float64(limit)
	}
	if sent < row.Raw {
		return 0, fmt.Errorf("%s: the function sent %d bytes of data, the file holds %d", obj.key, sent, row.Raw)
	}
	return wall, nil
}

// isUpload reports whether a request carried file data: a bulk upload or a streaming body.
func isUpload(r datacloudtest.RequestLog) bool {
	return (r.Method == "PUT" && strings.HasSuffix(r.Path, "/batches")) ||
		(r.Method == "POST" && strings.HasPrefix(r.Path, "/api/v1/ingest/sources/") && !strings.HasSuffix(r.Path, "/actions/test"))
}

// tail returns the last n lines of logs.
func tail(logs string, n int) string {
	lines := strings.Split(strings.TrimRight(logs, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
