package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/internal/querysvc"
)

// apiEvent is an API Gateway HTTP API (payload format 2.0) request.
func apiEvent(method, path, rawQuery string, query map[string]string, body string, b64 bool) string {
	if b64 {
		body = base64.StdEncoding.EncodeToString([]byte(body))
	}
	route := method + " " + path
	ev := map[string]any{
		"version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": rawQuery,
		"headers": map[string]string{"content-type": "application/json", "host": "api.example.com"},
		"requestContext": map[string]any{
			"accountId": "123456789012", "apiId": "e2eapi", "domainName": "api.example.com", "domainPrefix": "api",
			"http":      map[string]string{"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "e2e"},
			"requestId": "e2e-req", "routeKey": route, "stage": "$default",
			"time": time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"), "timeEpoch": time.Now().UnixMilli(),
			"authorizer": map[string]any{"iam": map[string]any{"accountId": "123456789012", "userArn": "arn:aws:iam::123456789012:user/e2e"}},
		},
		"isBase64Encoded": b64,
	}
	if query != nil {
		ev["queryStringParameters"] = query
	}
	if body != "" {
		ev["body"] = body
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

// apiResponse is what querytrigger answers API Gateway.
type apiResponse struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}

// queryAnswer is the body of a 200 POST /query answer (contract §5).
type queryAnswer = querysvc.Answer

// errorAnswer is an error body (contract §5); Status is set for direct invocations.
type errorAnswer struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Status int `json:"status"`
}

// api invokes querytrigger through an API Gateway event and returns the status and body.
func (f *fn) api(t *testing.T, method, path string, query map[string]string, body string) (int, []byte) {
	t.Helper()
	res := f.invoke(apiEvent(method, path, "", query, body, false))
	return apiResult(t, res)
}

func apiResult(t *testing.T, res lambdarun.Result) (int, []byte) {
	t.Helper()
	mustSucceed(t, res)
	resp := decode[apiResponse](t, res)
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			t.Fatal(err)
		}
	}
	if ct := resp.Headers["content-type"] + resp.Headers["Content-Type"]; !strings.Contains(ct, "application/json") {
		t.Errorf("content-type %q, want application/json", ct)
	}
	return resp.StatusCode, body
}

// seedRows stores n rows in object through the emulator's streaming API (as if ingested).
func (w *world) seedRows(object string, n int) {
	w.t.Helper()
	var recs []string
	for i := range n {
		recs = append(recs, fmt.Sprintf(`{"id":"r%04d","name":"row %d with some padding text","amount":%d}`, i, i, i))
	}
	tok := w.DC.IssueTenantToken(username)
	for start := 0; start < n; start += 500 {
		end := min(start+500, n)
		body := `{"data":[` + strings.Join(recs[start:end], ",") + `]}`
		req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/api/v1/ingest/sources/"+source+"/"+object, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := w.srv.Client().Do(req)
		if err != nil {
			w.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			w.t.Fatalf("seed rows: %s", resp.Status)
		}
	}
}
