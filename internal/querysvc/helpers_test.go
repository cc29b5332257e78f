package querysvc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// fixture is a Service over a real client talking to the emulator, with rows seeded.
type fixture struct {
	srv     *datacloudtest.Server
	client  *datacloud.Client
	svc     *Service
	metrics *bytes.Buffer // EMF lines written after each invocation
}

type fixtureOptions struct {
	rows       int  // rows seeded into the Orders object
	batchRows  int  // emulator V2 batch size
	budget     int  // service response budget
	noteBytes  int  // size of each row's note
	retryLimit int  // client attempts (default 2, fast)
	emptyFinal bool // the emulator ends a result with done:false and an empty done:true batch
	// heldBatches is Options.HeldBatches; -1 makes every continuation behave as if it
	// reached another container (nothing held).
	heldBatches int
}

const ordersSQL = "SELECT id, n, note FROM Orders ORDER BY n"

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	srv := datacloudtest.New(datacloudtest.Options{Seed: 3, QueryBatchRows: o.batchRows, EmptyFinalBatch: o.emptyFinal})
	t.Cleanup(func() { srv.Close() })
	run := srv.Start()
	t.Cleanup(func() { run.Close() })
	hosts, err := datacloud.ParseAllowedHosts("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tok := datacloud.Token{AccessToken: srv.IssueTenantToken("query@example.com"), InstanceURL: run.URL, TokenType: "Bearer",
		ExpiresAt: time.Now().Add(time.Hour)}
	attempts := o.retryLimit
	if attempts == 0 {
		attempts = 2
	}
	client, err := datacloud.NewClient(datacloud.StaticTokenSource(tok), datacloud.WithAllowedHosts(hosts),
		datacloud.WithHTTPClient(run.Client()),
		datacloud.WithRetryPolicy(datacloud.ExponentialBackoff{MaxAttempts: attempts, Base: time.Millisecond, Cap: 2 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	seed(t, client, o.rows, o.noteBytes)
	var emf bytes.Buffer
	svc := New(client, Options{MaxResponseBytes: o.budget, Metrics: obs.NewMetrics("querytrigger"), MetricsOut: &emf, HeldBatches: o.heldBatches})
	return &fixture{srv: srv, client: client, metrics: &emf, svc: svc}
}

// seed upserts rows {id: "r0007", n: 7, note: "<html-ish text>"} in bodies under 200 KB.
func seed(t *testing.T, c *datacloud.Client, rows, noteBytes int) {
	t.Helper()
	if rows == 0 {
		return
	}
	// Quotes, <, > and & make the API Gateway escaping differ from the raw size.
	note := strings.Repeat(`<"a&b">`, max(1, noteBytes/7))
	var recs []string
	flush := func() {
		if len(recs) == 0 {
			return
		}
		body := `{"data":[` + strings.Join(recs, ",") + `]}`
		if err := c.UpsertBody(context.Background(), "shop", "Orders", []byte(body)); err != nil {
			t.Fatal(err)
		}
		recs = recs[:0]
	}
	size := 0
	for i := range rows {
		r := fmt.Sprintf(`{"id":"r%05d","n":%d,"note":%q}`, i, i, note)
		if size+len(r) > 150_000 {
			flush()
			size = 0
		}
		recs = append(recs, r)
		size += len(r) + 1
	}
	flush()
}

// apiEvent builds an API Gateway HTTP API (2.0) event.
func apiEvent(t *testing.T, method, path, body string, mutate func(*events.APIGatewayV2HTTPRequest)) json.RawMessage {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + path, RawPath: path, Body: body,
		Headers: map[string]string{"content-type": "application/json"},
	}
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.HTTP.Path = path
	ev.RequestContext.Stage = "$default"
	if mutate != nil {
		mutate(&ev)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// result is one decoded invocation result.
type result struct {
	status  int
	body    []byte
	size    int // bytes the runtime sends (payload + newline)
	headers map[string]string
}

// invoke runs the handler; apiGateway says how to read the payload.
func (f *fixture) invoke(t *testing.T, event json.RawMessage, apiGateway bool) result {
	t.Helper()
	out, err := f.svc.Handle(context.Background(), event)
	if err != nil {
		t.Fatalf("handler returned an error: %v", err)
	}
	// What the runtime sends: re-encode the returned value as aws-lambda-go does.
	sent, err := marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(sent) != string(out) {
		t.Fatal("the runtime would re-encode the payload differently than it was measured")
	}
	r := result{size: len(sent) + 1}
	if !apiGateway {
		r.body = out
		var st struct {
			Status int `json:"status"`
		}
		_ = json.Unmarshal(out, &st)
		r.status = st.Status
		if r.status == 0 {
			r.status = 200
		}
		return r
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("not an API Gateway response: %v", err)
	}
	r.status, r.body, r.headers = resp.StatusCode, []byte(resp.Body), resp.Headers
	if resp.Headers["content-type"] != "application/json" {
		t.Fatalf("content-type = %q", resp.Headers["content-type"])
	}
	return r
}

// wireAnswer is a decoded 200 body.
type wireAnswer struct {
	Columns  []Column         `json:"columns"`
	Rows     []map[string]any `json:"rows"`
	RowCount int              `json:"rowCount"`
	QueryID  string           `json:"queryId"`
	Done     bool             `json:"done"`
	Cursor   *string          `json:"cursor"`
}

// wireError is a decoded error body.
type wireError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Status *int `json:"status"`
}

func (f *fixture) assertNoSecrets(t *testing.T, b []byte) {
	t.Helper()
	for _, s := range f.srv.IssuedSecrets() {
		if s != "" && strings.Contains(string(b), s) {
			t.Fatal("answer leaks a token")
		}
	}
	for _, bad := range []string{"goroutine ", "panic", ".go:", "Bearer "} {
		if strings.Contains(string(b), bad) {
			t.Fatalf("answer holds internal detail %q: %s", bad, b)
		}
	}
}
