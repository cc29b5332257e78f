package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// object is a landed file as an event announces it.
type object struct {
	Key  string
	ETag string // without quotes
	Size int64
}

// put lands a file (with optional own tags "k=v&k2=v2") and returns it as events name it.
func (w *world) put(key string, body []byte, tagging string) object {
	w.t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(w.Bucket), Key: aws.String(key), Body: bytes.NewReader(body)}
	if tagging != "" {
		in.Tagging = aws.String(tagging)
	}
	out, err := w.be.S3.PutObject(context.Background(), in)
	if err != nil {
		w.t.Fatalf("put %s: %v", key, err)
	}
	return object{Key: key, ETag: strings.Trim(aws.ToString(out.ETag), `"`), Size: int64(len(body))}
}

// tags reads an object's tags with the SDK.
func (w *world) tags(key string) map[string]string {
	w.t.Helper()
	out, err := w.be.S3.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: aws.String(w.Bucket), Key: aws.String(key)})
	if err != nil {
		w.t.Fatalf("get tags of %s: %v", key, err)
	}
	m := map[string]string{}
	for _, t := range out.TagSet {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// get returns an object's body and ETag.
func (w *world) get(key string) ([]byte, string) {
	w.t.Helper()
	out, err := w.be.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(w.Bucket), Key: aws.String(key)})
	if err != nil {
		w.t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return b, strings.Trim(aws.ToString(out.ETag), `"`)
}

// keys lists the bucket's keys under prefix.
func (w *world) keys(prefix string) []string {
	w.t.Helper()
	out, err := w.be.S3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(w.Bucket), Prefix: aws.String(prefix)})
	if err != nil {
		w.t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// encodeKey encodes a key as S3 notifications do (form encoding: space as +).
func encodeKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// s3Event is an S3 event notification with one record per object.
func (w *world) s3Event(objs ...object) string {
	type rec = map[string]any
	var records []rec
	for i, o := range objs {
		records = append(records, rec{
			"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
			"eventTime": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "eventName": "ObjectCreated:Put",
			"userIdentity":      rec{"principalId": "AWS:E2E"},
			"requestParameters": rec{"sourceIPAddress": "127.0.0.1"},
			"responseElements":  rec{"x-amz-request-id": fmt.Sprintf("E2E%d", i), "x-amz-id-2": "e2e"},
			"s3": rec{
				"s3SchemaVersion": "1.0", "configurationId": "landing",
				"bucket": rec{"name": w.Bucket, "ownerIdentity": rec{"principalId": "E2E"}, "arn": "arn:aws:s3:::" + w.Bucket},
				"object": rec{"key": encodeKey(o.Key), "size": o.Size, "eTag": o.ETag, "sequencer": fmt.Sprintf("%016X", i+1)},
			},
		})
	}
	b, _ := json.Marshal(rec{"Records": records})
	return string(b)
}

// sqsMessage is one message of an SQS batch: an id and a body.
type sqsMessage struct{ ID, Body string }

// sqsEvent is an SQS event as Lambda delivers a batch.
func (w *world) sqsEvent(msgs ...sqsMessage) string {
	var records []map[string]any
	for _, m := range msgs {
		records = append(records, map[string]any{
			"messageId": m.ID, "receiptHandle": "rh-" + m.ID, "body": m.Body,
			"attributes":        map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": "1764331200000"},
			"messageAttributes": map[string]any{}, "md5OfBody": "", "eventSource": "aws:sqs",
			"eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:landing", "awsRegion": "us-east-1",
		})
	}
	b, _ := json.Marshal(map[string]any{"Records": records})
	return string(b)
}

// eventBridgeEvent is an EventBridge "Object Created" event from S3.
func (w *world) eventBridgeEvent(o object) string {
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
		"source": "aws.s3", "account": "123456789012", "time": time.Now().UTC().Format(time.RFC3339),
		"region": "us-east-1", "resources": []string{"arn:aws:s3:::" + w.Bucket},
		"detail": map[string]any{
			"version": "0", "bucket": map[string]string{"name": w.Bucket},
			"object":     map[string]any{"key": o.Key, "size": o.Size, "etag": o.ETag, "sequencer": "00617F08299329D189"},
			"request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "source-ip-address": "127.0.0.1", "reason": "PutObject",
		},
	})
	return string(b)
}

// testEvent is the s3:TestEvent S3 sends when notifications are configured.
func (w *world) testEvent() string {
	return fmt.Sprintf(`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-28T12:00:00.000Z","Bucket":%q,"RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}`, w.Bucket)
}

// gz compresses b.
func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
