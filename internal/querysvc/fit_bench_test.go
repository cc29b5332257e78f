package querysvc

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkFitLargeBatch cuts a ~12 MB batch (50,000 rows) to the default budget, as for a
// full V2 batch through API Gateway.
func BenchmarkFitLargeBatch(b *testing.B) {
	s := New(nil, Options{})
	rows := make([]json.RawMessage, 50_000)
	note := strings.Repeat(`a"b<c>`, 35)
	for i := range rows {
		rows[i] = json.RawMessage(fmt.Sprintf(`{"id":"r%06d","n":%d,"note":%q}`, i, i, note))
	}
	p := page{columns: []Column{{"id", "VARCHAR"}, {"n", "DECIMAL"}, {"note", "VARCHAR"}}, queryID: "q", rows: rows,
		cursorAll: encodeCursor(cursor{B: "next", S: ordersSQL}),
		cursorAt:  func(k int) string { return encodeCursor(cursor{N: k, L: 1000, S: ordersSQL}) }}
	sh := shape{apiGateway: true}
	p.costs = sh.costs(rows)
	b.ReportAllocs()
	for b.Loop() {
		out, k, aerr := s.fit(sh, p)
		if aerr != nil || k == 0 || k == len(rows) || payloadSize(out) > s.budget {
			b.Fatalf("k=%d size=%d err=%v", k, len(out), aerr)
		}
	}
}
