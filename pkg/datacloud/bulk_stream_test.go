package datacloud

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// countingOpen returns an open function for UploadJobDataFrom that serves body and counts
// the readers it made and closed.
func countingOpen(body string, opened, closed *atomic.Int32) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		opened.Add(1)
		return &closeCounter{Reader: strings.NewReader(body), closed: closed}, nil
	}
}

type closeCounter struct {
	io.Reader
	closed *atomic.Int32
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

func TestUploadJobDataFromSendsTheStreamAgainOnlyWhenNotProcessed(t *testing.T) {
	const part = "id,name\n1,a\n2,b\n"
	tests := []struct {
		name        string
		first       http.HandlerFunc // answers the first upload; the next ones reach the server
		wantOpened  int32
		wantUploads int
		wantErr     error // nil: success
	}{
		{name: "accepted first time", wantOpened: 1, wantUploads: 1},
		{name: "503 is sent again from a fresh reader", first: reply(503, `{"error":"Service Unavailable"}`), wantOpened: 2, wantUploads: 1},
		{name: "429 is sent again from a fresh reader", first: reply(429, `{"error":"Too Many Requests"}`), wantOpened: 2, wantUploads: 1},
		{name: "a reset after sending is outcome unknown, not repeated", first: hijackClose(t), wantOpened: 1, wantUploads: 0, wantErr: ErrOutcomeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := setup(t)
			s := newBulkServer(tn)
			if tt.first != nil {
				var hit atomic.Bool
				tn.mux.HandleFunc("PUT /api/v1/ingest/jobs/job-1/batches", func(w http.ResponseWriter, r *http.Request) {
					if hit.CompareAndSwap(false, true) {
						io.Copy(io.Discard, r.Body)
						tt.first(w, r)
						return
					}
					r.SetPathValue("id", "job-1")
					s.upload(w, r)
				})
			}
			ctx := context.Background()
			job, err := tn.client.CreateJob(ctx, JobSpec{Object: "o", SourceName: "s", Operation: "upsert"})
			if err != nil {
				t.Fatal(err)
			}
			var opened, closed atomic.Int32
			err = tn.client.UploadJobDataFrom(ctx, job.ID, countingOpen(part, &opened, &closed), 0)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if opened.Load() != tt.wantOpened {
				t.Errorf("%d readers opened, want %d", opened.Load(), tt.wantOpened)
			}
			s.mu.Lock()
			got := s.uploads[job.ID]
			s.mu.Unlock()
			if len(got) != tt.wantUploads {
				t.Fatalf("%d uploads landed, want %d", len(got), tt.wantUploads)
			}
			for _, u := range got {
				if u != part {
					t.Errorf("upload %q, want %q", u, part)
				}
			}
		})
	}
}

func TestUploadJobDataFromReportsTheReaderOpenFailure(t *testing.T) {
	tn := setup(t)
	newBulkServer(tn)
	ctx := context.Background()
	job, err := tn.client.CreateJob(ctx, JobSpec{Object: "o", SourceName: "s", Operation: "upsert"})
	if err != nil {
		t.Fatal(err)
	}
	gone := errors.New("object replaced")
	err = tn.client.UploadJobDataFrom(ctx, job.ID, func() (io.ReadCloser, error) { return nil, gone }, 0)
	if !errors.Is(err, gone) || errors.Is(err, ErrOutcomeUnknown) || !strings.HasPrefix(err.Error(), "datacloud: upload job data: ") {
		t.Fatalf("error %v, want the open failure, not outcome unknown", err)
	}
	if err := tn.client.UploadJobDataFrom(ctx, job.ID, nil, 0); err == nil {
		t.Fatal("a nil open function was accepted")
	}
}

func TestBulkLoaderUploadFromCreatesTheJob(t *testing.T) {
	tn := setup(t)
	s := newBulkServer(tn)
	ctx := context.Background()
	b := NewBulkLoader(tn.client, JobSpec{Object: "o", SourceName: "s", Operation: "upsert"}, 1)
	var opened, closed atomic.Int32
	for _, part := range []string{"id\n1\n", "id\n2\n"} {
		if err := b.UploadFrom(ctx, countingOpen(part, &opened, &closed), 0); err != nil {
			t.Fatal(err)
		}
	}
	if ids := b.JobIDs(); len(ids) != 2 || s.uploads[ids[0]][0] != "id\n1\n" || s.uploads[ids[1]][0] != "id\n2\n" {
		t.Fatalf("jobs %v, uploads %v", ids, s.uploads)
	}
}

// TestUploadJobDataFromSizesSmallParts: a streamed part that ends within maxSizedStreamBody is
// sent with its Content-Length (servers that refuse or misread unsized bodies take it); a
// larger one is sent as it is read, with no length. Either way every byte arrives and the
// reader is closed.
func TestUploadJobDataFromSizesSmallParts(t *testing.T) {
	small := "id,name\n" + strings.Repeat("1,a\n", 1000)
	large := "id,name\n" + strings.Repeat("2,b\n", maxSizedStreamBody/4+10)
	for _, tc := range []struct {
		name       string
		body       string
		maxBytes   int64
		wantLength int64 // -1: unsized
	}{
		{"small part has a length", small, 0, int64(len(small))},
		{"exactly the limit has a length", large[:maxSizedStreamBody], 0, maxSizedStreamBody},
		{"large part is streamed", large, 0, -1},
		{"small part within a small bound has a length", small, maxSizedStreamBody, int64(len(small))},
		{"small part of a large bound is streamed without looking", small, maxSizedStreamBody + 1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := setup(t)
			var gotLength atomic.Int64
			var gotBytes atomic.Int64
			tn.mux.HandleFunc("PUT /api/v1/ingest/jobs/job-9/batches", func(w http.ResponseWriter, r *http.Request) {
				gotLength.Store(r.ContentLength)
				n, _ := io.Copy(io.Discard, r.Body)
				gotBytes.Store(n)
				w.WriteHeader(http.StatusCreated)
			})
			var opened, closed atomic.Int32
			if err := tn.client.UploadJobDataFrom(context.Background(), "job-9", countingOpen(tc.body, &opened, &closed), tc.maxBytes); err != nil {
				t.Fatal(err)
			}
			if gotLength.Load() != tc.wantLength {
				t.Errorf("Content-Length %d, want %d", gotLength.Load(), tc.wantLength)
			}
			if gotBytes.Load() != int64(len(tc.body)) {
				t.Errorf("%d bytes arrived, want %d", gotBytes.Load(), len(tc.body))
			}
			if opened.Load() != 1 || closed.Load() != 1 {
				t.Errorf("readers opened %d, closed %d, want 1 and 1", opened.Load(), closed.Load())
			}
		})
	}
}

// TestUploadJobDataFromSendsItSizedAfter411: a server that refuses a body of unknown length
// (411 Length Required) gets the part again, read whole and sized; nothing is lost or doubled.
func TestUploadJobDataFromSendsItSizedAfter411(t *testing.T) {
	body := "id,name\n" + strings.Repeat("3,c\n", maxSizedStreamBody/4+10) // over 8 MiB: streamed first
	tn := setup(t)
	var refused, accepted atomic.Int32
	var gotBytes atomic.Int64
	tn.mux.HandleFunc("PUT /api/v1/ingest/jobs/job-7/batches", func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength < 0 {
			refused.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusLengthRequired)
			io.WriteString(w, `[{"errorCode":"LENGTH_REQUIRED","message":"Content-Length required"}]`)
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		gotBytes.Store(n)
		accepted.Add(1)
		w.WriteHeader(http.StatusCreated)
	})
	var opened, closed atomic.Int32
	if err := tn.client.UploadJobDataFrom(context.Background(), "job-7", countingOpen(body, &opened, &closed), 64<<20); err != nil {
		t.Fatal(err)
	}
	if refused.Load() != 1 || accepted.Load() != 1 || gotBytes.Load() != int64(len(body)) {
		t.Errorf("refused %d, accepted %d with %d bytes; want 1, 1 with %d", refused.Load(), accepted.Load(), gotBytes.Load(), len(body))
	}
	if opened.Load() != 2 || closed.Load() != 2 {
		t.Errorf("readers opened %d, closed %d, want 2 and 2", opened.Load(), closed.Load())
	}
}
