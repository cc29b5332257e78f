package s3object

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// breakingAPI passes calls to the real S3 client and cuts the first `breaks` bodies after
// `after` bytes, the way a reset connection does.
type breakingAPI struct {
	GetObjectAPI
	after  int64
	breaks atomic.Int32
	ranges []string
}

func (b *breakingAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, opt ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	b.ranges = append(b.ranges, aws.ToString(in.Range))
	out, err := b.GetObjectAPI.GetObject(ctx, in, opt...)
	if err != nil {
		return nil, err
	}
	if b.breaks.Add(-1) >= 0 {
		out.Body = &cutBody{rc: out.Body, left: b.after}
	}
	return out, nil
}

type cutBody struct {
	rc   io.ReadCloser
	left int64
}

var errReset = errors.New("connection reset by peer")

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errReset
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}
func (c *cutBody) Close() error { return c.rc.Close() }

func TestReaderResumesWithRangedGet(t *testing.T) {
	cli, bucket := newS3(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	obj := putObject(t, cli, bucket, "big/file.csv", data, "")

	tests := []struct {
		name      string
		breaks    int32
		rng       ByteRange
		want      []byte
		wantRange []string
	}{
		{name: "whole object, two breaks", breaks: 2, rng: Whole, want: data,
			wantRange: []string{"", "bytes=100000-", "bytes=200000-"}},
		{name: "byte range, one break", breaks: 1, rng: ByteRange{Start: 1000, End: 500000}, want: data[1000:500000],
			wantRange: []string{"bytes=1000-499999", "bytes=101000-499999"}},
		{name: "no break", breaks: 0, rng: Whole, want: data, wantRange: []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &breakingAPI{GetObjectAPI: cli, after: 100000}
			api.breaks.Store(tc.breaks)
			r := NewReader(api, WithResumes(3, time.Millisecond, 5*time.Millisecond))
			s, err := r.Open(context.Background(), obj, tc.rng)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Size() != int64(len(tc.want)) {
				t.Errorf("Size = %d, want %d", s.Size(), len(tc.want))
			}
			got, err := io.ReadAll(s)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, want %d (content differs)", len(got), len(tc.want))
			}
			if s.Resumes() != int(tc.breaks) || s.BytesRead() != int64(len(tc.want)) {
				t.Errorf("resumes %d bytes %d", s.Resumes(), s.BytesRead())
			}
			if strings.Join(api.ranges, ",") != strings.Join(tc.wantRange, ",") {
				t.Errorf("ranges %q, want %q", api.ranges, tc.wantRange)
			}
		})
	}
}

func TestReaderGivesUpAfterMaxResumes(t *testing.T) {
	cli, bucket := newS3(t)
	obj := putObject(t, cli, bucket, "f.csv", bytes.Repeat([]byte("x"), 10000), "")
	api := &breakingAPI{GetObjectAPI: cli, after: 10}
	api.breaks.Store(100)
	s, err := NewReader(api, WithResumes(2, time.Millisecond, time.Millisecond)).Open(context.Background(), obj, Whole)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(s)
	if !errors.Is(err, errReset) || !strings.Contains(err.Error(), "after 2 resumes") {
		t.Fatalf("err = %v", err)
	}
}

func TestReaderStopsWhenObjectChanged(t *testing.T) {
	cli, bucket := newS3(t)
	obj := putObject(t, cli, bucket, "f.csv", bytes.Repeat([]byte("x"), 10000), "")
	api := &breakingAPI{GetObjectAPI: cli, after: 10}
	api.breaks.Store(1)
	s, err := NewReader(api, WithResumes(3, time.Millisecond, time.Millisecond)).Open(context.Background(), obj, Whole)
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, cli, bucket, "f.csv", []byte("new content"), "")
	_, err = io.ReadAll(s)
	if err == nil || !strings.Contains(err.Error(), "object changed while reading") {
		t.Fatalf("err = %v", err)
	}
}

func TestReaderOpenWrongETag(t *testing.T) {
	cli, bucket := newS3(t)
	obj := putObject(t, cli, bucket, "f.csv", []byte("a,b\n"), "")
	obj.ETag = "0123456789abcdef0123456789abcdef"
	_, err := NewReader(cli).Open(context.Background(), obj, Whole)
	if !IsPreconditionFailed(err) {
		t.Fatalf("err = %v, want precondition failed", err)
	}
}
