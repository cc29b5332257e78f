package ingest

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/internal/s3object"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// errReplaced means the announced version is gone (overwritten or deleted since the event):
// there is nothing to ingest, and the newer version has an event of its own.
var errReplaced = errors.New("object was replaced or deleted since the event")

// body is an object's content as the parsers read it: decompressed, counted, with the first
// byte already known to exist.
type body struct {
	*bufio.Reader
	stream  *s3object.Stream
	gz      *gzip.Reader
	metrics *obs.Metrics
	closed  bool
}

// Close releases the S3 body and counts its resumes as retries.
func (b *body) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.gz != nil {
		b.gz.Close()
	}
	if n := b.stream.Resumes(); n > 0 && b.metrics != nil {
		b.metrics.Count(obs.Retries, int64(n))
	}
	return b.stream.Close()
}

// open streams the item's object version. Bad input (corrupt gzip, no bytes) is a
// *BadInputError; errReplaced when the version no longer exists.
func (in *Ingester) open(ctx context.Context, it *item) (*body, error) {
	s, err := in.reader.Open(ctx, it.obj, s3object.Whole)
	if err != nil && it.rawKey != "" && s3object.IsNotFound(err) {
		// An EventBridge key that was not form-encoded after all: read it as it was sent.
		raw := it.obj
		raw.Key = it.rawKey
		if s2, err2 := in.reader.Open(ctx, raw, s3object.Whole); err2 == nil {
			it.obj, it.rawKey, s, err = raw, "", s2, nil
		}
	}
	if err != nil {
		if s3object.IsPreconditionFailed(err) || s3object.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %w", errReplaced, err)
		}
		return nil, err
	}
	b := &body{stream: s, metrics: in.metrics}
	var r io.Reader = &progressReader{r: s, it: it, in: in, ctx: ctx, every: in.cfg.ProgressBytes, next: in.cfg.ProgressBytes}
	if it.res.Route.Gzip {
		src := &trackingReader{r: r}
		gz, err := gzip.NewReader(src)
		if err != nil {
			s.Close()
			if src.err != nil && !errors.Is(src.err, io.EOF) {
				return nil, src.err
			}
			if errors.Is(err, io.EOF) {
				return nil, &BadInputError{Key: it.obj.Key, Reason: "empty file"}
			}
			return nil, &BadInputError{Key: it.obj.Key, Reason: "corrupt gzip: " + err.Error()}
		}
		b.gz = gz
		r = &gunzipReader{gz: gz, src: src, key: it.obj.Key}
	}
	b.Reader = bufio.NewReaderSize(r, 64<<10)
	if _, err := b.Peek(1); err != nil {
		b.Close()
		if errors.Is(err, io.EOF) {
			return nil, &BadInputError{Key: it.obj.Key, Reason: "empty file"}
		}
		return nil, err
	}
	return b, nil
}

// trackingReader remembers the last error of the compressed stream, so that a gzip failure
// can be told apart from an S3 failure passed through the decompressor.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

// gunzipReader reports decompression failures as bad input.
type gunzipReader struct {
	gz  *gzip.Reader
	src *trackingReader
	key string
}

func (g *gunzipReader) Read(p []byte) (int, error) {
	n, err := g.gz.Read(p)
	if err == nil || err == io.EOF {
		return n, err
	}
	if g.src.err != nil && !errors.Is(g.src.err, io.EOF) && errors.Is(err, g.src.err) {
		return n, err // S3 failed, not the gzip data
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return n, &BadInputError{Key: g.key, Reason: "corrupt gzip: truncated"}
	}
	return n, &BadInputError{Key: g.key, Reason: "corrupt gzip: " + err.Error()}
}

// progressReader logs a progress line every so many bytes, so that a long ingest shows it
// is alive.
type progressReader struct {
	r           io.Reader
	it          *item
	in          *Ingester
	ctx         context.Context
	n           int64
	every, next int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.it.res.Bytes = p.n
	if p.n >= p.next {
		for p.next <= p.n {
			p.next += p.every
		}
		p.in.log.LogAttrs(p.ctx, slog.LevelInfo, "ingest progress",
			slog.String("bucket", p.it.obj.Bucket), slog.String("key", p.it.obj.Key),
			slog.Int64("bytes", p.n), slog.Int64("size", p.it.res.Ref.Size))
	}
	return n, err
}

// badInput reports whether err is a problem with the file rather than with a service.
func badInput(err error) bool {
	var bi *BadInputError
	var ce *datacloud.CSVError
	var re *datacloud.RecordError
	var tl *datacloud.RecordTooLargeError
	return errors.As(err, &bi) || errors.As(err, &ce) || errors.As(err, &re) || errors.As(err, &tl)
}
