package s3object

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TaggingAPI is the pair of S3 calls the Tagger needs.
type TaggingAPI interface {
	GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error)
	PutObjectTagging(ctx context.Context, in *s3.PutObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error)
}

// Tagger records outcomes as object tags. It changes the tag set only; the object's bytes,
// ETag and metadata stay as they are.
type Tagger struct {
	api TaggingAPI
}

// NewTagger returns a Tagger over api.
func NewTagger(api TaggingAPI) *Tagger { return &Tagger{api: api} }

// Record merges the outcome into the tags of obj (its version when VersionID is set).
// dropped counts outcome tags that did not fit under S3's limit; when none fit, nothing is
// written.
func (t *Tagger) Record(ctx context.Context, obj Object, o Outcome) (dropped int, err error) {
	get := &s3.GetObjectTaggingInput{Bucket: aws.String(obj.Bucket), Key: aws.String(obj.Key)}
	if obj.VersionID != "" {
		get.VersionId = aws.String(obj.VersionID)
	}
	cur, err := t.api.GetObjectTagging(ctx, get)
	if err != nil {
		return 0, fmt.Errorf("datacloud: get object tags s3://%s/%s: %w", obj.Bucket, obj.Key, err)
	}
	merged, dropped := MergeTags(cur.TagSet, o)
	if dropped > 0 && len(merged) == countTheirs(cur.TagSet) && !hasOurs(cur.TagSet) {
		return dropped, nil
	}
	put := &s3.PutObjectTaggingInput{
		Bucket:  aws.String(obj.Bucket),
		Key:     aws.String(obj.Key),
		Tagging: &types.Tagging{TagSet: merged},
	}
	if obj.VersionID != "" {
		put.VersionId = aws.String(obj.VersionID)
	}
	if _, err := t.api.PutObjectTagging(ctx, put); err != nil {
		return dropped, fmt.Errorf("datacloud: put object tags s3://%s/%s: %w", obj.Bucket, obj.Key, err)
	}
	return dropped, nil
}

func countTheirs(tags []types.Tag) int {
	n := 0
	for _, t := range tags {
		if !isOurs(aws.ToString(t.Key)) {
			n++
		}
	}
	return n
}

func hasOurs(tags []types.Tag) bool {
	return countTheirs(tags) != len(tags)
}

// Tags returns the current tags of obj (its version when VersionID is set) as a map: what an
// operator, the demo or the benchmark reads back to see an outcome.
func (t *Tagger) Tags(ctx context.Context, obj Object) (map[string]string, error) {
	in := &s3.GetObjectTaggingInput{Bucket: aws.String(obj.Bucket), Key: aws.String(obj.Key)}
	if obj.VersionID != "" {
		in.VersionId = aws.String(obj.VersionID)
	}
	out, err := t.api.GetObjectTagging(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("datacloud: read tags of s3://%s/%s: %w", obj.Bucket, obj.Key, err)
	}
	m := make(map[string]string, len(out.TagSet))
	for _, tg := range out.TagSet {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m, nil
}
