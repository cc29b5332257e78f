package datacloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const v2Metadata = `"metadata":{"FirstName__c":{"type":"VARCHAR","placeInOrder":1,"typeCode":12},"Id__c":{"type":"VARCHAR","placeInOrder":0,"typeCode":12},"Amount__c":{"type":"DECIMAL","placeInOrder":2,"typeCode":3}}`

func TestQueryV2(t *testing.T) {
	tn := setup(t)
	var sent map[string]string
	tn.mux.HandleFunc("POST /api/v2/query", func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&sent)
		reply(200, `{"data":[["00034d6c","Larae",12345678901234567890.5],["a2",null,1]],"startTime":"2021-09-21T10:38:55.520428Z","endTime":"2021-09-21T10:39:02.995939Z","rowCount":2,"queryId":"20210921_103858_00784_rpkgk","nextBatchId":"f98c7bcd","done":false,`+v2Metadata+`}`)(w, r)
	})
	res, err := tn.client.QueryV2(context.Background(), "SELECT Id__c FROM x")
	if err != nil {
		t.Fatal(err)
	}
	if sent["sql"] != "SELECT Id__c FROM x" {
		t.Errorf("sent %v", sent)
	}
	wantCols := []Column{{"Id__c", "VARCHAR", 12}, {"FirstName__c", "VARCHAR", 12}, {"Amount__c", "DECIMAL", 3}}
	if !reflect.DeepEqual(res.Columns, wantCols) {
		t.Errorf("columns = %v", res.Columns)
	}
	if res.RowCount != 2 || res.Done || res.NextBatchID != "f98c7bcd" || res.QueryID != "20210921_103858_00784_rpkgk" ||
		res.StartTime != "2021-09-21T10:38:55.520428Z" || res.EndTime == "" {
		t.Errorf("result = %+v", res)
	}
	if n, ok := res.Rows[0][2].(json.Number); !ok || n.String() != "12345678901234567890.5" {
		t.Errorf("big number became %#v", res.Rows[0][2])
	}
	if res.Rows[1][1] != nil || res.Rows[0][1] != "Larae" {
		t.Errorf("rows = %v", res.Rows)
	}
}

func TestQueryV1(t *testing.T) {
	tests := []struct {
		name      string
		opts      QueryV1Options
		wantQuery string
	}{
		{"no options", QueryV1Options{}, ""},
		{"paging", QueryV1Options{Limit: 5, Offset: 10, OrderBy: "Id__c ASC"}, "limit=5&offset=10&orderby=Id__c+ASC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			var gotQuery string
			tn.mux.HandleFunc("POST /api/v1/query", func(w http.ResponseWriter, r *http.Request) {
				gotQuery = r.URL.RawQuery
				reply(200, `{"data":[{"ssot__Id__c":"InStore_018","ssot__PurchaseOrderDate__c":"2021-02-28T00:00:00.000+00:00"},{"ssot__Id__c":"x"}],
 "startTime":"2021-09-08T14:59:39.120024Z","endTime":"2021-09-08T14:59:41.71155Z","rowCount":2,"queryId":"08be2ddc","done":true,
 "metadata":{"ssot__Id__c":{"type":"VARCHAR","placeInOrder":4,"typeCode":12},"ssot__PurchaseOrderDate__c":{"type":"TIMESTAMP","placeInOrder":3,"typeCode":93}}}`)(w, r)
			})
			res, err := tn.client.QueryV1(context.Background(), "SELECT 1", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if gotQuery != tt.wantQuery {
				t.Errorf("query string = %q, want %q", gotQuery, tt.wantQuery)
			}
			if res.Columns[0].Name != "ssot__PurchaseOrderDate__c" || res.Columns[1].Name != "ssot__Id__c" {
				t.Errorf("columns = %v", res.Columns)
			}
			want := [][]any{{"2021-02-28T00:00:00.000+00:00", "InStore_018"}, {nil, "x"}}
			if !reflect.DeepEqual(res.Rows, want) || !res.Done || res.RowCount != 2 {
				t.Errorf("rows = %v", res.Rows)
			}
		})
	}
}

func TestParseQueryResultErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not json", `<html>`, "datacloud: query: decode response"},
		{"unknown column", `{"data":[{"x":1}],"metadata":{}}`, `row 0 has column "x" that the metadata does not list`},
		{"scalar row", `{"data":[1],"metadata":{}}`, "row 0 is neither an array nor an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseQueryResult("query", []byte(tt.body)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	res, err := parseQueryResult("query", []byte(`{"data":[[1],[2]],"done":true}`))
	if err != nil || res.RowCount != 2 {
		t.Errorf("rowCount defaults to the rows: %v %v", res, err)
	}
}

// batches serves a V2 query as the given batches (JSON rows arrays); batch i links to i+1.
func batches(t *testing.T, tn *tenant, rows []string, lastDone bool) *atomic.Int32 {
	t.Helper()
	var gets atomic.Int32
	body := func(i int) string {
		done := i == len(rows)-1 && lastDone
		next := ""
		if !done {
			next = "batch-" + string(rune('a'+i+1))
		}
		b, _ := json.Marshal(next)
		d, _ := json.Marshal(done)
		return `{"data":` + rows[i] + `,"queryId":"q1","nextBatchId":` + string(b) + `,"done":` + string(d) + `,` + v2Metadata + `}`
	}
	tn.mux.HandleFunc("POST /api/v2/query", func(w http.ResponseWriter, r *http.Request) { reply(200, body(0))(w, r) })
	tn.mux.HandleFunc("GET /api/v2/query/{id}", func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		i := int(r.PathValue("id")[len("batch-")] - 'a')
		if i >= len(rows) {
			reply(404, `{"error":"Not Found"}`)(w, r)
			return
		}
		reply(200, body(i))(w, r)
	})
	return &gets
}

func TestRows(t *testing.T) {
	tests := []struct {
		name     string
		batches  []string
		lastDone bool
		stopAt   int // break after this many rows (0 = never)
		wantIDs  string
		wantGets int32
		// wantGetsAhead is the most GETs with PrefetchBatches, where it differs: a break may
		// leave one batch fetched ahead and unread (or cancel its request before it was sent).
		wantGetsAhead int32
		wantErr       bool
	}{
		{name: "one batch", batches: []string{`[["a"],["b"]]`}, lastDone: true, wantIDs: "a,b"},
		{name: "three batches", batches: []string{`[["a"]]`, `[["b"],["c"]]`, `[["d"]]`}, lastDone: true, wantIDs: "a,b,c,d", wantGets: 2},
		{name: "done false then empty done batch", batches: []string{`[["a"],["b"]]`, `[]`}, lastDone: true, wantIDs: "a,b", wantGets: 1},
		{name: "empty first batch", batches: []string{`[]`}, lastDone: true, wantIDs: ""},
		{name: "early break fetches no more", batches: []string{`[["a"],["b"]]`, `[["c"]]`, `[["d"]]`}, lastDone: true, stopAt: 1, wantIDs: "a", wantGetsAhead: 1},
		{name: "break at batch end", batches: []string{`[["a"],["b"]]`, `[["c"]]`, `[["d"]]`}, lastDone: true, stopAt: 3, wantIDs: "a,b,c", wantGets: 1, wantGetsAhead: 2},
		{name: "lost cursor", batches: []string{`[["a"]]`}, lastDone: false, wantIDs: "a", wantGets: 1, wantErr: true},
	}
	for _, prefetch := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/prefetch=%v", tt.name, prefetch), func(t *testing.T) {
				tn := setup(t)
				gets := batches(t, tn, tt.batches, tt.lastDone)
				var opts []RowsOption
				maxGets := tt.wantGets
				if prefetch {
					opts = append(opts, PrefetchBatches())
					maxGets = max(maxGets, tt.wantGetsAhead)
				}
				cols, rows := tn.client.Rows(context.Background(), "SELECT 1", opts...)
				if cols() != nil {
					t.Error("columns known before the query ran")
				}
				var ids []string
				var gotErr error
				for row, err := range rows {
					if err != nil {
						gotErr = err
						break
					}
					ids = append(ids, row[0].(string))
					if len(ids) == tt.stopAt {
						break
					}
				}
				// The loop has returned: a batch fetched ahead has been waited for.
				if (gotErr != nil) != tt.wantErr {
					t.Errorf("err = %v", gotErr)
				}
				if g := gets.Load(); strings.Join(ids, ",") != tt.wantIDs || g < tt.wantGets || g > maxGets {
					t.Errorf("rows %v after %d GETs, want %s after %d to %d", ids, g, tt.wantIDs, tt.wantGets, maxGets)
				}
				if c := cols(); len(c) != 3 || c[0].Name != "Id__c" {
					t.Errorf("columns = %v", c)
				}
			})
		}
	}
}

// TestRowsPrefetchOverlaps checks that with PrefetchBatches the next batch is requested while
// the caller is still on the first row of the current one, and not without it.
func TestRowsPrefetchOverlaps(t *testing.T) {
	for _, prefetch := range []bool{false, true} {
		t.Run(fmt.Sprintf("prefetch=%v", prefetch), func(t *testing.T) {
			tn := setup(t)
			gets := batches(t, tn, []string{`[["a"],["b"]]`, `[["c"]]`}, true)
			var opts []RowsOption
			if prefetch {
				opts = append(opts, PrefetchBatches())
			}
			_, rows := tn.client.Rows(context.Background(), "SELECT 1", opts...)
			var ids []string
			fetchedDuringFirstRow := false
			for row, err := range rows {
				if err != nil {
					t.Fatal(err)
				}
				if len(ids) == 0 {
					wait := time.Second
					if !prefetch {
						wait = 50 * time.Millisecond // long enough for a fetch that should not happen
					}
					for deadline := time.Now().Add(wait); gets.Load() == 0 && time.Now().Before(deadline); {
						time.Sleep(time.Millisecond)
					}
					fetchedDuringFirstRow = gets.Load() > 0
				}
				ids = append(ids, row[0].(string))
			}
			if strings.Join(ids, ",") != "a,b,c" || fetchedDuringFirstRow != prefetch {
				t.Errorf("rows %v; next batch fetched while on the first row: %v, want %v", ids, fetchedDuringFirstRow, prefetch)
			}
		})
	}
}

func TestRowsErrors(t *testing.T) {
	t.Run("query fails", func(t *testing.T) {
		tn := setup(t)
		tn.mux.HandleFunc("POST /api/v2/query", reply(400, `{"error":"Bad Request","message":"syntax error"}`))
		_, rows := tn.client.Rows(context.Background(), "SELEC")
		n := 0
		for row, err := range rows {
			n++
			var ae *APIError
			if row != nil || !errors.As(err, &ae) || ae.Message != "syntax error" {
				t.Errorf("row %v err %v", row, err)
			}
		}
		if n != 1 {
			t.Errorf("yielded %d times, want 1", n)
		}
	})
	t.Run("repeated cursor", func(t *testing.T) {
		tn := setup(t)
		page := `{"data":[["a"]],"nextBatchId":"same","done":false,` + v2Metadata + `}`
		tn.mux.HandleFunc("POST /api/v2/query", reply(200, page))
		tn.mux.HandleFunc("GET /api/v2/query/same", reply(200, page))
		_, rows := tn.client.Rows(context.Background(), "SELECT 1")
		var n int
		var last error
		for _, err := range rows {
			n++
			last = err
			if n > 10 {
				t.Fatal("did not stop")
			}
		}
		if last == nil || !strings.Contains(last.Error(), "repeated batch id same") {
			t.Errorf("err = %v after %d", last, n)
		}
	})
}

func TestMetadata(t *testing.T) {
	doc := `{"metadata":[{"name":"ssot__Individual__dlm","category":"Profile","fields":[{"name":"ssot__Id__c","type":"STRING"}],"primaryKeys":[{"name":"ssot__Id__c","indexOrder":"1"}]}]}`
	tests := []struct {
		name      string
		opts      MetadataOptions
		body      string
		wantQuery string
		wantErr   string
	}{
		{name: "all", body: doc},
		{name: "filtered", opts: MetadataOptions{EntityType: "DataModelObject", EntityName: "ssot__Individual__dlm", EntityCategory: "Profile"},
			body: doc, wantQuery: "entityCategory=Profile&entityName=ssot__Individual__dlm&entityType=DataModelObject"},
		{name: "not json", body: "<html>oops</html>", wantErr: "datacloud: metadata: response is not JSON: oops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			var gotQuery string
			tn.mux.HandleFunc("GET /api/v1/metadata", func(w http.ResponseWriter, r *http.Request) {
				gotQuery = r.URL.RawQuery
				w.WriteHeader(200)
				io.WriteString(w, tt.body)
			})
			got, err := tn.client.Metadata(context.Background(), tt.opts)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.body || gotQuery != tt.wantQuery {
				t.Errorf("got %s, query %q", got, gotQuery)
			}
		})
	}
}
