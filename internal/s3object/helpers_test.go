package s3object

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dcbridge/datacloud-lambda/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopSharedMoto()
	os.Exit(code)
}

// newS3 returns a client for the package's moto_server and a fresh bucket.
func newS3(t *testing.T) (*s3.Client, string) {
	t.Helper()
	moto := testenv.SharedMoto(t)
	cli := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(moto.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
	var b [6]byte
	_, _ = rand.Read(b[:])
	bucket := "test-" + hex.EncodeToString(b[:])
	if _, err := cli.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return cli, bucket
}

func putObject(t *testing.T, cli *s3.Client, bucket, key string, body []byte, tags string) Object {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}
	if tags != "" {
		in.Tagging = aws.String(tags)
	}
	out, err := cli.PutObject(context.Background(), in)
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return Object{Bucket: bucket, Key: key, ETag: aws.ToString(out.ETag), VersionID: aws.ToString(out.VersionId)}
}

func getBody(t *testing.T, cli *s3.Client, obj Object) ([]byte, string) {
	t.Helper()
	out, err := cli.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(obj.Bucket), Key: aws.String(obj.Key)})
	if err != nil {
		t.Fatalf("get %s: %v", obj.Key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, aws.ToString(out.ETag)
}

func getTags(t *testing.T, cli *s3.Client, obj Object) map[string]string {
	t.Helper()
	out, err := cli.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: aws.String(obj.Bucket), Key: aws.String(obj.Key)})
	if err != nil {
		t.Fatalf("get tags %s: %v", obj.Key, err)
	}
	return tagMap(out.TagSet)
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, tg := range tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}
