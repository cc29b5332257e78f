package datacloudtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// seedPeople streams n records into Event_API/people: id, name, score, vip, seen.
func (e *env) seedPeople(tok string, n int) {
	e.t.Helper()
	var recs []string
	for i := 1; i <= n; i++ {
		recs = append(recs, fmt.Sprintf(`{"id":"p%03d","name":"n%d","score":%d.5,"vip":%t,"seen":"2024-01-0%dT10:00:00.000Z"}`, i, i, i, i%2 == 0, 1+i%9))
	}
	mustStatus(e.t, e.do("POST", "/api/v1/ingest/sources/Event_API/people", tok, `{"data":[`+strings.Join(recs, ",")+`]}`, ""), 202)
}

func TestQueryV1(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	e.seedPeople(tok, 7)
	q := func(query, sql string) map[string]any {
		t.Helper()
		r := e.do("POST", "/api/v1/query"+query, tok, map[string]string{"sql": sql}, "")
		mustStatus(t, r, 200)
		return r.json(t)
	}
	b := q("", "SELECT id, name, score, vip, seen FROM people ORDER BY id")
	data := b["data"].([]any)
	if len(data) != 7 || b["rowCount"] != float64(7) || b["done"] != true {
		t.Fatalf("body %v", b)
	}
	first := data[0].(map[string]any)
	if first["id"] != "p001" || first["score"] != 1.5 || first["vip"] != false || first["seen"] != "2024-01-02T10:00:00.000+00:00" {
		t.Errorf("first row %v", first)
	}
	meta := b["metadata"].(map[string]any)
	want := map[string][2]any{"id": {"VARCHAR", 12.0}, "score": {"DECIMAL", 3.0}, "vip": {"BOOLEAN", 16.0}, "seen": {"TIMESTAMP", 93.0}}
	for col, w := range want {
		m := meta[col].(map[string]any)
		if m["type"] != w[0] || m["typeCode"] != w[1] {
			t.Errorf("metadata[%s] = %v, want %v", col, m, w)
		}
	}
	if meta["seen"].(map[string]any)["placeInOrder"] != 4.0 {
		t.Errorf("placeInOrder %v", meta["seen"])
	}
	for _, k := range []string{"startTime", "endTime", "queryId"} {
		if s, _ := b[k].(string); s == "" {
			t.Errorf("%s missing", k)
		}
	}

	b = q("?limit=3&offset=2&orderby=id%20DESC", "SELECT id FROM people -- a trailing comment")
	if d := b["data"].([]any); len(d) != 3 || d[0].(map[string]any)["id"] != "p005" || b["done"] != false {
		t.Fatalf("paged body %v", b)
	}
	if b = q("?limit=3&offset=6&orderby=id", "SELECT id FROM people"); b["done"] != true || len(b["data"].([]any)) != 1 {
		t.Fatalf("last page %v", b)
	}
	b = q("", "-- count them\n/* and average */ SELECT COUNT(*) AS n, AVG(score) AS a FROM people;")
	meta = b["metadata"].(map[string]any)
	if meta["n"].(map[string]any)["type"] != "BIGINT" || meta["n"].(map[string]any)["typeCode"] != -5.0 || meta["a"].(map[string]any)["type"] != "DECIMAL" {
		t.Errorf("aggregate metadata %v", meta)
	}
	if b["data"].([]any)[0].(map[string]any)["n"] != 7.0 {
		t.Errorf("count %v", b["data"])
	}
}

func TestQueryErrors(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	e.seedPeople(tok, 1)
	for _, tc := range []struct {
		name, path string
		body       any
		msg        string
	}{
		{"unknown table", "/api/v1/query", map[string]string{"sql": "SELECT * FROM nope"}, "no such table: nope"},
		{"syntax", "/api/v2/query", map[string]string{"sql": "SELECT FROM WHERE"}, "query failed"},
		{"write", "/api/v1/query", map[string]string{"sql": "DELETE FROM people"}, "only SELECT"},
		{"write in second statement", "/api/v2/query", map[string]string{"sql": "SELECT 1; DROP TABLE people"}, "query failed"},
		{"empty sql", "/api/v1/query", map[string]string{"sql": " "}, `"sql" is required`},
		{"not json", "/api/v2/query", "{", "invalid JSON"},
		{"limit too big", "/api/v1/query?limit=50000", map[string]string{"sql": "SELECT 1"}, "between 1 and 49999"},
		{"bad offset", "/api/v1/query?offset=-2", map[string]string{"sql": "SELECT 1"}, "invalid offset"},
		{"bad orderby", "/api/v1/query?orderby=id%20SIDEWAYS", map[string]string{"sql": "SELECT 1"}, "invalid orderby"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", tc.path, tok, tc.body, "application/json")
			mustStatus(t, r, 400)
			if b := r.json(t); b["error"] != "Bad Request" || !strings.Contains(r.message(t), tc.msg) {
				t.Fatalf("body %s, want message with %q", r.raw, tc.msg)
			}
		})
	}
	if recs := e.s.Records("Event_API", "people"); len(recs) != 1 {
		t.Fatalf("a query changed data: %v", recs)
	}
	// Ingestion still writes after a rejected write attempt left query_only behind.
	e.seedPeople(tok, 2)
	if recs := e.s.Records("Event_API", "people"); len(recs) != 2 {
		t.Fatalf("records %v", recs)
	}
}

// fetchAll follows nextBatchId and returns each batch's row count.
func (e *env) fetchAll(tok, sql string) (batches []int, ids []string, rows [][]any) {
	e.t.Helper()
	r := e.do("POST", "/api/v2/query", tok, map[string]string{"sql": sql}, "")
	for i := 0; ; i++ {
		if i > 1000 {
			e.t.Fatal("more than 1000 batches")
		}
		mustStatus(e.t, r, 200)
		b := r.json(e.t)
		data := b["data"].([]any)
		if int(b["rowCount"].(float64)) != len(data) {
			e.t.Fatalf("rowCount %v with %d rows", b["rowCount"], len(data))
		}
		batches = append(batches, len(data))
		for _, row := range data {
			rows = append(rows, row.([]any))
		}
		if b["done"] == true {
			if _, has := b["nextBatchId"]; has {
				e.t.Fatalf("final batch has nextBatchId: %v", b)
			}
			return batches, ids, rows
		}
		id := b["nextBatchId"].(string)
		ids = append(ids, id)
		r = e.do("GET", "/api/v2/query/"+id, tok, nil, "")
	}
}

func TestQueryV2Batches(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		n       int
		batches string
	}{
		{"one batch", Options{}, 7, "[7]"},
		{"row batches", Options{QueryBatchRows: 3}, 7, "[3 3 1]"},
		{"exact multiple", Options{QueryBatchRows: 7}, 7, "[7]"},
		{"empty final batch", Options{QueryBatchRows: 3, EmptyFinalBatch: true}, 6, "[3 3 0]"},
		{"byte cap", Options{QueryBatchBytes: 40}, 7, "[2 2 2 1]"},
		{"no rows", Options{}, 0, "[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			tok := e.tenantToken()
			e.seedPeople(tok, max(tc.n, 1))
			sql := "SELECT id, name, score FROM people ORDER BY id"
			if tc.n == 0 {
				sql += " LIMIT 0"
			}
			batches, ids, rows := e.fetchAll(tok, sql)
			if fmt.Sprint(batches) != tc.batches {
				t.Fatalf("batches %v, want %s", batches, tc.batches)
			}
			if len(rows) != tc.n || (tc.n > 0 && (rows[0][0] != "p001" || rows[tc.n-1][0] != fmt.Sprintf("p%03d", tc.n))) {
				t.Fatalf("rows %v", rows)
			}
			for _, id := range ids {
				r := e.do("GET", "/api/v2/query/"+id, tok, nil, "")
				mustStatus(t, r, 404)
				if !strings.Contains(r.message(t), "already used") {
					t.Fatalf("reuse message %q", r.message(t))
				}
			}
		})
	}
}

func TestQueryV2BatchIDExpires(t *testing.T) {
	e := newEnv(t, Options{QueryBatchRows: 1})
	tok := e.tenantToken()
	e.seedPeople(tok, 2)
	b := e.do("POST", "/api/v2/query", tok, map[string]string{"sql": "SELECT id FROM people"}, "").json(t)
	e.clock.Advance(time.Hour + time.Second)
	e.s.Revoke(tok) // the token expired too in real life; use a fresh one
	tok = e.s.IssueTenantToken(testUser)
	mustStatus(t, e.do("GET", "/api/v2/query/"+b["nextBatchId"].(string), tok, nil, ""), 404)
	mustStatus(t, e.do("GET", "/api/v2/query/unknown", tok, nil, ""), 404)
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, Options{Objects: map[string]ObjectSpec{"orders": {PrimaryKey: "order_id", Category: "Engagement"}}})
	tok := e.tenantToken()
	e.seedPeople(tok, 1)
	mustStatus(t, e.do("POST", "/api/v1/ingest/sources/S/orders", tok, `{"data":[{"amount":3,"order_id":"o1","note":null},{"order_id":"o2","note":"x"}]}`, ""), 202)
	get := func(q string) []any {
		t.Helper()
		r := e.do("GET", "/api/v1/metadata"+q, tok, nil, "")
		mustStatus(t, r, 200)
		return r.json(t)["metadata"].([]any)
	}
	all := get("/")
	if len(all) != 2 {
		t.Fatalf("metadata %v", all)
	}
	orders := all[0].(map[string]any)
	if orders["name"] != "orders" || orders["category"] != "Engagement" || keysOf(orders) != "category,displayName,fields,name,primaryKeys" {
		t.Fatalf("orders %v", orders)
	}
	pk := orders["primaryKeys"].([]any)[0].(map[string]any)
	if pk["name"] != "order_id" || pk["indexOrder"] != "1" {
		t.Errorf("primary key %v", pk)
	}
	fields := fmt.Sprint(orders["fields"])
	for _, want := range []string{"name:amount type:NUMBER", "name:note type:STRING"} {
		if !strings.Contains(fields, want) {
			t.Errorf("fields %s lack %q", fields, want)
		}
	}
	people := all[1].(map[string]any)
	if pk := people["primaryKeys"].([]any)[0].(map[string]any); pk["name"] != "id" || people["category"] != "Profile" {
		t.Errorf("people %v", people)
	}
	for _, tc := range []struct {
		query string
		n     int
	}{
		{"?entityType=DataLakeObject", 2},
		{"?entityType=DataModelObject", 0},
		{"?entityName=orders", 1},
		{"?entityName=nope", 0},
		{"?entityCategory=Profile", 1},
		{"?entityCategory=Related", 0},
	} {
		if got := get(tc.query); len(got) != tc.n {
			t.Errorf("%s: %d entities, want %d", tc.query, len(got), tc.n)
		}
	}
	mustStatus(t, e.do("GET", "/api/v1/metadata?entityType=Table", tok, nil, ""), 400)
	mustStatus(t, e.do("GET", "/api/v1/metadata?entityCategory=Other", tok, nil, ""), 400)
	if got := e.s.Objects(); fmt.Sprint(got) != "[orders people]" {
		t.Errorf("Objects() = %v", got)
	}
}

// TestV1RowsMatchMapEncoding checks the V1 row encoder against what it replaced: encoding/json
// of one map per row (sorted keys, HTML escaped, the last of repeated names kept).
func TestV1RowsMatchMapEncoding(t *testing.T) {
	tests := []struct {
		name string
		cols []qcol
		rows [][]any
	}{
		{"mixed values, unsorted names", []qcol{{name: "z"}, {name: "a<b"}, {name: "m"}, {name: "É"}},
			[][]any{{"x<y>&z", int64(-3), 1.5, nil}, {"é \u2028 \x01 \"q\"", int64(1 << 60), true, "2021-02-28T00:00:00.000+00:00"}}},
		{"repeated names keep the last", []qcol{{name: "b"}, {name: "a"}, {name: "b"}}, [][]any{{"first", 1.0, "last"}}},
		{"no rows", []qcol{{name: "a"}}, nil},
		{"no columns", nil, [][]any{{}, {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v1Rows(tt.cols, tt.rows)
			if err != nil {
				t.Fatal(err)
			}
			maps := make([]map[string]any, len(tt.rows))
			for i, row := range tt.rows {
				maps[i] = map[string]any{}
				for c, col := range tt.cols {
					maps[i][col.name] = row[c]
				}
			}
			want, err := json.Marshal(maps)
			if err != nil {
				t.Fatal(err)
			}
			if tt.rows == nil {
				want = []byte("[]") // the handler always sends an array
			}
			if string(got) != string(want) {
				t.Fatalf("v1Rows =\n%s\nwant\n%s", got, want)
			}
		})
	}
}
