package s3object

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestVersionedBucketReadsAndTagsTheAnnouncedVersion(t *testing.T) {
	cli, bucket := newS3(t)
	ctx := context.Background()
	if _, err := cli.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	v1 := putObject(t, cli, bucket, "ingest/s/o/a.csv", []byte("id\n1\n"), "")
	v2 := putObject(t, cli, bucket, "ingest/s/o/a.csv", []byte("id\n2\n"), "")
	if v1.VersionID == "" || v1.VersionID == v2.VersionID {
		t.Fatalf("versions %q %q", v1.VersionID, v2.VersionID)
	}
	s, err := NewReader(cli).Open(ctx, v1, Whole)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	s.Close()
	if err != nil || string(got) != "id\n1\n" {
		t.Fatalf("read %q %v", got, err)
	}
	if _, err := NewTagger(cli).Record(ctx, v1, Outcome{Records: 1, JobIDs: []string{"j"}}); err != nil {
		t.Fatal(err)
	}
	tags := func(o Object) map[string]string {
		out, err := cli.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(o.Key), VersionId: aws.String(o.VersionID)})
		if err != nil {
			t.Fatal(err)
		}
		return tagMap(out.TagSet)
	}
	if tags(v1)[TagStatus] != StatusIngested || len(tags(v2)) != 0 {
		t.Errorf("v1 %v, v2 %v: only the announced version may be tagged", tags(v1), tags(v2))
	}
	claims := NewClaims(cli, "", nil)
	if _, skip, err := claims.Acquire(ctx, v1, "a", time.Minute); err != nil || skip != nil {
		t.Fatal(skip, err)
	}
	if _, skip, err := claims.Acquire(ctx, v2, "b", time.Minute); err != nil || skip != nil {
		t.Fatalf("the newer version is claimed by the older one's marker: %v %v", skip, err)
	}
}
