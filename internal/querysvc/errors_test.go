package querysvc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dcbridge/datacloud-lambda/internal/testenv"
	"github.com/dcbridge/datacloud-lambda/internal/tokenstore"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

func TestErrorMapping(t *testing.T) {
	sqlBody := fmt.Sprintf(`{"sql":%q}`, ordersSQL)
	tests := []struct {
		name       string
		fault      *datacloudtest.Fault
		event      func(t *testing.T, f *fixture) json.RawMessage
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{name: "missing sql", event: post(`{}`), wantStatus: 400, wantCode: "missing_sql"},
		{name: "empty sql", event: post(`{"sql":"   "}`), wantStatus: 400, wantCode: "missing_sql"},
		{name: "empty body", event: post(``), wantStatus: 400, wantCode: "missing_sql"},
		{name: "invalid JSON", event: post(`{"sql":`), wantStatus: 400, wantCode: "invalid_json"},
		{name: "JSON array", event: post(`["SELECT 1"]`), wantStatus: 400, wantCode: "invalid_json"},
		{name: "sql not a string", event: post(`{"sql":42}`), wantStatus: 400, wantCode: "invalid_request", wantMsg: `"sql" must be a string`},
		{name: "body over 64 KiB", event: post(fmt.Sprintf(`{"sql":"SELECT 1 -- %s"}`, strings.Repeat("x", 64<<10))), wantStatus: 400, wantCode: "body_too_large"},
		{name: "bad base64", event: func(t *testing.T, f *fixture) json.RawMessage {
			return apiEvent(t, "POST", "/query", "%%%", func(e *events.APIGatewayV2HTTPRequest) { e.IsBase64Encoded = true })
		}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "Data Cloud rejects the SQL", event: post(`{"sql":"SELECT nope FROM Orders"}`), wantStatus: 400, wantCode: "query_rejected", wantMsg: "no such column: nope"},
		{name: "unknown route", event: func(t *testing.T, f *fixture) json.RawMessage { return apiEvent(t, "GET", "/nope", "", nil) }, wantStatus: 404, wantCode: "not_found"},
		{name: "wrong method", event: func(t *testing.T, f *fixture) json.RawMessage { return apiEvent(t, "GET", "/query", "", nil) }, wantStatus: 404, wantCode: "not_found"},
		{name: "garbled cursor", event: post(`{"cursor":"not-a-cursor!"}`), wantStatus: 400, wantCode: "invalid_cursor"},
		{name: "forged cursor", event: post(`{"cursor":"` + base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"s":"x","l":1}`)) + `"}`), wantStatus: 400, wantCode: "invalid_cursor"},
		{name: "used batch id", event: usedCursor, wantStatus: 410, wantCode: "cursor_expired"},
		{name: "throttled after retries", fault: &datacloudtest.Fault{Route: "POST /api/v2/query", Status: 429, RetryAfter: "1"},
			event: post(sqlBody), wantStatus: 429, wantCode: "throttled"},
		{name: "server error", fault: &datacloudtest.Fault{Route: "POST /api/v2/query", Status: 500},
			event: post(sqlBody), wantStatus: 502, wantCode: "upstream_error", wantMsg: "Data Cloud answered 500"},
		{name: "gateway HTML page", fault: &datacloudtest.Fault{Route: "POST /api/v2/query", Status: 502, Body: "<html><body>Bad Gateway</body></html>"},
			event: post(sqlBody), wantStatus: 502, wantCode: "upstream_error"},
		{name: "connection reset", fault: &datacloudtest.Fault{Route: "POST /api/v2/query", Reset: true},
			event: post(sqlBody), wantStatus: 502, wantCode: "upstream_error", wantMsg: "could not be reached"},
		{name: "metadata rejects entityType", event: func(t *testing.T, f *fixture) json.RawMessage {
			return apiEvent(t, "GET", "/metadata", "", func(e *events.APIGatewayV2HTTPRequest) {
				e.QueryStringParameters = map[string]string{"entityType": "Bogus"}
			})
		}, wantStatus: 400, wantCode: "invalid_request", wantMsg: "invalid entityType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{rows: 120, batchRows: 50, noteBytes: 10})
			ev := tt.event(t, f)
			if tt.fault != nil {
				if err := f.srv.InjectFault(*tt.fault); err != nil {
					t.Fatal(err)
				}
			}
			r := f.invoke(t, ev, true)
			checkError(t, f, r, tt.wantStatus, tt.wantCode, tt.wantMsg)
			if tt.wantStatus == 429 && r.headers["retry-after"] != "1" {
				t.Fatalf("retry-after header = %q, want 1", r.headers["retry-after"])
			}
		})
	}
}

func checkError(t *testing.T, f *fixture, r result, status int, code, msg string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var e wireError
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if e.Error.Code != code || e.Error.Message == "" || !strings.Contains(e.Error.Message, msg) {
		t.Fatalf("error = %+v, want code %q and message containing %q", e.Error, code, msg)
	}
	f.assertNoSecrets(t, r.body)
}

// post is a POST /query API Gateway event with body.
func post(body string) func(*testing.T, *fixture) json.RawMessage {
	return func(t *testing.T, _ *fixture) json.RawMessage { return apiEvent(t, "POST", "/query", body, nil) }
}

// usedCursor follows a V2 cursor once, then returns an event using it again.
func usedCursor(t *testing.T, f *fixture) json.RawMessage {
	r := f.invoke(t, apiEvent(t, "POST", "/query", fmt.Sprintf(`{"sql":%q}`, ordersSQL), nil), true)
	var a wireAnswer
	if err := json.Unmarshal(r.body, &a); err != nil || a.Cursor == nil {
		t.Fatalf("first answer has no cursor: %s", r.body)
	}
	again := apiEvent(t, "POST", "/query", fmt.Sprintf(`{"cursor":%q}`, *a.Cursor), nil)
	if r := f.invoke(t, again, true); r.status != 200 {
		t.Fatalf("first use of the cursor: %d %s", r.status, r.body)
	}
	return again
}

func TestNoUsableTokenAnswers503(t *testing.T) {
	if _, err := exec.LookPath("moto_server"); err != nil && os.Getenv("REQUIRE_MOTO") != "1" {
		t.Skip("moto_server not on PATH")
	}
	m := testenv.MotoForTest(t)
	sm := secretsmanager.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")},
		func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(m.URL) })
	name := "querysvc-token"
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: &name}); err != nil {
		t.Fatal(err)
	}
	// No token stored and no credentials: the consumer cannot get a token.
	src := tokenstore.NewSecretTokenSource(tokenstore.NewStore(sm, name), nil)
	client, err := datacloud.NewClient(src)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: datacloudtest.New(datacloudtest.Options{}), svc: New(client, Options{})}
	t.Cleanup(func() { f.srv.Close() })
	for _, apiGateway := range []bool{true, false} {
		ev := json.RawMessage(`{"sql":"SELECT 1"}`)
		if apiGateway {
			ev = apiEvent(t, "POST", "/query", `{"sql":"SELECT 1"}`, nil)
		}
		r := f.invoke(t, ev, apiGateway)
		checkError(t, f, r, http.StatusServiceUnavailable, "no_token", "no token is stored")
	}
}

func TestDirectInvocationShape(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 3, batchRows: 50, noteBytes: 5})
	r := f.invoke(t, json.RawMessage(fmt.Sprintf(`{"sql":%q}`, ordersSQL)), false)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"columns", "rows", "rowCount", "queryId", "done"} {
		if _, ok := top[k]; !ok {
			t.Fatalf("direct answer lacks %q: %s", k, r.body)
		}
	}
	for _, k := range []string{"statusCode", "body", "status", "cursor"} {
		if _, ok := top[k]; ok {
			t.Fatalf("direct answer has %q: %s", k, r.body)
		}
	}
	var a wireAnswer
	_ = json.Unmarshal(r.body, &a)
	if a.RowCount != 3 || !a.Done || a.Rows[2]["id"] != "r00002" || a.Rows[2]["n"] != float64(2) {
		t.Fatalf("answer %s", r.body)
	}

	r = f.invoke(t, json.RawMessage(`{"sql":""}`), false)
	var e wireError
	if err := json.Unmarshal(r.body, &e); err != nil || e.Status == nil || *e.Status != 400 || e.Error.Code != "missing_sql" {
		t.Fatalf("direct error body %s", r.body)
	}
}

func TestAPIGatewayRequestVariants(t *testing.T) {
	sqlBody := fmt.Sprintf(`{"sql":%q}`, ordersSQL)
	tests := []struct {
		name   string
		mutate func(*events.APIGatewayV2HTTPRequest)
	}{
		{name: "base64 body", mutate: func(e *events.APIGatewayV2HTTPRequest) {
			e.IsBase64Encoded, e.Body = true, base64.StdEncoding.EncodeToString([]byte(sqlBody))
		}},
		{name: "default route with stage prefix", mutate: func(e *events.APIGatewayV2HTTPRequest) {
			e.RouteKey, e.RawPath, e.RequestContext.Stage = "$default", "/prod/query", "prod"
		}},
		{name: "proxy route with trailing slash", mutate: func(e *events.APIGatewayV2HTTPRequest) {
			e.RouteKey, e.RawPath = "ANY /{proxy+}", "/query/"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{rows: 4, batchRows: 50, noteBytes: 5})
			r := f.invoke(t, apiEvent(t, "POST", "/query", sqlBody, tt.mutate), true)
			var a wireAnswer
			if r.status != 200 || json.Unmarshal(r.body, &a) != nil || a.RowCount != 4 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		})
	}
}

func TestMetadataPassthrough(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 2, batchRows: 50, noteBytes: 5})
	want, err := f.client.Metadata(context.Background(), datacloud.MetadataOptions{EntityName: "Orders"})
	if err != nil {
		t.Fatal(err)
	}
	r := f.invoke(t, apiEvent(t, "GET", "/metadata", "", func(e *events.APIGatewayV2HTTPRequest) {
		e.QueryStringParameters = map[string]string{"entityName": "Orders"}
	}), true)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got, exp any
	if json.Unmarshal(r.body, &got) != nil || json.Unmarshal(want, &exp) != nil || fmt.Sprint(got) != fmt.Sprint(exp) {
		t.Fatalf("metadata body %s, want %s", r.body, want)
	}
	if !strings.Contains(string(r.body), `"name":"Orders"`) {
		t.Fatalf("metadata lacks the Orders entity: %s", r.body)
	}
}

func TestSlowUpstreamHonoursContext(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 2, batchRows: 50})
	if err := f.srv.InjectFault(datacloudtest.Fault{Route: "POST /api/v2/query", Delay: 2 * time.Second, Times: 1}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	out, err := f.svc.Handle(ctx, json.RawMessage(`{"sql":"SELECT 1"}`))
	if err != nil {
		t.Fatal(err)
	}
	var e wireError
	if json.Unmarshal(out, &e) != nil || e.Status == nil || *e.Status != 502 || e.Error.Code != "upstream_error" {
		t.Fatalf("answer %s", out)
	}
}
