package s3object

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ClaimAPI is what the claim marker needs: a conditional PutObject and a GetObject.
type ClaimAPI interface {
	GetObjectAPI
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// DefaultClaimPrefix is where claim markers live. It must stay outside INGEST_PREFIX so that
// the markers' own notifications are ignored.
const DefaultClaimPrefix = ".datacloud-claims/"

// Claim states.
const (
	ClaimInProgress = "in-progress"
	ClaimDone       = "done"
	ClaimFailed     = "failed"
)

// claimAttempts bounds the loop between "marker missing" and "marker present" races.
const claimAttempts = 3

// Marker is the body of a claim marker object.
type Marker struct {
	Bucket    string    `json:"bucket"`
	Key       string    `json:"key"`
	ETag      string    `json:"etag"`
	VersionID string    `json:"version_id,omitempty"`
	State     string    `json:"state"`
	Owner     string    `json:"owner"`
	ExpiresAt time.Time `json:"expires_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Error     string    `json:"error,omitempty"`
}

// Claims hands out claims on object versions through marker objects written with S3
// conditional writes: If-None-Match "*" creates a marker only if none exists, If-Match
// replaces it only if nobody else did in between. Exactly one caller wins either way.
type Claims struct {
	api    ClaimAPI
	prefix string
	now    func() time.Time
}

// NewClaims returns Claims writing markers under prefix ("" means DefaultClaimPrefix); now
// may be nil for time.Now.
func NewClaims(api ClaimAPI, prefix string, now func() time.Time) *Claims {
	if prefix == "" {
		prefix = DefaultClaimPrefix
	}
	if now == nil {
		now = time.Now
	}
	return &Claims{api: api, prefix: prefix, now: now}
}

// Prefix is the key prefix of the markers.
func (c *Claims) Prefix() string { return c.prefix }

// MarkerKey is the marker's key for an object version: a hash, so any key length and any
// characters map to one short, safe key. In a versioned bucket the version id takes part, so
// uploading the same bytes again (same ETag, new version) ingests them again.
func (c *Claims) MarkerKey(obj Object) string {
	id := obj.Bucket + "/" + obj.Key + "/" + bareETag(obj.ETag)
	if obj.VersionID != "" {
		id += "/" + obj.VersionID
	}
	sum := sha256.Sum256([]byte(id))
	return c.prefix + hex.EncodeToString(sum[:]) + ".json"
}

// Claim is a held claim; Done or Fail releases it.
type Claim struct {
	c      *Claims
	obj    Object
	key    string
	etag   string // the marker's ETag after our last write
	marker Marker
}

// Skip says why no claim was granted.
type Skip struct {
	Reason string // "already ingested" | "claimed by another invocation"
	Marker Marker
}

// Acquire claims obj for owner until ttl from now. It returns a Claim, or a Skip when the
// version was already ingested or another invocation holds a live claim.
func (c *Claims) Acquire(ctx context.Context, obj Object, owner string, ttl time.Duration) (*Claim, *Skip, error) {
	if obj.ETag == "" {
		return nil, nil, fmt.Errorf("datacloud: claim s3://%s/%s: no etag", obj.Bucket, obj.Key)
	}
	key := c.MarkerKey(obj)
	now := c.now().UTC()
	want := Marker{Bucket: obj.Bucket, Key: obj.Key, ETag: bareETag(obj.ETag), VersionID: obj.VersionID,
		State: ClaimInProgress, Owner: owner, ExpiresAt: now.Add(ttl), UpdatedAt: now}
	for range claimAttempts {
		etag, err := c.put(ctx, obj.Bucket, key, want, "")
		if err == nil {
			return &Claim{c: c, obj: obj, key: key, etag: etag, marker: want}, nil, nil
		}
		if !IsPreconditionFailed(err) {
			return nil, nil, fmt.Errorf("datacloud: claim s3://%s/%s: %w", obj.Bucket, obj.Key, err)
		}
		cur, curETag, err := c.read(ctx, obj.Bucket, key)
		if IsNotFound(err) {
			continue // removed in between: try to create it again
		}
		if err != nil {
			return nil, nil, fmt.Errorf("datacloud: claim s3://%s/%s: read marker: %w", obj.Bucket, obj.Key, err)
		}
		switch {
		case cur.State == ClaimDone:
			return nil, &Skip{Reason: "already ingested", Marker: cur}, nil
		case cur.State == ClaimInProgress && now.Before(cur.ExpiresAt):
			return nil, &Skip{Reason: "claimed by another invocation", Marker: cur}, nil
		}
		// Failed or expired: take it over, unless someone else does first.
		etag, err = c.put(ctx, obj.Bucket, key, want, curETag)
		if err == nil {
			return &Claim{c: c, obj: obj, key: key, etag: etag, marker: want}, nil, nil
		}
		if IsPreconditionFailed(err) {
			return nil, &Skip{Reason: "claimed by another invocation", Marker: cur}, nil
		}
		return nil, nil, fmt.Errorf("datacloud: claim s3://%s/%s: take over: %w", obj.Bucket, obj.Key, err)
	}
	return nil, nil, fmt.Errorf("datacloud: claim s3://%s/%s: marker kept changing", obj.Bucket, obj.Key)
}

// put writes m at key: create-only when ifMatch is empty, else replace-if-unchanged.
func (c *Claims) put(ctx context.Context, bucket, key string, m Marker, ifMatch string) (string, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/json"),
	}
	if ifMatch == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(quotedETag(ifMatch))
	}
	out, err := c.api.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return bareETag(aws.ToString(out.ETag)), nil
}

func (c *Claims) read(ctx context.Context, bucket, key string) (Marker, string, error) {
	out, err := c.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return Marker{}, "", err
	}
	defer out.Body.Close()
	var m Marker
	data, err := io.ReadAll(io.LimitReader(out.Body, 64<<10))
	if err != nil {
		return Marker{}, "", err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		// An unreadable marker cannot prove a live claim: treat it like a failed one.
		m = Marker{State: ClaimFailed}
	}
	return m, bareETag(aws.ToString(out.ETag)), nil
}

// Marker is the claim's current marker body.
func (cl *Claim) Marker() Marker { return cl.marker }

// Key is the marker's object key.
func (cl *Claim) Key() string { return cl.key }

// Done marks the version ingested: later events for it are skipped.
func (cl *Claim) Done(ctx context.Context) error { return cl.finish(ctx, ClaimDone, "") }

// Fail releases the claim so that a retry can take it over at once.
func (cl *Claim) Fail(ctx context.Context, reason string) error {
	return cl.finish(ctx, ClaimFailed, SanitizeTagValue(reason))
}

// ErrClaimLost means the marker changed under us: our claim had expired and another
// invocation took it over.
var ErrClaimLost = errors.New("claim taken over by another invocation")

func (cl *Claim) finish(ctx context.Context, state, reason string) error {
	m := cl.marker
	m.State, m.Error, m.UpdatedAt = state, reason, cl.c.now().UTC()
	etag, err := cl.c.put(ctx, cl.obj.Bucket, cl.key, m, cl.etag)
	if err != nil {
		if IsPreconditionFailed(err) {
			err = ErrClaimLost
		}
		return fmt.Errorf("datacloud: release claim s3://%s/%s as %s: %w", cl.obj.Bucket, cl.obj.Key, state, err)
	}
	cl.etag, cl.marker = etag, m
	return nil
}
