package datacloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// lineSource yields JSON Lines records one line per Read, so the bytes it has delivered show
// how far the RecordReader has got.
type lineSource struct {
	next, total int
	delivered   atomic.Int64
	pending     string
}

func (s *lineSource) Read(p []byte) (int, error) {
	if s.pending == "" {
		if s.next == s.total {
			return 0, io.EOF
		}
		s.pending = fmt.Sprintf(`{"id":"r%06d","name":"record number %d"}`+"\n", s.next, s.next)
		s.next++
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	s.delivered.Add(int64(n))
	return n, nil
}

func TestStreamRecordsOverlap(t *testing.T) {
	const limit = 1000
	// Each body holds fewer than limit bytes of input, so past this mark the reader has
	// handed the second body over and is packing the third.
	const packingThird = 2*limit + 100
	tests := []struct {
		name string
		// first handles the first body; src is the input being read.
		first        func(t *testing.T, src *lineSource) (status int)
		lines        int
		wantBodies   int
		wantRequests int64
		wantRecords  int64
		// maxDelivered bounds the input read; 0 means all of it.
		maxDelivered int64
	}{
		{
			name: "the next body is packed while the first is in flight, in order",
			first: func(t *testing.T, src *lineSource) int {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for src.delivered.Load() < packingThird {
					if time.Now().After(deadline) {
						t.Errorf("reader delivered %d bytes while the first body was in flight; want >= %d (no overlap)",
							src.delivered.Load(), packingThird)
						break
					}
					time.Sleep(time.Millisecond)
				}
				return http.StatusAccepted
			},
			lines: 300, wantBodies: 14, wantRequests: 14, wantRecords: 300,
		},
		{
			name:  "a rejected body stops the reader",
			first: func(*testing.T, *lineSource) int { return http.StatusBadRequest },
			lines: 100_000, wantRequests: 1,
			// At most the bodies in flight and queued plus the one being packed are read.
			maxDelivered: 4 * limit,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			src := &lineSource{total: tt.lines}
			srv := &streamServer{}
			var calls atomic.Int64
			tn.mux.HandleFunc("POST /api/v1/ingest/sources/s/o", func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					if status := tt.first(t, src); status != http.StatusAccepted {
						reply(status, `{"error":"Bad Request","message":"field x unknown"}`)(w, r)
						return
					}
				}
				srv.handle(w, r)
			})
			var progressed atomic.Int64
			n, err := tn.client.StreamRecords(context.Background(), "s", "o",
				NewRecordReader(src, FormatJSONLines), limit, func(records, _ int64) { progressed.Store(records) })
			if tt.wantBodies == 0 {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest {
					t.Fatalf("err = %v, want the upsert's 400", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if n != tt.wantRecords || progressed.Load() != tt.wantRecords || len(srv.bodies) != tt.wantBodies {
				t.Errorf("records = %d, progress = %d, bodies = %d; want %d records in %d bodies",
					n, progressed.Load(), len(srv.bodies), tt.wantRecords, tt.wantBodies)
			}
			if got := calls.Load(); got != tt.wantRequests {
				t.Errorf("%d requests, want %d (none after the failure)", got, tt.wantRequests)
			}
			if tt.maxDelivered > 0 && src.delivered.Load() > tt.maxDelivered {
				t.Errorf("reader went on to %d bytes after the failure; want <= %d", src.delivered.Load(), tt.maxDelivered)
			}
			want := make([]string, len(srv.records(t)))
			for i := range want {
				want[i] = fmt.Sprintf("r%06d", i)
			}
			if got := srv.records(t); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("server got records out of order: %v", got)
			}
		})
	}
}
