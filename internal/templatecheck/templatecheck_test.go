package templatecheck

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const templatePath = "../../template.yaml"

func loadProject(t *testing.T) *Template {
	t.Helper()
	tmpl, err := Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestCfnLintReportsNothing(t *testing.T) {
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		if os.Getenv("REQUIRE_CFNLINT") == "1" {
			t.Fatal("cfn-lint not found on PATH and REQUIRE_CFNLINT=1")
		}
		t.Skip("cfn-lint not found on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "cfn-lint", filepath.Base(templatePath))
	cmd.Dir = filepath.Dir(templatePath)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil || out.Len() > 0 {
		t.Fatalf("cfn-lint template.yaml: err=%v\n%s", err, out.String())
	}
}

func TestProjectTemplatePassesEveryCheck(t *testing.T) {
	for _, f := range Check(loadProject(t), ContractRules()) {
		t.Error(f)
	}
}

func TestProjectTemplateShape(t *testing.T) {
	tmpl := loadProject(t)
	fns := tmpl.Functions()
	var ids []string
	for _, f := range fns {
		ids = append(ids, f.LogicalID)
	}
	if got := strings.Join(ids, ","); got != "QueryTriggerFunction,S3IngestFunction,TokenRefreshFunction" {
		t.Fatalf("functions = %s", got)
	}
	ingest, err := tmpl.Function("S3IngestFunction")
	if err != nil {
		t.Fatal(err)
	}
	ev := asMap(asMap(ingest.Events["Landed"])["Properties"])
	if asString(asMap(ingest.Events["Landed"])["Type"]) != "SQS" {
		t.Fatalf("S3IngestFunction.Landed is not an SQS event: %v", ingest.Events["Landed"])
	}
	if rt := asList(ev["FunctionResponseTypes"]); len(rt) != 1 || rt[0] != "ReportBatchItemFailures" {
		t.Errorf("FunctionResponseTypes = %v", rt)
	}
	if ev["MaximumBatchingWindowInSeconds"] == nil || asMap(ev["ScalingConfig"])["MaximumConcurrency"] == nil {
		t.Errorf("SQS event lacks a batching window or maximum concurrency: %v", ev)
	}

	// Lambda wants the queue's visibility timeout at least 6x the function timeout.
	queue := tmpl.Resources[asString(asList(asMap(ev["Queue"])["Fn::GetAtt"])[0])]
	vis, _ := strconv.Atoi(scalarString(queue.Properties["VisibilityTimeout"]))
	timeout, _ := strconv.Atoi(scalarString(ingest.Timeout))
	maxWindow, _ := strconv.Atoi(tmpl.Parameters["IngestBatchWindowSeconds"].MaxValue)
	if timeout == 0 || vis < 6*timeout+maxWindow {
		t.Errorf("queue VisibilityTimeout %d < 6 x function Timeout %d + batching window %d", vis, timeout, maxWindow)
	}
	if queue.Properties["RedrivePolicy"] == nil {
		t.Error("ingest queue has no RedrivePolicy (dead-letter queue)")
	}

	// Notifications filter on the ingest prefix parameter.
	bucket := tmpl.Resources["LandingBucket"]
	qc := asMap(asList(asMap(bucket.Properties["NotificationConfiguration"])["QueueConfigurations"])[0])
	rule := asMap(asList(asMap(asMap(qc["Filter"])["S3Key"])["Rules"])[0])
	if asString(asMap(rule["Value"])["Ref"]) != "IngestPrefix" {
		t.Errorf("notification filter = %v, want prefix !Ref IngestPrefix", rule)
	}

	// The queue policy and s3ingest's policy name the bucket by the same derived name.
	subText := func(v any) string { return asString(asList(asMap(v)["Fn::Sub"])[0]) }
	bucketARN := "arn:${AWS::Partition}:s3:::" + subText(bucket.Properties["BucketName"])
	qp := asMap(asList(asMap(tmpl.Resources["IngestQueuePolicy"].Properties["PolicyDocument"])["Statement"])[0])
	if got := subText(asMap(asMap(qp["Condition"])["ArnEquals"])["aws:SourceArn"]); got != bucketARN {
		t.Errorf("queue policy SourceArn %q, want %q", got, bucketARN)
	}
	var s3Resources int
	for _, st := range asList(asMap(ingest.Policies[0])["Statement"]) {
		for _, r := range asList(asMap(st)["Resource"]) {
			if m := asMap(r); m["Fn::Sub"] != nil {
				s3Resources++
				if !strings.HasPrefix(subText(m), bucketARN+"/") {
					t.Errorf("s3ingest resource %q is not an object of %q", subText(m), bucketARN)
				}
			}
		}
	}
	if s3Resources != 2 {
		t.Errorf("s3ingest has %d S3 resources, want 2 (ingest prefix and claim markers)", s3Resources)
	}

	routes := tmpl.Routes()
	want := []Route{{"GET", "/metadata", "QueryTriggerFunction"}, {"POST", "/query", "QueryTriggerFunction"}}
	if len(routes) != len(want) {
		t.Fatalf("routes = %v, want %v", routes, want)
	}
	for i := range want {
		if routes[i] != want[i] {
			t.Errorf("route %d = %v, want %v", i, routes[i], want[i])
		}
	}
}

func TestResolverEnvDefaultsAndOverrides(t *testing.T) {
	tmpl := loadProject(t)
	f, err := tmpl.Function("S3IngestFunction")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		overrides map[string]string
		want      map[string]string
		absent    []string
	}{
		{"defaults", nil, map[string]string{
			"INGEST_PREFIX": "ingest/", "INGEST_BULK_PART_BYTES": "150000000",
			"INGEST_STREAMING_PAYLOAD_BYTES": "200000", "LOG_LEVEL": "info",
			"DATACLOUD_ALLOWED_HOSTS": ".salesforce.com,.force.com", "DATACLOUD_TOKEN_SECRET": "TokenSecret",
			"DATACLOUD_CREDENTIALS_SECRET": "CredentialsSecret",
		}, nil},
		{"overrides", map[string]string{"IngestPrefix": "landing/", "LogLevel": "debug", "EnableConsumerRefresh": "false"},
			map[string]string{"INGEST_PREFIX": "landing/", "LOG_LEVEL": "debug", "DATACLOUD_CREDENTIALS_SECRET": ""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tmpl.NewResolver(tc.overrides)
			if err != nil {
				t.Fatal(err)
			}
			env, err := r.Env(f)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
				}
			}
		})
	}
	if _, err := tmpl.NewResolver(map[string]string{"NoSuchParam": "x"}); err == nil || !strings.Contains(err.Error(), "NoSuchParam") {
		t.Errorf("unknown override: err = %v, want one naming NoSuchParam", err)
	}
}
