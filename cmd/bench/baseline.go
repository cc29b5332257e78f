package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// Baseline is the raw transfer of the same bytes: read from the same S3, sent to the same
// emulator endpoint with net/http and io.Copy, with no parsing and no splitting at records.
type Baseline struct {
	Wall     time.Duration
	Raw      int64 // uncompressed bytes moved
	Requests int
}

// MBps is the baseline's throughput in uncompressed MB per second.
func (b Baseline) MBps() float64 { return mbps(b.Raw, b.Wall) }

// runBaseline moves the object's bytes the plainest way the API allows. Bulk (CSV): one job,
// the (decompressed) stream cut into uploads of partBytes with io.LimitReader, each sent by
// the HTTP client's own io.Copy. Streaming (JSON Lines): the lines packed into {"data":[...]}
// bodies smaller than the limit, as every streaming client must, and POSTed one after another,
// starting at most perSecond of them a second (0: as fast as they go).
func runBaseline(ctx context.Context, w *world, f format, key string, partBytes int, perSecond float64) (Baseline, error) {
	c, err := w.client()
	if err != nil {
		return Baseline{}, err
	}
	from := len(w.dc.Requests())
	start := time.Now()
	resp, err := getObject(ctx, w, key)
	if err != nil {
		return Baseline{}, err
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if f.Gzip {
		gz, err := gzip.NewReader(resp.Body)
		if err != nil {
			return Baseline{}, err
		}
		defer gz.Close()
		r = gz
	}
	counted := &countingReader{r: r}
	if f.JSON {
		err = baselineStreaming(ctx, w, counted, perSecond)
	} else {
		err = baselineBulk(ctx, w, c, counted, partBytes)
	}
	if err != nil {
		return Baseline{}, err
	}
	b := Baseline{Wall: time.Since(start), Raw: counted.n}
	for _, r := range w.dc.Requests()[from:] {
		if r.Status >= 300 {
			return b, fmt.Errorf("Data Cloud answered %d to %s %s", r.Status, r.Method, r.Path)
		}
		b.Requests++
	}
	return b, nil
}

func getObject(ctx context.Context, w *world, key string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.objectURL(key), nil)
	if err != nil {
		return nil, err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("get s3://%s/%s: %s", benchBucket, key, resp.Status)
	}
	return resp, nil
}

// baselineBulk creates a job, uploads the stream in parts of partBytes and closes the job.
func baselineBulk(ctx context.Context, w *world, c *datacloud.Client, r io.Reader, partBytes int) error {
	job, err := c.CreateJob(ctx, datacloud.JobSpec{Object: benchObject, SourceName: benchSource, Operation: "upsert"})
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		if _, err := br.Peek(1); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		err := w.send(ctx, http.MethodPut, "/api/v1/ingest/jobs/"+job.ID+"/batches", "text/csv", io.LimitReader(br, int64(partBytes)))
		if err != nil {
			return err
		}
	}
	_, err = c.CloseJob(ctx, job.ID)
	return err
}

// baselineStreaming packs lines into bodies below the emulator's limit and POSTs them. When
// perSecond > 0 their starts are planned 1/perSecond apart, as pkg/datacloud's pacer plans
// them: from the previous planned start, or from now when a slow request made that pass (no
// catching up in a burst, which would break the limit).
func baselineStreaming(ctx context.Context, w *world, r io.Reader, perSecond float64) error {
	limit := w.dc.Options().MaxStreamingBytes
	var next time.Time
	pace := func() {
		if perSecond > 0 {
			at := time.Now()
			if next.After(at) {
				at = next
				time.Sleep(time.Until(at))
			}
			next = at.Add(time.Duration(float64(time.Second) / perSecond))
		}
	}
	path := "/api/v1/ingest/sources/" + benchSource + "/" + benchObject
	br := bufio.NewReaderSize(r, 64<<10)
	body := make([]byte, 0, limit)
	const open, closing = `{"data":[`, `]}`
	body = append(body, open...)
	flush := func() error {
		if len(body) == len(open) {
			return nil
		}
		body = append(body, closing...)
		pace()
		err := w.send(ctx, http.MethodPost, path, "application/json", bytes.NewReader(body))
		body = append(body[:0], open...)
		return err
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return errors.New("a JSON line is longer than 64 KiB")
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			extra := len(line) + len(closing)
			if len(body) > len(open) {
				extra++ // the comma
			}
			if len(body)+extra >= limit {
				if ferr := flush(); ferr != nil {
					return ferr
				}
			}
			if len(body) > len(open) {
				body = append(body, ',')
			}
			body = append(body, line...)
		}
		if errors.Is(err, io.EOF) {
			return flush()
		}
		if err != nil {
			return err
		}
	}
}

// send makes one tenant API call with the bench token; the body is copied by net/http.
func (w *world) send(ctx context.Context, method, path, contentType string, body io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, method, w.token.InstanceURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+w.token.AccessToken)
	req.Header.Set("Content-Type", contentType)
	resp, err := w.dcHC.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
