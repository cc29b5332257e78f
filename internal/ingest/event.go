package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// EventKind is the shape of an invocation's event.
type EventKind int

// Event kinds.
const (
	KindS3          EventKind = iota + 1 // S3 event notification (Records[].s3)
	KindSQS                              // SQS batch whose bodies are S3 notifications
	KindEventBridge                      // EventBridge "Object Created" from S3
	KindTest                             // s3:TestEvent
)

func (k EventKind) String() string {
	switch k {
	case KindS3:
		return "s3"
	case KindSQS:
		return "sqs"
	case KindEventBridge:
		return "eventbridge"
	case KindTest:
		return "test"
	}
	return "unknown"
}

// ObjectRef is one object an event announces.
type ObjectRef struct {
	Bucket string
	Key    string // URL-decoded
	// RawKey is the key exactly as an EventBridge event spelled it, when decoding changed it:
	// should the decoded key not exist, the object is read under this one instead.
	RawKey    string
	ETag      string
	VersionID string
	Size      int64
	MessageID string // the SQS message that carried it ("" otherwise)
}

// Message is one SQS message of a batch: its objects, or why it could not be read.
type Message struct {
	ID      string
	Objects []ObjectRef
	Err     error // the body is not an event we accept; the message fails
	Test    bool  // s3:TestEvent: acknowledged, nothing to do
}

// Event is a decoded invocation event.
type Event struct {
	Kind     EventKind
	Objects  []ObjectRef // in event order (for SQS: every message's objects)
	Messages []Message   // SQS only
	Skipped  []string    // records that announce no new object (e.g. ObjectRemoved), for the log
}

// EventError is an event the function does not accept.
type EventError struct{ Reason string }

// Error implements error.
func (e *EventError) Error() string { return "datacloud: decode event: " + e.Reason }

// probe holds the fields that tell the accepted shapes apart.
type probe struct {
	Records    []json.RawMessage `json:"Records"`
	Event      string            `json:"Event"`
	Source     string            `json:"source"`
	DetailType string            `json:"detail-type"`
	Detail     json.RawMessage   `json:"detail"`
}

type recordProbe struct {
	EventSource string `json:"eventSource"`
}

type s3Record struct {
	EventSource string `json:"eventSource"`
	EventName   string `json:"eventName"`
	S3          struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			ETag      string `json:"eTag"`
			VersionID string `json:"versionId"`
		} `json:"object"`
	} `json:"s3"`
}

type sqsRecord struct {
	MessageID   string `json:"messageId"`
	Body        string `json:"body"`
	EventSource string `json:"eventSource"`
}

type ebDetail struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string `json:"key"`
		Size      int64  `json:"size"`
		ETag      string `json:"etag"`
		VersionID string `json:"version-id"`
	} `json:"object"`
}

// DecodeEvent sniffs the event's shape and returns the objects it announces. An SQS message
// whose body cannot be read fails on its own (Message.Err); every other problem is an
// *EventError.
func DecodeEvent(raw json.RawMessage) (*Event, error) {
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, &EventError{Reason: "event is not a JSON object: " + err.Error()}
	}
	switch {
	case p.Event == "s3:TestEvent":
		return &Event{Kind: KindTest}, nil
	case p.Source == "aws.s3" && p.DetailType != "":
		ev := &Event{Kind: KindEventBridge}
		objs, skipped, err := decodeEventBridge(p)
		if err != nil {
			return nil, err
		}
		ev.Objects, ev.Skipped = objs, skipped
		return ev, nil
	case p.Source != "" || p.DetailType != "":
		return nil, &EventError{Reason: fmt.Sprintf("unsupported EventBridge event (source %q, detail-type %q)", p.Source, p.DetailType)}
	case p.Records == nil:
		return nil, &EventError{Reason: "unknown event shape: want an S3 notification (Records[].s3), an SQS batch or an EventBridge Object Created event"}
	case len(p.Records) == 0:
		return nil, &EventError{Reason: "event has no records"}
	}
	var first recordProbe
	_ = json.Unmarshal(p.Records[0], &first)
	switch first.EventSource {
	case "aws:sqs":
		return decodeSQS(p.Records)
	case "aws:s3":
		ev := &Event{Kind: KindS3}
		objs, skipped, err := decodeS3Records(p.Records)
		if err != nil {
			return nil, err
		}
		ev.Objects, ev.Skipped = objs, skipped
		return ev, nil
	}
	return nil, &EventError{Reason: fmt.Sprintf("unsupported record eventSource %q", first.EventSource)}
}

func decodeS3Records(records []json.RawMessage) (objs []ObjectRef, skipped []string, err error) {
	for i, raw := range records {
		var r s3Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, nil, &EventError{Reason: fmt.Sprintf("record %d: %v", i, err)}
		}
		if r.EventSource != "aws:s3" {
			return nil, nil, &EventError{Reason: fmt.Sprintf("record %d: eventSource %q, want aws:s3", i, r.EventSource)}
		}
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			skipped = append(skipped, fmt.Sprintf("%s s3://%s/%s", r.EventName, r.S3.Bucket.Name, r.S3.Object.Key))
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return nil, nil, &EventError{Reason: fmt.Sprintf("record %d: key %q is not URL-encoded correctly: %v", i, r.S3.Object.Key, err)}
		}
		if r.S3.Bucket.Name == "" || key == "" {
			return nil, nil, &EventError{Reason: fmt.Sprintf("record %d: bucket or key missing", i)}
		}
		objs = append(objs, ObjectRef{Bucket: r.S3.Bucket.Name, Key: key, ETag: r.S3.Object.ETag,
			VersionID: r.S3.Object.VersionID, Size: r.S3.Object.Size})
	}
	return objs, skipped, nil
}

func decodeEventBridge(p probe) (objs []ObjectRef, skipped []string, err error) {
	var d ebDetail
	if err := json.Unmarshal(p.Detail, &d); err != nil {
		return nil, nil, &EventError{Reason: "EventBridge detail: " + err.Error()}
	}
	if p.DetailType != "Object Created" {
		return nil, []string{fmt.Sprintf("%s s3://%s/%s", p.DetailType, d.Bucket.Name, d.Object.Key)}, nil
	}
	if d.Bucket.Name == "" || d.Object.Key == "" {
		return nil, nil, &EventError{Reason: "EventBridge Object Created event without detail.bucket.name or detail.object.key"}
	}
	// EventBridge carries keys form-encoded like S3 notifications ("a b" arrives as "a+b"; AWS
	// Lambda Powertools decodes them with unquote_plus). A key that is not a valid encoding is
	// taken as it stands rather than failing the event.
	key, err := url.QueryUnescape(d.Object.Key)
	if err != nil {
		key = d.Object.Key
	}
	raw := ""
	if key != d.Object.Key {
		raw = d.Object.Key
	}
	return []ObjectRef{{Bucket: d.Bucket.Name, Key: key, RawKey: raw, ETag: d.Object.ETag,
		VersionID: d.Object.VersionID, Size: d.Object.Size}}, nil, nil
}

func decodeSQS(records []json.RawMessage) (*Event, error) {
	ev := &Event{Kind: KindSQS}
	for i, raw := range records {
		var r sqsRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, &EventError{Reason: fmt.Sprintf("SQS record %d: %v", i, err)}
		}
		if r.EventSource != "aws:sqs" || r.MessageID == "" {
			return nil, &EventError{Reason: fmt.Sprintf("SQS record %d: eventSource %q, messageId %q", i, r.EventSource, r.MessageID)}
		}
		m := Message{ID: r.MessageID}
		inner, err := DecodeEvent(json.RawMessage(r.Body))
		switch {
		case err != nil:
			m.Err = fmt.Errorf("datacloud: decode event: SQS message %s: %w", r.MessageID, unwrapEventError(err))
		case inner.Kind == KindSQS:
			m.Err = &EventError{Reason: fmt.Sprintf("SQS message %s holds an SQS batch", r.MessageID)}
		case inner.Kind == KindTest:
			m.Test = true
		default:
			for _, o := range inner.Objects {
				o.MessageID = r.MessageID
				m.Objects = append(m.Objects, o)
			}
			ev.Objects = append(ev.Objects, m.Objects...)
			ev.Skipped = append(ev.Skipped, inner.Skipped...)
		}
		ev.Messages = append(ev.Messages, m)
	}
	return ev, nil
}

func unwrapEventError(err error) error {
	var ee *EventError
	if errors.As(err, &ee) {
		return errors.New(ee.Reason)
	}
	return err
}
