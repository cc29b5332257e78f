package datacloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestUpsertBody(t *testing.T) {
	tests := []struct {
		name, source, object string
		body                 string
		wantPath, wantErr    string
	}{
		{name: "plain", source: "Event_API", object: "runner_profiles", body: `{"data":[{"id":"1"}]}`,
			wantPath: "/api/v1/ingest/sources/Event_API/runner_profiles"},
		{name: "escaped names", source: "My Source", object: "a/b", body: `{"data":[{}]}`,
			wantPath: "/api/v1/ingest/sources/My%20Source/a%2Fb"},
		{name: "empty source", source: "", object: "o", body: `{}`, wantErr: "datacloud: upsert: source name is empty"},
		{name: "empty object", source: "s", object: " ", body: `{}`, wantErr: "datacloud: upsert: object name is empty"},
		{name: "empty body", source: "s", object: "o", body: ``, wantErr: "datacloud: upsert: body is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			var gotPath, gotBody string
			tn.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				gotPath, gotBody = r.URL.EscapedPath(), string(b)
				reply(202, `{"accepted":true}`)(w, r)
			})
			err := tn.client.UpsertBody(context.Background(), tt.source, tt.object, []byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || gotPath != "" {
					t.Fatalf("err = %v, request to %q", err, gotPath)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if gotPath != tt.wantPath || gotBody != tt.body {
				t.Errorf("sent %q %q", gotPath, gotBody)
			}
		})
	}
}

func TestDeleteRecords(t *testing.T) {
	many := make([]string, 450)
	for i := range many {
		many[i] = fmt.Sprintf("id-%03d", i)
	}
	tests := []struct {
		name       string
		ids        []string
		wantChunks []int
		wantErr    string
	}{
		{name: "none", ids: nil},
		{name: "one", ids: []string{"101"}, wantChunks: []int{1}},
		{name: "exactly 200", ids: many[:200], wantChunks: []int{200}},
		{name: "450 in chunks", ids: many, wantChunks: []int{200, 200, 50}},
		{name: "escaped", ids: []string{"a b", "x&y=z", "é/1", "p+q"}, wantChunks: []int{4}},
		{name: "comma", ids: []string{"ok", "a,b"}, wantErr: `datacloud: delete records: id 1 ("a,b") is empty or holds a comma`},
		{name: "empty id", ids: []string{""}, wantErr: "is empty or holds a comma"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			var mu sync.Mutex
			var got [][]string
			tn.mux.HandleFunc("DELETE /api/v1/ingest/sources/s/o", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = append(got, strings.Split(r.URL.Query().Get("ids"), ","))
				mu.Unlock()
				reply(202, `{"accepted":true}`)(w, r)
			})
			err := tn.client.DeleteRecords(context.Background(), "s", "o", tt.ids)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || len(got) != 0 {
					t.Fatalf("err = %v, %d requests", err, len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for i, chunk := range got {
				if len(chunk) != tt.wantChunks[i] {
					t.Errorf("chunk %d has %d ids, want %d", i, len(chunk), tt.wantChunks[i])
				}
				all = append(all, chunk...)
			}
			if len(got) != len(tt.wantChunks) || strings.Join(all, "|") != strings.Join(tt.ids, "|") {
				t.Errorf("server saw %v", got)
			}
		})
	}
}

func TestDeleteRecordsStopsAtTheFirstFailure(t *testing.T) {
	tn := setup(t)
	calls := 0
	tn.mux.HandleFunc("DELETE /api/v1/ingest/sources/s/o", func(w http.ResponseWriter, r *http.Request) {
		calls++
		reply(400, `{"error":"Bad Request","message":"too many ids"}`)(w, r)
	})
	ids := make([]string, 201)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	err := tn.client.DeleteRecords(context.Background(), "s", "o", ids)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Op != "delete records" || ae.Path != "/api/v1/ingest/sources/s/o" || calls != 1 {
		t.Fatalf("err = %v, calls = %d", err, calls)
	}
	if _, err := (&Client{}).ValidateRecords(context.Background(), "", "o", nil); err == nil {
		t.Error("empty source accepted")
	}
}

func TestValidateRecords(t *testing.T) {
	tests := []struct {
		name         string
		handler      http.HandlerFunc
		wantAccepted bool
		wantReport   string
		wantStatus   int // of an APIError
	}{
		{name: "accepted", handler: reply(200, `{"accepted":true}`), wantAccepted: true},
		{name: "202 no body", handler: reply(202, ``), wantAccepted: true},
		{name: "report in a 400", handler: reply(400, `{"timestamp":"2021-08-20T16:34:26.047666Z","validationReport":{"failed":[{"record":0,"error":"id is required"}]}}`),
			wantReport: `{"failed":[{"record":0,"error":"id is required"}]}`},
		{name: "report in a 200", handler: reply(200, `{"validationReport":["bad"]}`), wantReport: `["bad"]`},
		{name: "accepted false", handler: reply(200, `{"accepted":false}`)},
		{name: "plain 400", handler: reply(400, `{"error":"Bad Request","message":"no such object"}`), wantStatus: 400},
		{name: "404", handler: reply(404, `{"error":"Not Found"}`), wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			tn.mux.HandleFunc("POST /api/v1/ingest/sources/s/o/actions/test", tt.handler)
			res, err := tn.client.ValidateRecords(context.Background(), "s", "o", []byte(`{"data":[{}]}`))
			if tt.wantStatus != 0 {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != tt.wantStatus || ae.Op != "validate records" {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted != tt.wantAccepted || string(res.Report) != tt.wantReport {
				t.Errorf("got accepted=%v report=%s", res.Accepted, res.Report)
			}
		})
	}
}

// streamServer collects streaming upsert bodies; failAt (1-based) answers that body with 500s.
type streamServer struct {
	mu     sync.Mutex
	bodies [][]byte
	failAt int
}

func (s *streamServer) handle(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAt > 0 && len(s.bodies)+1 == s.failAt {
		reply(400, `{"error":"Bad Request","message":"field x unknown"}`)(w, r)
		return
	}
	s.bodies = append(s.bodies, b)
	reply(202, `{"accepted":true}`)(w, r)
}

func (s *streamServer) records(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, b := range s.bodies {
		var body struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("body is not JSON: %v", err)
		}
		for _, d := range body.Data {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

func jsonl(n int) (string, []string) {
	var b strings.Builder
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("r%04d", i)
		fmt.Fprintf(&b, `{"id":"%s","name":"record number %d"}`+"\n", ids[i], i)
	}
	return b.String(), ids
}

func TestStreamRecords(t *testing.T) {
	input, ids := jsonl(300)
	tests := []struct {
		name        string
		input       string
		limit       int
		failAt      int
		wantRecords int64
		wantBodies  int
		wantErr     any // pointer to an error type, for errors.As
	}{
		{name: "one body at the default limit", input: input, wantRecords: 300, wantBodies: 1},
		{name: "many bodies", input: input, limit: 1000, wantRecords: 300, wantBodies: 13},
		{name: "empty input", input: "", limit: 1000},
		{name: "bad record after good ones", input: input[:len(input)/2] + "{oops\n", limit: 1000, wantRecords: 142, wantBodies: 6,
			wantErr: new(*RecordError)},
		{name: "record too large", input: `{"id":"` + strings.Repeat("x", 2000) + `"}`, limit: 1000, wantErr: new(*RecordTooLargeError)},
		{name: "server rejects the third body", input: input, limit: 1000, failAt: 3, wantRecords: 48, wantBodies: 2,
			wantErr: new(*APIError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			srv := &streamServer{failAt: tt.failAt}
			tn.mux.HandleFunc("POST /api/v1/ingest/sources/s/o", srv.handle)
			var lastRecords, lastBytes int64
			progress := func(records, bytes int64) {
				if records <= lastRecords || bytes <= lastBytes {
					t.Errorf("progress went from %d/%d to %d/%d", lastRecords, lastBytes, records, bytes)
				}
				lastRecords, lastBytes = records, bytes
			}
			rr := NewRecordReader(strings.NewReader(tt.input), FormatJSONLines)
			n, err := tn.client.StreamRecords(context.Background(), "s", "o", rr, tt.limit, progress)
			if tt.wantErr != nil {
				if err == nil || !errors.As(err, tt.wantErr) {
					t.Fatalf("err = %v, want %T", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if n != tt.wantRecords || lastRecords != tt.wantRecords || len(srv.bodies) != tt.wantBodies {
				t.Errorf("records = %d, progress = %d, bodies = %d; want %d records in %d bodies",
					n, lastRecords, len(srv.bodies), tt.wantRecords, tt.wantBodies)
			}
			var total int64
			for i, b := range srv.bodies {
				total += int64(len(b))
				limit := tt.limit
				if limit == 0 {
					limit = DefaultStreamingPayloadBytes
				}
				if len(b) >= limit {
					t.Errorf("body %d has %d bytes, limit %d", i, len(b), limit)
				}
				if i+1 < len(srv.bodies) {
					// Bodies are full: the next body's first record would not have fitted.
					var next struct{ Data []json.RawMessage }
					json.Unmarshal(srv.bodies[i+1], &next)
					if len(b)+1+len(next.Data[0]) < limit {
						t.Errorf("body %d (%d bytes) had room for the next record", i, len(b))
					}
				}
			}
			if lastBytes != total {
				t.Errorf("progress bytes = %d, sent %d", lastBytes, total)
			}
			if got := srv.records(t); strings.Join(got, ",") != strings.Join(ids[:len(got)], ",") || int64(len(got)) != tt.wantRecords {
				t.Errorf("server got %d records out of order or wrong", len(got))
			}
		})
	}
}

func TestStreamRecordsArguments(t *testing.T) {
	tn := setup(t)
	if _, err := tn.client.StreamRecords(context.Background(), "", "o", NewRecordReader(strings.NewReader("{}"), FormatJSONLines), 0, nil); err == nil {
		t.Error("empty source accepted")
	}
	if _, err := tn.client.StreamRecords(context.Background(), "s", "o", nil, 0, nil); err == nil {
		t.Error("nil reader accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tn.client.StreamRecords(ctx, "s", "o", NewRecordReader(strings.NewReader("{}"), FormatJSONLines), 0, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}
