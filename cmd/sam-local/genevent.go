package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Fixed identities for generated events, as `sam local generate-event` uses.
const (
	eventRegion    = "us-east-1"
	eventAccount   = "123456789012"
	eventQueueName = "datacloud-lambda-IngestQueue"
)

// objectInfo describes a landed object for the S3-shaped events.
type objectInfo struct {
	Bucket, Key, ETag, VersionID string
	Size                         int64
	Time                         time.Time
}

// encodeS3Key encodes a key the way S3 notifications carry it: form-encoded ("+" for a space)
// with the "/" separators kept.
func encodeS3Key(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.QueryEscape(s)
	}
	return strings.Join(segs, "/")
}

func sequencer(t time.Time) string {
	return strings.ToUpper(fmt.Sprintf("%016x", t.UnixNano()))
}

// s3Record is the notification record S3 sends for one PutObject.
func s3Record(o objectInfo) events.S3EventRecord {
	return events.S3EventRecord{
		EventVersion:      "2.1",
		EventSource:       "aws:s3",
		AWSRegion:         eventRegion,
		EventTime:         o.Time.UTC(),
		EventName:         "ObjectCreated:Put",
		PrincipalID:       events.S3UserIdentity{PrincipalID: "AWS:AIDAEXAMPLEUSER"},
		RequestParameters: events.S3RequestParameters{SourceIPAddress: "127.0.0.1"},
		ResponseElements: map[string]string{
			"x-amz-request-id": "C3D13FE58DE4C810",
			"x-amz-id-2":       "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
		},
		S3: events.S3Entity{
			SchemaVersion:   "1.0",
			ConfigurationID: "datacloud-ingest",
			Bucket: events.S3Bucket{
				Name:          o.Bucket,
				OwnerIdentity: events.S3UserIdentity{PrincipalID: "A3NL1KOZZKExample"},
				Arn:           "arn:aws:s3:::" + o.Bucket,
			},
			Object: events.S3Object{
				Key:       encodeS3Key(o.Key),
				Size:      o.Size,
				ETag:      o.ETag,
				VersionID: o.VersionID,
				Sequencer: sequencer(o.Time),
			},
		},
	}
}

// s3Event is an S3 event notification with one record per object.
func s3Event(objs ...objectInfo) events.S3Event {
	ev := events.S3Event{}
	for _, o := range objs {
		ev.Records = append(ev.Records, s3Record(o))
	}
	return ev
}

// sqsS3Event wraps each object's S3 notification into one SQS message, as an S3 → SQS
// notification delivers them.
func sqsS3Event(objs ...objectInfo) (events.SQSEvent, error) {
	var ev events.SQSEvent
	for i, o := range objs {
		body, err := compactEvent(s3Event(o))
		if err != nil {
			return ev, err
		}
		sum := md5.Sum(body)
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:     fmt.Sprintf("%08x-0000-4000-8000-%012x", o.Time.Unix(), i+1),
			ReceiptHandle: fmt.Sprintf("AQEBlocal%d", i+1),
			Body:          string(body),
			Md5OfBody:     hex.EncodeToString(sum[:]),
			Attributes: map[string]string{
				"ApproximateReceiveCount":          "1",
				"SentTimestamp":                    fmt.Sprint(o.Time.UnixMilli()),
				"SenderId":                         "AIDAIENQZJOLO23YVJ4VO",
				"ApproximateFirstReceiveTimestamp": fmt.Sprint(o.Time.UnixMilli() + 5),
			},
			MessageAttributes: map[string]events.SQSMessageAttribute{},
			EventSourceARN:    fmt.Sprintf("arn:aws:sqs:%s:%s:%s", eventRegion, eventAccount, eventQueueName),
			EventSource:       "aws:sqs",
			AWSRegion:         eventRegion,
		})
	}
	return ev, nil
}

// eventBridgeS3Event is the "Object Created" event S3 sends to EventBridge.
func eventBridgeS3Event(o objectInfo) (events.EventBridgeEvent, error) {
	object := map[string]any{"key": encodeS3Key(o.Key), "size": o.Size, "etag": o.ETag, "sequencer": sequencer(o.Time)}
	if o.VersionID != "" {
		object["version-id"] = o.VersionID
	}
	detail, err := json.Marshal(map[string]any{
		"version":           "0",
		"bucket":            map[string]string{"name": o.Bucket},
		"object":            object,
		"request-id":        "57H08PA84AB1JZW0",
		"requester":         eventAccount,
		"source-ip-address": "127.0.0.1",
		"reason":            "PutObject",
	})
	return events.EventBridgeEvent{
		Version:    "0",
		ID:         "17793124-05d4-b198-2fde-7ededc63b103",
		DetailType: "Object Created",
		Source:     "aws.s3",
		AccountID:  eventAccount,
		Time:       o.Time.UTC(),
		Region:     eventRegion,
		Resources:  []string{"arn:aws:s3:::" + o.Bucket},
		Detail:     detail,
	}, err
}

// scheduleEvent is what an EventBridge schedule rule sends.
func scheduleEvent(t time.Time) events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version:    "0",
		ID:         "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  eventAccount,
		Time:       t.UTC(),
		Region:     eventRegion,
		Resources:  []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/datacloud-lambda-TokenRefreshSchedule", eventRegion, eventAccount)},
		Detail:     json.RawMessage("{}"),
	}
}

// httpEvent is an API Gateway HTTP API payload 2.0 event for an IAM-authorized caller.
func httpEvent(method, path, rawQuery, body string, headers map[string]string, t time.Time) events.APIGatewayV2HTTPRequest {
	h := map[string]string{
		"accept": "*/*", "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
		"user-agent": "curl/8.5.0", "x-forwarded-proto": "https",
	}
	if body != "" {
		h["content-type"] = "application/json"
		h["content-length"] = fmt.Sprint(len(body))
	}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	var qs map[string]string
	if vals, err := url.ParseQuery(rawQuery); err == nil && len(vals) > 0 {
		qs = map[string]string{}
		for k, v := range vals {
			qs[k] = strings.Join(v, ",")
		}
	}
	method = strings.ToUpper(method)
	route := method + " " + path
	return events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              route,
		RawPath:               path,
		RawQueryString:        rawQuery,
		Headers:               h,
		QueryStringParameters: qs,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     route,
			AccountID:    eventAccount,
			Stage:        "$default",
			RequestID:    fmt.Sprintf("%x=", t.UnixNano()),
			APIID:        "abcdef1234",
			DomainName:   "abcdef1234.execute-api.us-east-1.amazonaws.com",
			DomainPrefix: "abcdef1234",
			Time:         t.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    t.UnixMilli(),
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
					AccessKey: "AKIAIOSFODNN7EXAMPLE", AccountID: eventAccount, CallerID: "AIDAEXAMPLEUSER",
					UserARN: "arn:aws:iam::" + eventAccount + ":user/analyst", UserID: "AIDAEXAMPLEUSER",
				},
			},
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "127.0.0.1", UserAgent: h["user-agent"],
			},
		},
		Body: body,
	}
}

// marshalEvent renders an event as indented JSON, without the fields aws-lambda-go adds for
// its own convenience (urlDecodedKey) or serializes empty (authentication) that AWS does not send.
func marshalEvent(v any) ([]byte, error) {
	raw, err := compactEvent(v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// compactEvent is marshalEvent on one line, as S3 writes notification bodies into SQS.
func compactEvent(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	raw = bytes.ReplaceAll(raw, []byte(`"urlDecodedKey":"",`), nil)
	raw = bytes.ReplaceAll(raw, []byte(`"versionId":"",`), nil)
	raw = bytes.ReplaceAll(raw, []byte(`,"authentication":{"clientCert":{"clientCertPem":"","issuerDN":"","serialNumber":"","subjectDN":"","validity":{"notAfter":"","notBefore":""}}}`), nil)
	return raw, nil
}

// cmdGenerateEvent implements `sam-local generate-event <kind> [flags]`.
func cmdGenerateEvent(args []string, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("generate-event: want a kind: s3, sqs, eventbridge, schedule or http")
	}
	kind := args[0]
	fs := flag.NewFlagSet("generate-event "+kind, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bucket := fs.String("bucket", "datacloud-landing", "bucket name")
	key := fs.String("key", "ingest/crm_api/Contact/2026/11/28/contacts export.csv", "object key (not encoded; the event encodes it)")
	etag := fs.String("etag", "0123456789abcdef0123456789abcdef", "object ETag")
	size := fs.Int64("size", 1024, "object size in bytes")
	version := fs.String("version-id", "", "object version id (empty: an unversioned object, no versionId)")
	method := fs.String("method", "POST", "HTTP method")
	path := fs.String("path", "/query", "HTTP path")
	query := fs.String("query", "", "raw query string")
	body := fs.String("body", `{"sql": "SELECT Id__c, FirstName__c FROM Contact__dll LIMIT 10"}`, "HTTP body")
	at := fs.String("time", "2026-11-28T12:00:00Z", "event time (RFC 3339)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("generate-event %s: %w", kind, err)
	}
	t, err := time.Parse(time.RFC3339, *at)
	if err != nil {
		return fmt.Errorf("generate-event: --time: %w", err)
	}
	obj := objectInfo{Bucket: *bucket, Key: *key, ETag: *etag, Size: *size, VersionID: *version, Time: t}
	var ev any
	switch kind {
	case "s3":
		ev = s3Event(obj)
	case "sqs":
		ev, err = sqsS3Event(obj)
	case "eventbridge":
		ev, err = eventBridgeS3Event(obj)
	case "schedule":
		ev = scheduleEvent(t)
	case "http":
		b := *body
		if strings.EqualFold(*method, "GET") && !flagSet(fs, "body") {
			b = ""
		}
		ev = httpEvent(*method, *path, *query, b, nil, t)
	default:
		return fmt.Errorf("generate-event: unknown kind %q (want s3, sqs, eventbridge, schedule or http)", kind)
	}
	if err != nil {
		return fmt.Errorf("generate-event %s: %w", kind, err)
	}
	out, err := marshalEvent(ev)
	if err != nil {
		return fmt.Errorf("generate-event %s: %w", kind, err)
	}
	_, err = stdout.Write(out)
	return err
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
