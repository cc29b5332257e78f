package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// queryBudget is the response budget (QUERY_MAX_RESPONSE_BYTES) of the paging tests.
const queryBudget = 4000

func TestQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{QueryBatchRows: 23})
		w.seedToken(time.Hour)
		w.seedRows("QRows", 250)
		q := w.start("querytrigger", fnOptions{Env: []string{fmt.Sprintf("QUERY_MAX_RESPONSE_BYTES=%d", queryBudget)}})
		const sql = "SELECT id, name, amount FROM QRows ORDER BY id"

		t.Run("cursor pages every row exactly once under the limit", func(t *testing.T) {
			seen := map[string]int{}
			var order []string
			req := fmt.Sprintf(`{"sql": %q}`, sql)
			pages := 0
			for deadline := time.Now().Add(90 * time.Second); ; pages++ {
				if time.Now().After(deadline) || pages > 400 {
					t.Fatalf("paging did not finish: %d pages, %d rows", pages, len(seen))
				}
				res := q.invoke(apiEvent("POST", "/query", "", nil, req, false))
				if len(res.Payload) > queryBudget {
					t.Errorf("page %d: the Lambda response is %d bytes, over the %d budget", pages, len(res.Payload), queryBudget)
				}
				status, body := apiResult(t, res)
				if status != 200 {
					t.Fatalf("page %d: status %d: %s", pages, status, body)
				}
				var ans queryAnswer
				if err := json.Unmarshal(body, &ans); err != nil {
					t.Fatal(err)
				}
				if ans.RowCount != len(ans.Rows) {
					t.Errorf("page %d: rowCount %d for %d rows", pages, ans.RowCount, len(ans.Rows))
				}
				if names := colNames(ans); !slices.Equal(names, []string{"id", "name", "amount"}) {
					t.Errorf("page %d: columns %v, want Data Cloud's order id, name, amount", pages, names)
				}
				for _, r := range ans.Rows {
					id := fmt.Sprint(r["id"])
					seen[id]++
					order = append(order, id)
				}
				if ans.Cursor == "" {
					if !ans.Done {
						t.Error("last page has no cursor but done=false")
					}
					break
				}
				if ans.Done {
					t.Errorf("page %d: done=true with a cursor", pages)
				}
				// A continuation needs only the cursor; an sql sent with it is ignored.
				req = fmt.Sprintf(`{"cursor": %q, "sql": "SELECT 1"}`, ans.Cursor)
			}
			if len(seen) != 250 || !slices.IsSorted(order) {
				t.Errorf("%d distinct rows over %d pages (sorted %v), want all 250 in order", len(seen), pages+1, slices.IsSorted(order))
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("row %s seen %d times", id, n)
				}
			}
			if pages < 5 {
				t.Errorf("%d pages: the budget should force many", pages+1)
			}
		})

		t.Run("column types are Data Cloud's", func(t *testing.T) {
			_, body := q.api(t, "POST", "/query", nil, `{"sql": "SELECT id, amount FROM QRows WHERE id = 'r0007'"}`)
			var ans queryAnswer
			if err := json.Unmarshal(body, &ans); err != nil {
				t.Fatal(err)
			}
			if len(ans.Columns) != 2 || ans.Columns[0].Type != "VARCHAR" || ans.Columns[1].Type != "DECIMAL" || ans.RowCount != 1 || ans.Rows[0]["id"] != "r0007" {
				t.Errorf("answer %s, want one row with VARCHAR id and DECIMAL amount", body)
			}
			if ans.QueryID == "" || !ans.Done || ans.Cursor != "" {
				t.Errorf("queryId %q done %v cursor %q, want an id, done, no cursor", ans.QueryID, ans.Done, ans.Cursor)
			}
		})

		t.Run("base64 body", func(t *testing.T) {
			res := q.invoke(apiEvent("POST", "/query", "", nil, `{"sql": "SELECT count(*) AS n FROM QRows"}`, true))
			status, body := apiResult(t, res)
			if status != 200 || !strings.Contains(string(body), `"rowCount":1`) {
				t.Errorf("status %d body %s, want the count", status, body)
			}
		})

		t.Run("direct invocation", func(t *testing.T) {
			res := q.invoke(`{"sql": "SELECT id FROM QRows WHERE id < 'r0003' ORDER BY id"}`)
			mustSucceed(t, res)
			ans := decode[queryAnswer](t, res)
			if ans.RowCount != 3 || ans.Rows[2]["id"] != "r0002" {
				t.Errorf("direct answer %s, want rows r0000..r0002", res.Payload)
			}
			bad := q.invoke(`{"sql": ""}`)
			mustSucceed(t, bad)
			if e := decode[errorAnswer](t, bad); e.Status != 400 || e.Error.Code == "" || e.Error.Message == "" {
				t.Errorf("direct error answer %s, want status 400 with code and message", bad.Payload)
			}
		})

		t.Run("GET /metadata", func(t *testing.T) {
			status, body := q.api(t, "GET", "/metadata", map[string]string{"entityType": "DataLakeObject", "entityName": "QRows"}, "")
			var md struct {
				Metadata []struct {
					Name   string `json:"name"`
					Fields []struct {
						Name string `json:"name"`
					} `json:"fields"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(body, &md); err != nil || status != 200 {
				t.Fatalf("status %d body %s: %v", status, body, err)
			}
			if len(md.Metadata) != 1 || md.Metadata[0].Name != "QRows" || len(md.Metadata[0].Fields) != 3 {
				t.Errorf("metadata %s, want QRows with its 3 fields", body)
			}
			status, body = q.api(t, "GET", "/metadata", map[string]string{"entityCategory": "Nonsense"}, "")
			if status != 400 {
				t.Errorf("bad entityCategory: status %d body %s, want 400", status, body)
			}
		})

		t.Run("request errors", func(t *testing.T) {
			tests := []struct {
				name, method, path, body string
				status                   int
				msgHas                   string
			}{
				{"missing sql", "POST", "/query", `{}`, 400, ""},
				{"empty sql", "POST", "/query", `{"sql": "  "}`, 400, ""},
				{"invalid JSON", "POST", "/query", `{"sql": `, 400, ""},
				{"body over 64 KiB", "POST", "/query", `{"sql": "SELECT 1 -- ` + strings.Repeat("x", 64<<10) + `"}`, 400, ""},
				{"SQL rejected by Data Cloud", "POST", "/query", `{"sql": "SELECT * FROM NoSuchTable"}`, 400, "NoSuchTable"},
				{"garbled cursor", "POST", "/query", `{"cursor": "!!!not-a-cursor"}`, 400, ""},
				{"unknown route", "GET", "/nope", "", 404, ""},
				{"wrong method", "DELETE", "/query", "", 404, ""},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					status, body := q.api(t, tc.method, tc.path, nil, tc.body)
					var e errorAnswer
					if err := json.Unmarshal(body, &e); err != nil {
						t.Fatalf("body %s: %v", body, err)
					}
					if status != tc.status || e.Error.Code == "" || e.Error.Message == "" || !strings.Contains(e.Error.Message, tc.msgHas) {
						t.Errorf("status %d body %s, want %d with a code and a message mentioning %q", status, body, tc.status, tc.msgHas)
					}
				})
			}
		})
	})
}

func TestQueryUpstreamErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		tests := []struct {
			name   string
			fault  *datacloudtest.Fault
			setup  func(w *world)
			status int
		}{
			{"throttled after retries", &datacloudtest.Fault{Route: "POST /api/v2/query", Status: 429, RetryAfter: "1"}, nil, 429},
			{"upstream 500", &datacloudtest.Fault{Route: "POST /api/v2/query", Status: 500}, nil, 502},
			{"upstream connection reset", &datacloudtest.Fault{Route: "POST /api/v2/query", Reset: true}, nil, 502},
			{"no usable token", nil, func(w *world) { w.putSecret(w.TokenSecret, "{}") }, 503},
			{"instance URL not allowed", nil, func(w *world) {
				// A token whose instance is not in DATACLOUD_ALLOWED_HOSTS is never sent there.
				tok := w.readStored()
				tok.InstanceURL = strings.Replace(tok.InstanceURL, "127.0.0.1", "127.0.0.2", 1)
				b, _ := json.Marshal(tok)
				w.putSecret(w.TokenSecret, string(b))
			}, 502},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				w := newWorld(t, be, datacloudtest.Options{})
				w.seedToken(time.Hour)
				w.seedRows("QErr", 3)
				if tc.setup != nil {
					tc.setup(w)
				}
				// No credentials: a consumer without them cannot refresh (contract §3).
				q := w.start("querytrigger", fnOptions{Without: []string{"DATACLOUD_CREDENTIALS_SECRET"}})
				if tc.fault != nil {
					if err := w.DC.InjectFault(*tc.fault); err != nil {
						t.Fatal(err)
					}
				}
				status, body := q.api(t, "POST", "/query", nil, `{"sql": "SELECT id FROM QErr"}`)
				var e errorAnswer
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("body %s: %v", body, err)
				}
				if status != tc.status || e.Error.Code == "" || e.Error.Message == "" {
					t.Errorf("status %d body %s, want %d with code and message", status, body, tc.status)
				}
				if strings.Contains(string(body), "goroutine") || strings.Contains(string(body), ".go:") {
					t.Errorf("the answer holds a stack trace: %s", body)
				}
			})
		}
	})
}

func colNames(a queryAnswer) []string {
	var out []string
	for _, c := range a.Columns {
		out = append(out, c.Name)
	}
	return out
}
