package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func s3Notification(records ...string) string {
	return `{"Records":[` + strings.Join(records, ",") + `]}`
}

func s3Rec(name, bucket, key, etag string) string { return s3RecV(name, bucket, key, etag, "v1") }

func s3RecV(name, bucket, key, etag, version string) string {
	return fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-01-01T00:00:00.000Z",
"eventName":%q,"s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},
"object":{"key":%q,"size":12,"eTag":%q,"versionId":%q,"sequencer":"00"}}}`, name, bucket, bucket, key, etag, version)
}

func sqsRec(id, body string) string {
	b, _ := json.Marshal(body)
	return fmt.Sprintf(`{"messageId":%q,"receiptHandle":"rh","body":%s,"attributes":{},"messageAttributes":{},
"md5OfBody":"x","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:1:q","awsRegion":"us-east-1"}`, id, b)
}

const testEventBody = `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-01T00:00:00.000Z","Bucket":"b","RequestId":"r","HostId":"h"}`

func ebEvent(detailType, key string) string {
	return fmt.Sprintf(`{"version":"0","id":"e","detail-type":%q,"source":"aws.s3","account":"1","time":"2026-01-01T00:00:00Z",
"region":"us-east-1","resources":["arn:aws:s3:::b"],"detail":{"version":"0","bucket":{"name":"b"},
"object":{"key":%q,"size":5,"etag":"e1","version-id":"v9","sequencer":"1"},"request-id":"r","requester":"1","reason":"PutObject"}}`, detailType, key)
}

func TestDecodeEvent(t *testing.T) {
	tests := []struct {
		name     string
		event    string
		kind     EventKind
		objects  []ObjectRef
		messages []string // id + ":ok" | ":err" | ":test"
		skipped  int
		wantErr  string
	}{
		{name: "s3 several records, url-encoded keys",
			event: s3Notification(s3Rec("ObjectCreated:Put", "b", "ingest/s/o/a+b%C3%A9.csv", "e1"), s3Rec("ObjectCreated:CompleteMultipartUpload", "b", "ingest/s/o/x%2By.json", "e2")),
			kind:  KindS3,
			objects: []ObjectRef{{Bucket: "b", Key: "ingest/s/o/a bé.csv", ETag: "e1", VersionID: "v1", Size: 12},
				{Bucket: "b", Key: "ingest/s/o/x+y.json", ETag: "e2", VersionID: "v1", Size: 12}}},
		{name: "s3 removal skipped", event: s3Notification(s3Rec("ObjectRemoved:Delete", "b", "ingest/s/o/a.csv", "")), kind: KindS3, skipped: 1},
		{name: "s3 test event", event: testEventBody, kind: KindTest},
		{name: "eventbridge object created, form-encoded key",
			event: ebEvent("Object Created", "ingest/s/o/a+b%2Bc%C3%A9.csv"), kind: KindEventBridge,
			objects: []ObjectRef{{Bucket: "b", Key: "ingest/s/o/a b+cé.csv", RawKey: "ingest/s/o/a+b%2Bc%C3%A9.csv", ETag: "e1", VersionID: "v9", Size: 5}}},
		{name: "eventbridge key that is not a valid encoding is kept",
			event: ebEvent("Object Created", "ingest/s/o/100%.csv"), kind: KindEventBridge,
			objects: []ObjectRef{{Bucket: "b", Key: "ingest/s/o/100%.csv", ETag: "e1", VersionID: "v9", Size: 5}}},
		{name: "eventbridge other detail type", event: ebEvent("Object Deleted", "k"), kind: KindEventBridge, skipped: 1},
		{name: "sqs batch",
			event: s3Notification(
				sqsRec("m1", s3Notification(s3Rec("ObjectCreated:Put", "b", "ingest/s/o/1.csv", "e1"), s3Rec("ObjectCreated:Put", "b", "ingest/s/o/2.csv", "e2"))),
				sqsRec("m2", testEventBody),
				sqsRec("m3", "not json"),
				sqsRec("m4", ebEvent("Object Created", "ingest/s/o/3.csv"))),
			kind: KindSQS,
			objects: []ObjectRef{
				{Bucket: "b", Key: "ingest/s/o/1.csv", ETag: "e1", VersionID: "v1", Size: 12, MessageID: "m1"},
				{Bucket: "b", Key: "ingest/s/o/2.csv", ETag: "e2", VersionID: "v1", Size: 12, MessageID: "m1"},
				{Bucket: "b", Key: "ingest/s/o/3.csv", ETag: "e1", VersionID: "v9", Size: 5, MessageID: "m4"}},
			messages: []string{"m1:ok", "m2:test", "m3:err", "m4:ok"}},
		{name: "not json", event: `[1,2]`, wantErr: "not a JSON object"},
		{name: "unknown shape", event: `{"hello":"world"}`, wantErr: "unknown event shape"},
		{name: "empty records", event: `{"Records":[]}`, wantErr: "no records"},
		{name: "other event source", event: `{"Records":[{"eventSource":"aws:kinesis"}]}`, wantErr: `unsupported record eventSource "aws:kinesis"`},
		{name: "other eventbridge source", event: `{"source":"aws.ec2","detail-type":"x","detail":{}}`, wantErr: "unsupported EventBridge event"},
		{name: "bad url encoding", event: s3Notification(s3Rec("ObjectCreated:Put", "b", "ingest/%zz.csv", "e")), wantErr: "not URL-encoded correctly"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := DecodeEvent(json.RawMessage(tc.event))
			if tc.wantErr != "" {
				var ee *EventError
				if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want EventError with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != tc.kind || len(ev.Skipped) != tc.skipped {
				t.Fatalf("kind %v skipped %v", ev.Kind, ev.Skipped)
			}
			if fmt.Sprint(ev.Objects) != fmt.Sprint(tc.objects) {
				t.Errorf("objects\n got %+v\nwant %+v", ev.Objects, tc.objects)
			}
			var msgs []string
			for _, m := range ev.Messages {
				state := "ok"
				if m.Err != nil {
					state = "err"
				} else if m.Test {
					state = "test"
				}
				msgs = append(msgs, m.ID+":"+state)
			}
			if fmt.Sprint(msgs) != fmt.Sprint(tc.messages) {
				t.Errorf("messages %v want %v", msgs, tc.messages)
			}
		})
	}
}
