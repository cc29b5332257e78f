package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun/lambdaruntest"
)

const (
	echoTemplate = "testdata/template.yaml"
	echoEnv      = "testdata/env.json"
)

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestInvokeAppliesTemplateEnvJSONAndOverrides(t *testing.T) {
	lambdaruntest.RequireRIE(t)
	ctx := testContext(t, 3*time.Minute)
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"invoke", "EchoFunction", "--template", echoTemplate, "--env-vars", echoEnv,
		"--parameter-overrides", "Greeting=hi", "-e", "-"}, strings.NewReader(`{"x": 1}`), &stdout, &stderr)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, stderr.String())
	}
	var got struct {
		Event json.RawMessage   `json:"event"`
		Env   map[string]string `json:"env"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not the function's answer: %q", stdout.String())
	}
	want := map[string]string{
		"ECHO_VAR":                        "from-env-json",   // the function's section wins
		"OVERRIDDEN":                      "from-parameters", // Parameters applies to every function
		"GLOBAL_VAR":                      "hi",              // !Ref of an overridden parameter
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "192",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "5",
	}
	for k, v := range want {
		if got.Env[k] != v {
			t.Errorf("%s = %q, want %q", k, got.Env[k], v)
		}
	}
	if v, ok := got.Env["UNDECLARED"]; ok {
		t.Errorf("UNDECLARED reached the function (%q): env.json may only set declared variables", v)
	}
	if string(got.Event) != `{"x": 1}` && string(got.Event) != `{"x":1}` {
		t.Errorf("event = %s", got.Event)
	}
	if !strings.Contains(stderr.String(), "REPORT RequestId") {
		t.Errorf("function logs did not go to stderr:\n%s", stderr.String())
	}

	t.Run("function error fails the command", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		err := run(ctx, []string{"invoke", "--template", echoTemplate, "EchoFunction", "-e", "-"},
			strings.NewReader(`{"fail": true}`), &stdout, &stderr)
		var fe *functionError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "asked to fail") {
			t.Fatalf("err = %v, want a function error saying why", err)
		}
		if !strings.Contains(stdout.String(), `"errorMessage":"asked to fail"`) {
			t.Errorf("stdout = %q, want the error document", stdout.String())
		}
	})
}

func TestInvokeRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no function", []string{"invoke", "--template", echoTemplate}, "want a function logical id"},
		{"unknown function", []string{"invoke", "Nope", "--template", echoTemplate}, `no function "Nope"`},
		{"no build target", []string{"invoke", "Other", "--template", echoTemplate}, `no function "Other"`},
		{"unknown parameter", []string{"invoke", "EchoFunction", "--template", echoTemplate, "--parameter-overrides", "Nope=1"}, `unknown parameter "Nope"`},
		{"bad override", []string{"invoke", "EchoFunction", "--template", echoTemplate, "--parameter-overrides", "novalue"}, "want Key=Value"},
		{"missing env file", []string{"invoke", "EchoFunction", "--template", echoTemplate, "--env-vars", "testdata/none.json"}, "env vars"},
		{"missing event", []string{"invoke", "EchoFunction", "--template", echoTemplate, "-e", "testdata/none.json"}, "read event"},
		{"missing template", []string{"invoke", "EchoFunction", "--template", "testdata/none.yaml"}, "read template"},
		{"unknown command", []string{"deploy"}, `unknown command "deploy"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseOverrides(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want map[string]string
	}{
		{"pairs in one argument", []string{`A=1 B="two"`}, map[string]string{"A": "1", "B": "two"}},
		{"repeated", []string{"A=1", "B=2"}, map[string]string{"A": "1", "B": "2"}},
		{"cloudformation form", []string{"ParameterKey=A,ParameterValue=x"}, map[string]string{"A": "x"}},
		{"empty value", []string{"AlarmEmail="}, map[string]string{"AlarmEmail": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOverrides(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestProjectFunctionsResolve checks the real template, Makefile and env.json together: each
// function's package comes from its build target, and events/env.json fills what it declares.
func TestProjectFunctionsResolve(t *testing.T) {
	p, err := loadProject("../../template.yaml", "../../events/env.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	noHost := func(string) (string, bool) { return "", false }
	tests := []struct {
		id, pkg string
		env     map[string]string
	}{
		{"TokenRefreshFunction", "functions/tokenrefresh", map[string]string{"DATACLOUD_REFRESH_MARGIN": "45m", "DATACLOUD_CREDENTIALS_SECRET": "datacloud/credentials"}},
		{"S3IngestFunction", "functions/s3ingest", map[string]string{"INGEST_PREFIX": "ingest/", "INGEST_STREAMING_PAYLOAD_BYTES": "200000"}},
		{"QueryTriggerFunction", "functions/querytrigger", map[string]string{"DATACLOUD_TOKEN_SECRET": "datacloud/token"}},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			lf, err := p.function(tc.id, noHost, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rel, _ := filepath.Rel(p.dir, lf.Package); rel != tc.pkg {
				t.Errorf("package = %s, want %s", rel, tc.pkg)
			}
			env := map[string]string{}
			for _, kv := range lf.Env {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			common := map[string]string{
				"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "DATACLOUD_ALLOWED_HOSTS": "127.0.0.1,localhost",
				"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "LOG_LEVEL": "debug",
			}
			for _, want := range []map[string]string{common, tc.env} {
				for k, v := range want {
					if env[k] != v {
						t.Errorf("%s = %q, want %q", k, env[k], v)
					}
				}
			}
		})
	}
}

func TestStartAPIServesRoutesAsPayload2(t *testing.T) {
	lambdaruntest.RequireRIE(t)
	ctx := testContext(t, 3*time.Minute)
	p, err := loadProject(echoTemplate, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	fns, stop, err := startAPIFunctions(ctx, p, func(string) (string, bool) { return "", false }, t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	h, err := newAPIHandler(p.tmpl.Routes(), fns, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	tests := []struct {
		name, method, path, ctype, body string
		wantStatus                      int
		wantBody                        map[string]any
	}{
		{"json body", "POST", "/echo?a=1", "application/json", `{"hello":"world"}`, 201,
			map[string]any{"method": "POST", "path": "/echo", "query": "a=1", "body": `{"hello":"world"}`, "isBase64Encoded": false, "routeKey": "POST /echo", "iam": true}},
		{"binary body is base64", "POST", "/echo", "application/octet-stream", "\x00\x01", 201,
			map[string]any{"body": "AAE=", "isBase64Encoded": true}},
		{"unknown route", "GET", "/nope", "", "", 404, map[string]any{"message": "Not Found"}},
		{"wrong method", "GET", "/echo", "", "", 404, map[string]any{"message": "Not Found"}},
		{"function error", "POST", "/echo", "application/json", `{"fail":1}`, 500, map[string]any{"message": "Internal Server Error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status = %d, want %d (%v)", resp.StatusCode, tc.wantStatus, got)
			}
			for k, v := range tc.wantBody {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			if tc.wantStatus == 201 && (resp.Header.Get("X-Echo") != "POST" || resp.Header.Get("Set-Cookie") != "seen=1") {
				t.Errorf("headers = %v, want X-Echo and Set-Cookie from the function", resp.Header)
			}
		})
	}
}

func TestWriteLambdaResponse(t *testing.T) {
	tests := []struct {
		name, payload string
		wantStatus    int
		wantBody      string
		wantErr       bool
	}{
		{"plain object is a 200 json body", `{"rows":[]}`, 200, `{"rows":[]}`, false},
		{"proxy response", `{"statusCode":404,"body":"{\"error\":1}"}`, 404, `{"error":1}`, false},
		{"base64 body", `{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`, 200, "hi", false},
		{"bad status", `{"statusCode":42,"body":""}`, 0, "", true},
		{"bad base64", `{"statusCode":200,"body":"***","isBase64Encoded":true}`, 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			err := writeLambdaResponse(rec, []byte(tc.payload))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.wantStatus, tc.wantBody)
			}
		})
	}
}

// TestDemo runs `sam-local demo` end to end with a smaller data set: the embedded stack, the
// real bootstraps under the RIE, and the checks each step makes.
func TestDemo(t *testing.T) {
	lambdaruntest.RequireRIE(t)
	if _, err := os.Stat("../../functions/querytrigger"); err != nil && os.Getenv("REQUIRE_RIE") != "1" {
		t.Skip("functions/querytrigger is not there yet")
	}
	ctx := testContext(t, 10*time.Minute)
	var out bytes.Buffer
	err := run(ctx, []string{"demo", "--template", "../../template.yaml", "--rows", "1500", "--json-rows", "300", "--verbose"}, nil, &out, io.Discard)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"[9/9]", "read all 1500 rows", "Demo complete"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
