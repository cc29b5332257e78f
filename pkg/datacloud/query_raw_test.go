package datacloud

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// sameAsDecoded checks that the raw batch and the decoded result of the same body agree:
// columns, header fields, and every value (decoded with UseNumber; missing ones null). It
// also checks that every raw value is valid, compact JSON.
func sameAsDecoded(t *testing.T, raw *RawBatch, res *QueryResult) {
	t.Helper()
	if !reflect.DeepEqual(raw.Columns, res.Columns) || raw.Len() != len(res.Rows) || raw.RowCount != res.RowCount ||
		raw.QueryID != res.QueryID || raw.Done != res.Done || raw.NextBatchID != res.NextBatchID ||
		raw.StartTime != res.StartTime || raw.EndTime != res.EndTime {
		t.Fatalf("raw batch %+v\ndecoded %+v", raw, res)
	}
	for r, row := range res.Rows {
		for c := range raw.Columns {
			v := raw.Value(r, c)
			var compact bytes.Buffer
			if err := json.Compact(&compact, v); err != nil || !bytes.Equal(compact.Bytes(), v) {
				t.Fatalf("row %d column %d: %q is not compact JSON (%v)", r, c, v, err)
			}
			var got any
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			var want any
			if c < len(row) {
				want = row[c]
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("row %d column %d: raw %s, decoded %#v", r, c, v, want)
			}
		}
	}
}

func TestParseRawBatch(t *testing.T) {
	const meta = `"metadata":{"b":{"type":"VARCHAR","placeInOrder":1,"typeCode":12},"a":{"type":"DECIMAL","placeInOrder":0,"typeCode":3}}`
	tests := []struct {
		name string
		body string
		want [][]string // raw values per row, in column order (a, b)
	}{
		{"v2 arrays", `{"data":[[1,"x"],[2.5e3,null]],"rowCount":2,"queryId":"q","nextBatchId":"n","done":false,` + meta + `}`,
			[][]string{{`1`, `"x"`}, {`2.5e3`, `null`}}},
		{"v1 objects, any key order, missing key", `{"data":[{"b":"y","a":-0.5},{"a":7}],"done":true,` + meta + `}`,
			[][]string{{`-0.5`, `"y"`}, {`7`, `null`}}},
		{"metadata first, whitespace around everything", " \n{ " + meta + ` , "data" : [ [ 1 , "a\"\\\/\u00e9\n" ] , [ true ] , [ 3 , "z" , "extra" ] ] , "done" : true } `,
			[][]string{{`1`, `"a\"\\\/\u00e9\n"`}, {`true`, `null`}, {`3`, `"z"`}}},
		{"escaped key", `{"data":[{"\u0061":1,"b":"é"}],` + meta + `}`, [][]string{{`1`, `"é"`}}},
		{"nested values are compacted", `{"data":[[[1, 2], {"k" : "v"}]],` + meta + `}`, [][]string{{`[1,2]`, `{"k":"v"}`}}},
		{"invalid utf-8 is re-encoded", "{\"data\":[[1,\"a\xffb\"]]," + meta + "}", [][]string{{`1`, "\"a\ufffdb\""}}},
		{"html is not escaped", `{"data":[[1,"<a&b>"]],` + meta + `}`, [][]string{{`1`, `"<a&b>"`}}},
		{"null data", `{"data":null,"done":true,` + meta + `}`, nil},
		{"empty data", `{"data":[],"done":true,` + meta + `}`, nil},
		{"no data", `{"done":true,` + meta + `}`, nil},
		{"null body", `null`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := parseRawBatch("query", []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			res, err := parseQueryResult("query", []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			sameAsDecoded(t, raw, res)
			var got [][]string
			for r := range raw.Len() {
				var row []string
				for c := range raw.Columns {
					row = append(row, string(raw.Value(r, c)))
				}
				got = append(got, row)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("values = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseRawBatchRejects(t *testing.T) {
	const meta = `"metadata":{"a":{"type":"DECIMAL","placeInOrder":0,"typeCode":3}}`
	tests := []struct {
		name, body, want string
	}{
		{"truncated", `{"data":[[1,2`, "unexpected end"},
		{"bad number", `{"data":[[01]],` + meta + `}`, "want ',' or ']'"},
		{"bad fraction", `{"data":[[1.]],` + meta + `}`, "no digits after the decimal point"},
		{"control character", "{\"data\":[[\"a\tb\"]]," + meta + "}", "control character"},
		{"bad escape", `{"data":[["\x"]],` + meta + `}`, `invalid escape`},
		{"bad literal", `{"data":[[nul]],` + meta + `}`, "invalid literal"},
		{"row not a list", `{"data":[1],` + meta + `}`, "row 0 is neither an array nor an object"},
		{"unknown column", `{"data":[{"zz":1}],` + meta + `}`, `row 0 has column "zz" that the metadata does not list`},
		{"not an object", `[1]`, "not a JSON object"},
		{"trailing comma", `{"data":[[1],],` + meta + `}`, "row 1 is neither an array nor an object"},
		{"bad metadata", `{"data":[],"metadata":{"a":{"placeInOrder":"x"}}}`, "decode response"},
		{"too deep", `{"data":[[` + strings.Repeat("[", maxScanDepth+1) + `]]}`, "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseRawBatch("query", []byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "datacloud: query: ") {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if _, err := parseQueryResult("query", []byte(tt.body)); err == nil {
				t.Fatalf("parseQueryResult accepted what parseRawBatch rejects")
			}
		})
	}
}

// FuzzParseRawBatch checks parseRawBatch against parseQueryResult on arbitrary bodies: it
// never panics, yields only valid JSON values, and where both succeed the values agree.
func FuzzParseRawBatch(f *testing.F) {
	f.Add([]byte(`{"data":[[1,"x"],[2.5e3,null]],"rowCount":2,"done":false,"metadata":{"a":{"placeInOrder":0},"b":{"placeInOrder":1}}}`))
	f.Add([]byte(`{"data":[{"b":"y","a":-0.5},{"a":[1, {"x" : 2}]}],"metadata":{"a":{"placeInOrder":0},"b":{"placeInOrder":1}}}`))
	f.Add([]byte("{\"data\":[[\"\xff\\u00e9\"]],\"metadata\":{\"a\":{}}}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		raw, err := parseRawBatch("query", body)
		if err != nil {
			return
		}
		for r := range raw.Len() {
			for c := range raw.Columns {
				if v := raw.Value(r, c); !json.Valid(v) {
					t.Fatalf("row %d column %d: %q is not valid JSON", r, c, v)
				}
			}
		}
		res, err := parseQueryResult("query", body)
		if err != nil {
			return // e.g. a key that encoding/json matches case-insensitively
		}
		sameAsDecoded(t, raw, res)
	})
}

func TestRawMethodsMatchDecoded(t *testing.T) {
	tn := setup(t)
	body := `{"data":[["00034d6c","Larae",12345678901234567890.5],["a2",null,1]],"rowCount":2,"queryId":"q1","nextBatchId":"nb","done":false,` + v2Metadata + `}`
	var paths []string
	handler := func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		reply(200, body)(w, r)
	}
	tn.mux.HandleFunc("POST /api/v2/query", handler)
	tn.mux.HandleFunc("GET /api/v2/query/{id}", handler)
	tn.mux.HandleFunc("POST /api/v1/query", handler)
	ctx := context.Background()
	calls := []struct {
		name string
		raw  func() (*RawBatch, error)
		dec  func() (*QueryResult, error)
	}{
		{"v2", func() (*RawBatch, error) { return tn.client.QueryV2Raw(ctx, "SELECT 1") },
			func() (*QueryResult, error) { return tn.client.QueryV2(ctx, "SELECT 1") }},
		{"next", func() (*RawBatch, error) { return tn.client.NextBatchRaw(ctx, "nb") },
			func() (*QueryResult, error) { return tn.client.NextBatch(ctx, "nb") }},
		{"v1", func() (*RawBatch, error) {
			return tn.client.QueryV1Raw(ctx, "SELECT 1", QueryV1Options{Limit: 3, Offset: 4})
		},
			func() (*QueryResult, error) {
				return tn.client.QueryV1(ctx, "SELECT 1", QueryV1Options{Limit: 3, Offset: 4})
			}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			paths = nil
			raw, err := c.raw()
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.dec()
			if err != nil {
				t.Fatal(err)
			}
			if len(paths) != 2 || paths[0] != paths[1] {
				t.Fatalf("requests %q: the raw and decoded calls should send the same request", paths)
			}
			sameAsDecoded(t, raw, res)
		})
	}
	if _, err := tn.client.QueryV2Raw(ctx, " "); err == nil || !strings.Contains(err.Error(), "sql is empty") {
		t.Fatalf("empty sql: %v", err)
	}
	if _, err := tn.client.NextBatchRaw(ctx, ""); err == nil || !strings.Contains(err.Error(), "next batch id is empty") {
		t.Fatalf("empty batch id: %v", err)
	}
}

// TestRawBatchSlice takes rows out of a batch: values, count and the shared memory line up,
// and a range outside the batch panics.
func TestRawBatchSlice(t *testing.T) {
	body := `{"data":[["a",1],["b",2],["c",null]],"metadata":{"id":{"type":"VARCHAR","placeInOrder":0},"n":{"type":"DECIMAL","placeInOrder":1}},"rowCount":3,"done":false,"nextBatchId":"nb","queryId":"q"}`
	b, err := parseRawBatch("query", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		from, to int
		want     string
	}{{0, 3, `"a" 1 "b" 2 "c" null`}, {1, 3, `"b" 2 "c" null`}, {2, 2, ``}, {0, 1, `"a" 1`}} {
		s := b.Slice(tt.from, tt.to)
		var got []string
		for r := range s.Len() {
			for c := range s.Columns {
				got = append(got, string(s.Value(r, c)))
			}
		}
		if strings.Join(got, " ") != tt.want || s.Len() != tt.to-tt.from || s.RowCount != s.Len() || s.NextBatchID != "nb" || s.QueryID != "q" {
			t.Errorf("Slice(%d, %d) = %q (%d rows, rowCount %d, next %q)", tt.from, tt.to, got, s.Len(), s.RowCount, s.NextBatchID)
		}
	}
	for _, r := range [][2]int{{-1, 1}, {2, 1}, {0, 4}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Slice(%d, %d) of 3 rows did not panic", r[0], r[1])
				}
			}()
			b.Slice(r[0], r[1])
		}()
	}
}
