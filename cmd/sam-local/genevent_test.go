package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestEventFilesMatchGenerator keeps events/ what `sam-local generate-event` prints, so the
// sample events and the generator cannot drift apart.
func TestEventFilesMatchGenerator(t *testing.T) {
	tests := []struct {
		file string
		args []string
	}{
		{"s3-put.json", []string{"s3"}},
		{"sqs-s3.json", []string{"sqs"}},
		{"eventbridge-s3.json", []string{"eventbridge"}},
		{"schedule.json", []string{"schedule"}},
		{"apigw-query.json", []string{"http", "--method", "POST", "--path", "/query"}},
		{"apigw-metadata.json", []string{"http", "--method", "GET", "--path", "/metadata", "--query", "entityType=DataLakeObject"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("../../events", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := cmdGenerateEvent(tc.args, &got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("events/%s differs from `generate-event %s`; regenerate it:\n%s", tc.file, strings.Join(tc.args, " "), got.String())
			}
		})
	}
}

func TestGeneratedEventsDecode(t *testing.T) {
	const key = "ingest/crm_api/Contact/2026/11/28/contacts export.csv"
	t.Run("s3 key is form-encoded", func(t *testing.T) {
		var ev events.S3Event
		decodeFile(t, "s3-put.json", &ev)
		obj := ev.Records[0].S3.Object
		if obj.Key != "ingest/crm_api/Contact/2026/11/28/contacts+export.csv" || obj.URLDecodedKey != key {
			t.Errorf("key = %q decoded %q", obj.Key, obj.URLDecodedKey)
		}
	})
	t.Run("sqs body is an s3 notification", func(t *testing.T) {
		var ev events.SQSEvent
		decodeFile(t, "sqs-s3.json", &ev)
		var inner events.S3Event
		if err := json.Unmarshal([]byte(ev.Records[0].Body), &inner); err != nil {
			t.Fatal(err)
		}
		if inner.Records[0].S3.Object.URLDecodedKey != key || ev.Records[0].EventSource != "aws:sqs" {
			t.Errorf("sqs event = %+v", ev.Records[0])
		}
	})
	t.Run("http payload 2.0 with iam", func(t *testing.T) {
		var ev events.APIGatewayV2HTTPRequest
		decodeFile(t, "apigw-query.json", &ev)
		if ev.Version != "2.0" || ev.RouteKey != "POST /query" || ev.RequestContext.Authorizer.IAM == nil || !strings.Contains(ev.Body, "SELECT") {
			t.Errorf("http event = %+v", ev)
		}
	})
	t.Run("schedule", func(t *testing.T) {
		var ev events.EventBridgeEvent
		decodeFile(t, "schedule.json", &ev)
		if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
			t.Errorf("schedule event = %+v", ev)
		}
	})
	t.Run("env.json names every function of the template", func(t *testing.T) {
		var env map[string]map[string]string
		decodeFile(t, "env.json", &env)
		for _, id := range []string{"Parameters", "TokenRefreshFunction", "S3IngestFunction", "QueryTriggerFunction"} {
			if _, ok := env[id]; !ok {
				t.Errorf("env.json has no %s section", id)
			}
		}
	})
}

func TestGenerateEventRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no kind", nil, "want a kind"},
		{"unknown kind", []string{"kinesis"}, `unknown kind "kinesis"`},
		{"bad flag", []string{"s3", "--nope"}, "nope"},
		{"bad time", []string{"schedule", "--time", "yesterday"}, "--time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := cmdGenerateEvent(tc.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func decodeFile(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../events", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
