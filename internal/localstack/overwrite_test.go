package localstack

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// An object overwritten through the SDK (which sends CRC32 checksums by default) must read
// back with the new content and a checksum that matches it: re-landing a file under the same
// key is an everyday event.
func TestOverwrittenObjectReadsBackWithMatchingChecksum(t *testing.T) {
	ctx := context.Background()
	st, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := sdkClient(t, st)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("landing")}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"first version", "the second, longer version", "the second, longer versioX"} {
		put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("landing"), Key: aws.String("k"), Body: bytes.NewReader([]byte(body))})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("landing"), Key: aws.String("k"), ChecksumMode: "ENABLED", IfMatch: put.ETag})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			t.Fatalf("read after put %q: %v", body, err)
		}
		if string(got) != body {
			t.Fatalf("got %q, want %q", got, body)
		}
	}
}
