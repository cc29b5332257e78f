package querysvc

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// rawBatch fetches body through a real client, as the service gets it.
func rawBatch(t testing.TB, body string) *datacloud.RawBatch {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	hosts, err := datacloud.ParseAllowedHosts("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tok := datacloud.Token{AccessToken: "t", InstanceURL: srv.URL, TokenType: "Bearer", ExpiresAt: time.Now().Add(time.Hour)}
	c, err := datacloud.NewClient(datacloud.StaticTokenSource(tok), datacloud.WithAllowedHosts(hosts))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.QueryV2Raw(context.Background(), "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRowsJSON checks the answer's rows against encoding/json's view of the same batch:
// every row an object with the columns in order, values equal, missing values null.
func TestRowsJSON(t *testing.T) {
	cols := []string{"s", `n"<`, "m", "missing"}
	var meta, data []string
	for i, c := range cols {
		k, _ := json.Marshal(c)
		meta = append(meta, string(k)+`:{"type":"VARCHAR","placeInOrder":`+strconv.Itoa(i)+`}`)
	}
	for i, s := range tricky {
		v, _ := json.Marshal(s)
		data = append(data, `[`+string(v)+`,`+strconv.Itoa(i)+`e2, {"b" : true, "z":null}]`)
	}
	data = append(data, `[]`)
	b := rawBatch(t, `{"data":[`+strings.Join(data, ",")+`],"done":true,"metadata":{`+strings.Join(meta, ",")+`}}`)
	var buf []byte
	for _, n := range []int{b.Len(), 2, 0} {
		got, used := rowsJSON(b, n, buf)
		if len(got) != n {
			t.Fatalf("rowsJSON(%d) gave %d rows", n, len(got))
		}
		if buf != nil && &used[:1][0] != &buf[:1][0] {
			t.Errorf("rowsJSON(%d) allocated although the buffer it was given is large enough", n)
		}
		buf = used
		for _, sh := range []shape{{apiGateway: false}, {apiGateway: true}} {
			if costs, want := rowCosts(sh, b, n), sh.costs(got); !slices.Equal(costs, want) {
				t.Errorf("apiGateway=%v: rowCosts = %v, want the rows' costs %v", sh.apiGateway, costs, want)
			}
		}
		for r, row := range got {
			var compact bytes.Buffer
			if err := json.Compact(&compact, row); err != nil || !bytes.Equal(compact.Bytes(), row) {
				t.Fatalf("row %d %q is not compact JSON (%v)", r, row, err)
			}
			dec := json.NewDecoder(bytes.NewReader(row))
			dec.UseNumber()
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				t.Fatal(err)
			}
			if len(obj) != len(cols) {
				t.Fatalf("row %d has %d keys, want %d: %s", r, len(obj), len(cols), row)
			}
			if r < len(tricky) {
				var want string // what the string sent decodes to (invalid UTF-8 replaced)
				if v, err := json.Marshal(tricky[r]); err != nil || json.Unmarshal(v, &want) != nil {
					t.Fatal(err)
				}
				if obj["s"] != want || obj[`n"<`] != json.Number(strconv.Itoa(r)+"e2") || obj["missing"] != nil {
					t.Fatalf("row %d = %s", r, row)
				}
			}
			for i := 1; i < len(cols); i++ { // keys in column order
				k0, _ := marshal(cols[i-1])
				k1, _ := marshal(cols[i])
				if bytes.Index(row, k0) > bytes.Index(row, k1) {
					t.Fatalf("row %d: %s after %s: %s", r, k0, k1, row)
				}
			}
		}
	}
}

// BenchmarkRowsJSON turns a 50,000-row batch of 8 columns, as Data Cloud's v2 batches, into
// answer rows.
func BenchmarkRowsJSON(b *testing.B) {
	var meta []string
	for i := range 8 {
		meta = append(meta, `"col`+strconv.Itoa(i)+`":{"type":"VARCHAR","placeInOrder":`+strconv.Itoa(i)+`}`)
	}
	var data []string
	for r := range 50_000 {
		data = append(data, `["id-`+strconv.Itoa(r)+`",`+strconv.Itoa(r)+`,"a note with \"quotes\"",true,null,"x",1.5,"2026-11-28T18:00:00.000+00:00"]`)
	}
	batch := rawBatch(b, `{"data":[`+strings.Join(data, ",")+`],"done":true,"metadata":{`+strings.Join(meta, ",")+`}}`)
	b.ReportAllocs()
	for b.Loop() {
		if out, _ := rowsJSON(batch, batch.Len(), nil); len(out) != 50_000 {
			b.Fatal(len(out))
		}
	}
}
