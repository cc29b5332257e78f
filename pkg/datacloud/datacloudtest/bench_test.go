package datacloudtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// serve runs one request through the handler without a network.
func serve(b *testing.B, s *Server, method, path, tok string, body []byte) *httptest.ResponseRecorder {
	b.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func streamingBody(n, from int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"data":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"r%07d","name":"name %d","score":%d.25,"vip":%t,"seen":"2024-05-01T10:00:00.000Z"}`, from+i, i, i, i%2 == 0)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

func BenchmarkStreamingUpsert(b *testing.B) {
	s := New(Options{})
	b.Cleanup(func() { s.Close() })
	tok := s.IssueTenantToken("bench@example.com")
	body := streamingBody(1800, 0) // just under 200,000 bytes
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := serve(b, s, "POST", "/api/v1/ingest/sources/B/stream", tok, body); rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkBulkJob(b *testing.B) {
	s := New(Options{})
	b.Cleanup(func() { s.Close() })
	tok := s.IssueTenantToken("bench@example.com")
	var csv bytes.Buffer
	csv.WriteString("id,name,score\n")
	for i := range 20000 {
		fmt.Fprintf(&csv, "r%07d,\"name, %d\",%d.5\n", i, i, i)
	}
	b.SetBytes(int64(csv.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := serve(b, s, "POST", "/api/v1/ingest/jobs", tok, []byte(`{"object":"bulk","sourceName":"B","operation":"upsert"}`))
		var j struct{ ID string }
		json.Unmarshal(rec.Body.Bytes(), &j) //nolint:errcheck // checked through the next status
		if rec := serve(b, s, "PUT", "/api/v1/ingest/jobs/"+j.ID+"/batches", tok, csv.Bytes()); rec.Code != http.StatusAccepted {
			b.Fatalf("upload %d: %s", rec.Code, rec.Body)
		}
		if rec := serve(b, s, "PATCH", "/api/v1/ingest/jobs/"+j.ID, tok, []byte(`{"state":"UploadComplete"}`)); rec.Code != http.StatusOK {
			b.Fatalf("close %d", rec.Code)
		}
	}
}

func BenchmarkQueryV2AllBatches(b *testing.B) {
	s := New(Options{QueryBatchRows: 1000})
	b.Cleanup(func() { s.Close() })
	tok := s.IssueTenantToken("bench@example.com")
	for i := range 10 {
		serve(b, s, "POST", "/api/v1/ingest/sources/B/q", tok, streamingBody(1000, i*1000))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := serve(b, s, "POST", "/api/v2/query", tok, []byte(`{"sql":"SELECT * FROM q"}`))
		rows := 0
		for {
			var body struct {
				Data        [][]any
				NextBatchID string
				Done        bool
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				b.Fatal(err)
			}
			rows += len(body.Data)
			if body.Done {
				break
			}
			rec = serve(b, s, "GET", "/api/v2/query/"+body.NextBatchID, tok, nil)
		}
		if rows != 10000 {
			b.Fatalf("%d rows", rows)
		}
	}
}
