package datacloud

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestStreamRecordsWithInFlight(t *testing.T) {
	const limit = 1000
	tests := []struct {
		name     string
		inFlight int
		// gather: the first requests wait (bounded) until this many are in flight at once.
		gather       int
		failBody     int // the request number answered 400; 0: none
		wantPeak     int
		wantFailure  bool
		wantAccepted int64 // when failing: at most this many records accepted
	}{
		{name: "one at a time keeps the order", inFlight: 1, gather: 1, wantPeak: 1},
		{name: "three bodies in flight at once", inFlight: 3, gather: 3, wantPeak: 3},
		{name: "never more than asked", inFlight: 2, gather: 3, wantPeak: 2},
		{name: "a rejected body stops the others", inFlight: 3, gather: 3, failBody: 2, wantPeak: 3, wantFailure: true, wantAccepted: 4 * 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			srv := &streamServer{}
			var (
				now, peak, calls, arrivals atomic.Int64
			)
			tn.mux.HandleFunc("POST /api/v1/ingest/sources/s/o", func(w http.ResponseWriter, r *http.Request) {
				n := now.Add(1)
				defer now.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				if arrivals.Add(1) <= int64(tt.gather) {
					deadline := time.Now().Add(2 * time.Second)
					for now.Load() < int64(tt.gather) && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
				}
				if int(calls.Add(1)) == tt.failBody {
					reply(400, `{"error":"Bad Request","message":"field x unknown"}`)(w, r)
					return
				}
				srv.handle(w, r)
			})
			src := &lineSource{total: 1200}
			var progressed atomic.Int64
			n, err := tn.client.StreamRecordsWith(context.Background(), "s", "o", NewRecordReader(src, FormatJSONLines),
				StreamOptions{Limit: limit, InFlight: tt.inFlight, PerSecond: 10_000, Progress: func(records, _ int64) { progressed.Store(records) }})
			var ae *APIError
			switch {
			case tt.wantFailure && (!errors.As(err, &ae) || ae.StatusCode != 400):
				t.Fatalf("err = %v, want the 400", err)
			case !tt.wantFailure && err != nil:
				t.Fatal(err)
			}
			if int(peak.Load()) != tt.wantPeak {
				t.Errorf("%d requests in flight at most, want %d", peak.Load(), tt.wantPeak)
			}
			if progressed.Load() != n {
				t.Errorf("%d records reported, %d progressed", n, progressed.Load())
			}
			if tt.wantFailure {
				// Requests cancelled by the failure may still be handled by the server.
				if n > tt.wantAccepted {
					t.Errorf("%d records accepted after the failure, want at most %d", n, tt.wantAccepted)
				}
				return
			}
			got := srv.records(t)
			if n != int64(len(got)) {
				t.Errorf("%d records reported, %d received", n, len(got))
			}
			slices.Sort(got) // bodies in flight together may land in any order
			if len(got) != 1200 || len(slices.Compact(got)) != 1200 {
				t.Errorf("%d records received, want each of 1200 once", len(got))
			}
		})
	}
}

func TestStreamRecordsWithSpacesRequestStarts(t *testing.T) {
	tn := setup(t)
	srv := &streamServer{}
	var (
		mu     sync.Mutex
		starts []time.Time
	)
	tn.mux.HandleFunc("POST /api/v1/ingest/sources/s/o", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		srv.handle(w, r)
	})
	const perSecond = 100 // a request every 10 ms at most
	_, err := tn.client.StreamRecordsWith(context.Background(), "s", "o", NewRecordReader(&lineSource{total: 300}, FormatJSONLines),
		StreamOptions{Limit: 1000, InFlight: 4, PerSecond: perSecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(starts) < 10 {
		t.Fatalf("%d requests, want at least 10", len(starts))
	}
	// Lower bounds only: the client may be slower than the rate, never faster. The server
	// sees a request a little after the client released it, hence the slack.
	if span, want := starts[len(starts)-1].Sub(starts[0]), time.Duration(len(starts)-1)*time.Second/perSecond; span < want*9/10 {
		t.Errorf("%d requests within %v, want them spread over at least %v (%d per second)", len(starts), span, want, perSecond)
	}
}
