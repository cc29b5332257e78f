package datacloudtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	const upload = "PUT /api/v1/ingest/jobs/{id}/batches"
	for _, tc := range []struct {
		name       string
		fault      Fault
		wantCodes  []int // statuses of consecutive uploads
		retryAfter string
		bodyHas    string
	}{
		{"429 with Retry-After", Fault{Route: upload, Status: 429, RetryAfter: "2", Times: 1}, []int{429, 202}, "2", "Too many requests"},
		{"429 without Retry-After", Fault{Route: upload, Status: 429, Times: 2}, []int{429, 429, 202}, "", "Too many requests"},
		{"503 forever", Fault{Route: upload, Status: 503}, []int{503, 503, 503}, "", "Service Unavailable"},
		{"500 html body", Fault{Route: upload, Status: 500, Body: "<html>oops</html>", Times: 1}, []int{500, 202}, "", "<html>oops"},
		{"json body", Fault{Route: upload, Status: 502, Body: `{"message":"gateway"}`, Times: 1}, []int{502, 202}, "", `"gateway"`},
		{"other route untouched", Fault{Route: "GET /api/v1/ingest/jobs", Status: 500}, []int{202, 202}, "", ""},
		{"every route", Fault{Status: 500, Times: 1}, []int{500, 202}, "", "Internal Server Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			tok := e.tenantToken()
			id := e.createJob(tok, "faulty", "upsert")
			if err := e.s.InjectFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.wantCodes {
				r := e.do("PUT", "/api/v1/ingest/jobs/"+id+"/batches", tok, "a\n1\n", "text/csv")
				if r.code != want {
					t.Fatalf("upload %d: status %d, want %d (%s)", i, r.code, want, r.raw)
				}
				if i == 0 && want >= 400 {
					if got := r.header.Get("Retry-After"); got != tc.retryAfter {
						t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
					}
					if _, has := r.header["Retry-After"]; tc.retryAfter == "" && has {
						t.Error("Retry-After present")
					}
					if !strings.Contains(string(r.raw), tc.bodyHas) {
						t.Errorf("body %s lacks %q", r.raw, tc.bodyHas)
					}
				}
			}
			e.s.ClearFaults()
			mustStatus(t, e.do("PUT", "/api/v1/ingest/jobs/"+id+"/batches", tok, "a\n1\n", "text/csv"), 202)
		})
	}
}

func TestFaultOnLogin(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.s.InjectFault(Fault{Route: "POST /services/oauth2/token", Status: 503, Times: 1}); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {GrantJWTBearer}, "assertion": {e.assertion(nil)}}
	if code, _ := e.postForm("/services/oauth2/token", form); code != 503 {
		t.Fatalf("first login %d, want 503", code)
	}
	if code, _ := e.postForm("/services/oauth2/token", form); code != 200 {
		t.Fatalf("second login %d, want 200", code)
	}
}

func TestFaultReset(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	id := e.createJob(tok, "reset", "upsert")
	if err := e.s.InjectFault(Fault{Route: "PUT /api/v1/ingest/jobs/{id}/batches", Reset: true, ResetAfterBytes: 10, Times: 1}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", e.run.URL+"/api/v1/ingest/jobs/"+id+"/batches", bytes.NewReader(bytes.Repeat([]byte("a\n"), 1000)))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := e.http.Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("got status %d, want a broken connection", res.StatusCode)
	}
	if j, _ := e.s.Job(id); j.Uploads != 0 {
		t.Fatalf("reset upload was stored: %+v", j)
	}
	reqs := e.s.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 0 || last.Method != "PUT" || last.BodyBytes < 10 {
		t.Fatalf("request log %+v", last)
	}
	mustStatus(t, e.do("PUT", "/api/v1/ingest/jobs/"+id+"/batches", tok, "a\n1\n", "text/csv"), 202)
}

func TestFaultResetWithoutHijack(t *testing.T) {
	s := New(Options{})
	t.Cleanup(func() { s.Close() })
	if err := s.InjectFault(Fault{Reset: true}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", r)
		}
	}()
	s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/metadata", nil))
}

func TestFaultDelay(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	if err := e.s.InjectFault(Fault{Route: "GET /api/v1/metadata", Delay: 50 * time.Millisecond, Times: 1}); err != nil {
		t.Fatal(err)
	}
	// A client deadline shorter than the delay fails; the next call is served normally.
	client := *e.http
	client.Timeout = 10 * time.Millisecond
	req, _ := http.NewRequest("GET", e.run.URL+"/api/v1/metadata", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if res, err := client.Do(req); err == nil {
		res.Body.Close()
		t.Fatal("delayed request beat a shorter client timeout")
	}
	mustStatus(t, e.do("GET", "/api/v1/metadata", tok, nil, ""), 200)
	// The abandoned request is logged once the server notices the closed connection.
	var statuses []int
	for deadline := time.Now().Add(5 * time.Second); len(statuses) < 2 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		statuses = nil
		for _, r := range e.s.Requests() {
			if r.Path == "/api/v1/metadata" {
				statuses = append(statuses, r.Status)
			}
		}
	}
	slices.Sort(statuses)
	if fmt.Sprint(statuses) != "[0 200]" {
		t.Errorf("logged statuses %v, want [0 200]", statuses)
	}
}

func TestFaultRevokeToken(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	if err := e.s.InjectFault(Fault{Route: "POST /api/v1/query", RevokeToken: true, Times: 1}); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/api/v1/query", tok, map[string]string{"sql": "SELECT 1"}, "")
	mustStatus(t, r, 401)
	mustStatus(t, e.do("GET", "/api/v1/metadata", tok, nil, ""), 401)
	mustStatus(t, e.do("POST", "/api/v1/query", e.tenantToken(), map[string]string{"sql": "SELECT 1"}, ""), 200)
}

func TestInjectFaultBadRoute(t *testing.T) {
	s := New(Options{})
	t.Cleanup(func() { s.Close() })
	if err := s.InjectFault(Fault{Route: "GET /{bad", Status: 500}); err == nil || !strings.Contains(err.Error(), "fault route") {
		t.Fatalf("err %v", err)
	}
}

func TestRequestsAndSecretsNeverLogTokens(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	core := e.coreToken()
	e.postForm("/services/oauth2/revoke?token="+url.QueryEscape(core), nil)
	mustStatus(t, e.do("POST", streamPath, tok, `{"data":[{"a":1}]}`, ""), 202)
	reqs := e.s.Requests()
	secrets := e.s.IssuedSecrets()
	// 2 assertions, 2 core tokens, 1 tenant token.
	if len(secrets) != 5 {
		t.Fatalf("%d secrets recorded, want 5", len(secrets))
	}
	var log strings.Builder
	for _, r := range reqs {
		log.WriteString(r.Method + " " + r.Path + "\n")
	}
	for _, sec := range secrets {
		if strings.Contains(log.String(), sec) {
			t.Fatal("a secret appears in the request log")
		}
	}
	last := reqs[len(reqs)-1]
	if last.Path != streamPath || last.Status != 202 || last.BodyBytes != int64(len(`{"data":[{"a":1}]}`)) {
		t.Fatalf("last request %+v", last)
	}
}

func TestHandlerWithHTTPTest(t *testing.T) {
	s := New(Options{Seed: 7})
	t.Cleanup(func() { s.Close() })
	tok := s.IssueTenantToken("u@example.com")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/ingest/jobs", strings.NewReader(`{"object":"o","sourceName":"s","operation":"upsert"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	// Same seed, same ids.
	s2 := New(Options{Seed: 7})
	t.Cleanup(func() { s2.Close() })
	if tok2 := s2.IssueTenantToken("u@example.com"); tok2 != tok {
		t.Error("same seed gave different tokens")
	}
}

func TestListenRefusesNonLoopback(t *testing.T) {
	s := New(Options{})
	t.Cleanup(func() { s.Close() })
	for _, addr := range []string{"0.0.0.0:0", ":0", "10.0.0.1:80", "example.com:80", "nope"} {
		if _, err := s.Listen(addr, false); err == nil {
			t.Errorf("Listen(%q) succeeded", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		if err := CheckLoopback(addr); err != nil {
			t.Errorf("CheckLoopback(%q): %v", addr, err)
		}
	}
	if err := CheckLoopback("0.0.0.0:1"); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("0.0.0.0: %v", err)
	}
}

func TestGzipAnswers(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	id := e.createJob(tok, "gz", "upsert")
	mustStatus(t, e.do("PATCH", "/api/v1/ingest/jobs/"+id, tok, map[string]string{"state": "Aborted"}, ""), 200)
	for _, tc := range []struct {
		name, method, path string
		code               int
		gzipped            bool
	}{
		{"job", "GET", "/api/v1/ingest/jobs/" + id, 200, true},
		{"error", "GET", "/api/v1/ingest/jobs/none", 404, true},
		{"no content", "DELETE", "/api/v1/ingest/jobs/" + id, 204, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.run.URL+tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Accept-Encoding", "gzip") // set by hand: the transport leaves the body compressed
			res, err := e.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.code || (res.Header.Get("Content-Encoding") == "gzip") != tc.gzipped {
				t.Fatalf("status %d encoding %q", res.StatusCode, res.Header.Get("Content-Encoding"))
			}
			if !tc.gzipped {
				if len(raw) != 0 {
					t.Fatalf("body %q", raw)
				}
				return
			}
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil || !json.Valid(plain) {
				t.Fatalf("gunzipped %q: %v", plain, err)
			}
		})
	}
}
