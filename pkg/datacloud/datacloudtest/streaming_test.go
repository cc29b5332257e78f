package datacloudtest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const streamPath = "/api/v1/ingest/sources/Event_API/runner_profiles"

func TestStreamingUpsertAndDelete(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	body := `{"data":[{"maid":101,"first_name":"Sandeep","vip":true,"created":"2021-10-22T09:11:11.816319Z"},
		{"maid":102,"first_name":"Aaron","vip":false,"created":"2021-10-22T09:11:11.816319Z"}]}`
	r := e.do("POST", streamPath, tok, body, "application/json")
	mustStatus(t, r, 202)
	if string(r.raw) != `{"accepted":true}` {
		t.Fatalf("body %s", r.raw)
	}
	for _, h := range []string{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-trace-id"} {
		if r.header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	// Same key again replaces the row; a new field adds a column.
	mustStatus(t, e.do("POST", streamPath, tok, `{"data":[{"maid":101,"first_name":"Sandy","city":"Wilton"}]}`, ""), 202)
	recs := e.s.Records("Event_API", "runner_profiles")
	if len(recs) != 2 {
		t.Fatalf("records %v", recs)
	}
	byID := map[int64]map[string]any{}
	for _, rec := range recs {
		byID[rec["maid"].(int64)] = rec
	}
	if byID[101]["first_name"] != "Sandy" || byID[101]["city"] != "Wilton" || byID[102]["vip"] != false {
		t.Errorf("records %v", recs)
	}
	if e.s.Records("Other", "runner_profiles") != nil {
		t.Error("records visible under a source that never wrote them")
	}

	mustStatus(t, e.do("DELETE", streamPath+"?ids=101", tok, nil, ""), 202)
	mustStatus(t, e.do("DELETE", streamPath, tok, `{"ids":["102"]}`, "application/json"), 202)
	if recs := e.s.Records("Event_API", "runner_profiles"); len(recs) != 0 {
		t.Fatalf("after deletes: %v", recs)
	}
	// Deleting from an object never ingested is accepted (asynchronous in the real service).
	mustStatus(t, e.do("DELETE", "/api/v1/ingest/sources/Event_API/nothing?ids=1", tok, nil, ""), 202)
}

func TestStreamingErrors(t *testing.T) {
	e := newEnv(t, Options{MaxStreamingBytes: 1000, MaxDeleteIDs: 3})
	tok := e.tenantToken()
	big := `{"data":[{"id":"` + strings.Repeat("x", 1000) + `"}]}`
	justUnder := `{"data":[{"id":"` + strings.Repeat("x", 1000-len(`{"data":[{"id":""}]}`)-1) + `"}]}`
	if len(justUnder) != 999 {
		t.Fatalf("fixture is %d bytes", len(justUnder))
	}
	atLimit := justUnder[:len(justUnder)-4] + `x"}]}`
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"just under the limit", "POST", streamPath, justUnder, 202, ""},
		{"at the limit", "POST", streamPath, atLimit, 400, "smaller than 1000 bytes"},
		{"too large", "POST", streamPath, big, 400, "payload too large"},
		{"not json", "POST", streamPath, `nope`, 400, `"data" array`},
		{"array body", "POST", streamPath, `[{"a":1}]`, 400, `"data" array`},
		{"data not array", "POST", streamPath, `{"data":{"a":1}}`, 400, `"data" array`},
		{"no data", "POST", streamPath, `{"records":[]}`, 400, `"data" array`},
		{"empty data", "POST", streamPath, `{"data":[]}`, 400, "no records"},
		{"record not object", "POST", streamPath, `{"data":[1]}`, 400, "record 0: not a JSON object"},
		{"nested value", "POST", streamPath, `{"data":[{"a":{"b":1}}]}`, 400, "nested"},
		{"bad field name", "POST", streamPath, `{"data":[{"a b":1}]}`, 400, "invalid field name"},
		{"bad object name", "POST", "/api/v1/ingest/sources/S/bad-name", `{"data":[{"a":1}]}`, 400, "invalid object name"},
		{"trailing data", "POST", streamPath, `{"data":[{"a":1}]} x`, 400, "after the top-level"},
		{"delete no ids", "DELETE", streamPath, ``, 400, "no ids"},
		{"delete too many", "DELETE", streamPath + "?ids=1,2,3,4", ``, 400, "too many ids: 4, at most 3"},
		{"delete bad body", "DELETE", streamPath, `{"ids":"x"}`, 400, `{"ids":[...]}`},
		{"delete max ids", "DELETE", streamPath + "?ids=1,2&ids=3", ``, 202, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tok, tc.body, "application/json")
			mustStatus(t, r, tc.code)
			if tc.msg != "" && !strings.Contains(r.message(t), tc.msg) {
				t.Fatalf("message %q, want %q", r.message(t), tc.msg)
			}
		})
	}
}

func TestStreamingValidation(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	r := e.do("POST", streamPath+"/actions/test", tok, `{"data":[{"maid":1,"name":"a"}]}`, "")
	mustStatus(t, r, 200)
	if string(r.raw) != `{"accepted":true}` {
		t.Fatalf("body %s", r.raw)
	}
	if recs := e.s.Records("Event_API", "runner_profiles"); recs != nil {
		t.Fatalf("validation stored records: %v", recs)
	}
	r = e.do("POST", streamPath+"/actions/test", tok, `{"data":[{"maid":1},{"bad name":2},{"x":[1]}]}`, "")
	mustStatus(t, r, 400)
	body := r.json(t)
	report, _ := body["validationReport"].([]any)
	if body["accepted"] != false || len(report) != 2 || body["timestamp"] == nil {
		t.Fatalf("report %s", r.raw)
	}
	if idx := report[0].(map[string]any)["recordIndex"]; idx != float64(1) {
		t.Errorf("first failed record index %v, want 1", idx)
	}
	mustStatus(t, e.do("POST", streamPath+"/actions/test", tok, `{}`, ""), 400)
}

func TestTenantAuth(t *testing.T) {
	e := newEnv(t, Options{TokenTTL: 10 * 60e9})
	tok := e.tenantToken()
	core := e.coreToken()
	for _, tc := range []struct {
		name, header, detail string
	}{
		{"missing", "", "Missing"},
		{"unknown", "Bearer nope", "Invalid JWT"},
		{"core token", "Bearer " + core, "Invalid JWT"},
		{"basic", "Basic abc", "Missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", "/api/v1/metadata", "", nil, "")
			if tc.header != "" {
				r = e.doHeader("GET", "/api/v1/metadata", tc.header)
			}
			mustStatus(t, r, 401)
			b := r.json(t)
			d, _ := b["details"].(map[string]any)
			if b["error"] != "Unauthorized" || b["message"] != "Authorization header verification failed" || !strings.Contains(fmt.Sprint(d["status"]), tc.detail) {
				t.Fatalf("body %s", r.raw)
			}
		})
	}
	mustStatus(t, e.do("GET", "/api/v1/metadata", tok, nil, ""), 200)
	r := e.do("GET", "/api/v1/nope", tok, nil, "")
	mustStatus(t, r, 404)
	if b := r.json(t); b["error"] != "Not Found" || b["timestamp"] == nil {
		t.Fatalf("404 body %s", r.raw)
	}
	r = e.do("GET", "/api/v1/query", tok, nil, "")
	mustStatus(t, r, 405)
	if r.header.Get("Allow") != "POST" || !strings.Contains(r.message(t), "'GET' is not supported") {
		t.Fatalf("405 Allow %q body %s", r.header.Get("Allow"), r.raw)
	}
	if r = e.do("POST", "/api/v1/ingest/jobs/x", tok, nil, ""); r.header.Get("Allow") != "GET, PATCH, DELETE" {
		t.Fatalf("Allow %q", r.header.Get("Allow"))
	}
	e.s.Revoke(tok)
	mustStatus(t, e.do("GET", "/api/v1/metadata", tok, nil, ""), 401)
	tok2 := e.tenantToken()
	e.clock.Advance(11 * 60e9)
	r = e.do("GET", "/api/v1/metadata", tok2, nil, "")
	mustStatus(t, r, 401)
	if !strings.Contains(string(r.raw), "expired") {
		t.Fatalf("expired body %s", r.raw)
	}
	if len(e.s.TenantTokens()) != 0 {
		t.Fatal("expired tokens still listed as valid")
	}
	tok3 := e.tenantToken()
	e.s.RevokeAll()
	mustStatus(t, e.do("GET", "/api/v1/metadata", tok3, nil, ""), 401)
}

func TestStreamingSchemaEvolution(t *testing.T) {
	e := newEnv(t, Options{Objects: map[string]ObjectSpec{"keyed": {PrimaryKey: "ext_id"}}})
	tok := e.tenantToken()
	post := func(body string) {
		t.Helper()
		mustStatus(t, e.do("POST", "/api/v1/ingest/sources/S/keyed", tok, body, ""), 202)
	}
	// The configured key is absent from the first record: its column is created anyway.
	post(`{"data":[{"a":"first","b":null}]}`)
	post(`{"data":[{"ext_id":"k1","a":"x","b":null},{"ext_id":"k2","a":"y","b":5}]}`)
	post(`{"data":[{"ext_id":"k1","a":"x2","b":7,"c":"2024-02-03T04:05:06Z"}]}`)
	recs := e.s.Records("S", "keyed")
	if len(recs) != 3 {
		t.Fatalf("records %v", recs)
	}
	var k1 map[string]any
	for _, r := range recs {
		if r["ext_id"] == "k1" {
			k1 = r
		}
	}
	if k1 == nil || k1["a"] != "x2" || k1["b"] != "7" || k1["c"] != "2024-02-03T04:05:06Z" {
		t.Fatalf("k1 %v", k1)
	}
	b := e.do("POST", "/api/v1/query", tok, map[string]string{"sql": "SELECT ext_id, b, c FROM keyed WHERE ext_id = 'k1'"}, "").json(t)
	meta := b["metadata"].(map[string]any)
	if meta["b"].(map[string]any)["type"] != "VARCHAR" || meta["c"].(map[string]any)["type"] != "TIMESTAMP" {
		// b was created from a null in the first body: VARCHAR, as Data Cloud's schema would fix it.
		t.Fatalf("metadata %v", meta)
	}
	if row := b["data"].([]any)[0].(map[string]any); row["c"] != "2024-02-03T04:05:06.000+00:00" {
		t.Fatalf("row %v", row)
	}
	// Within one body a null first value does not fix the type: the first non-null does.
	post(`{"data":[{"ext_id":"n1","d":null},{"ext_id":"n2","d":true}]}`)
	b = e.do("POST", "/api/v1/query", tok, map[string]string{"sql": "SELECT d FROM keyed WHERE ext_id = 'n2'"}, "").json(t)
	if b["metadata"].(map[string]any)["d"].(map[string]any)["type"] != "BOOLEAN" || b["data"].([]any)[0].(map[string]any)["d"] != true {
		t.Fatalf("body %v", b)
	}
}

// TestStreamingRequestsPerSecond checks the sliding one-second window over the streaming
// routes: the fourth request within a second of the first answers 429 with the throttling
// body, the window moves with the clock, and bulk routes do not count.
func TestStreamingRequestsPerSecond(t *testing.T) {
	e := newEnv(t, Options{StreamingRequestsPerSecond: 3})
	tok := e.tenantToken()
	upsert := func() response { return e.do("POST", streamPath, tok, `{"data":[{"maid":1}]}`, "application/json") }
	mustStatus(t, upsert(), 202)
	e.clock.Advance(300 * time.Millisecond)
	mustStatus(t, e.do("DELETE", streamPath+"?ids=1", tok, nil, ""), 202)
	mustStatus(t, e.do("POST", streamPath+"/actions/test", tok, `{"data":[{"maid":1}]}`, "application/json"), 200)
	mustStatus(t, e.do("POST", "/api/v1/ingest/jobs", tok, `{"object":"runner_profiles","sourceName":"Event_API","operation":"upsert"}`, "application/json"), 201)
	e.clock.Advance(699 * time.Millisecond) // 999 ms after the first
	r := upsert()
	mustStatus(t, r, 429)
	if got := r.json(t); got["error"] != "Too many requests" || got["message"] != "Too many requests" || got["timestamp"] == nil {
		t.Errorf("throttled body %s", r.raw)
	}
	if r.header.Get("Retry-After") != "" || r.header.Get("x-ratelimit-remaining") != "0" {
		t.Errorf("throttled headers Retry-After=%q x-ratelimit-remaining=%q", r.header.Get("Retry-After"), r.header.Get("x-ratelimit-remaining"))
	}
	e.clock.Advance(time.Millisecond) // the first is a second old: one more fits, then none
	mustStatus(t, upsert(), 202)
	mustStatus(t, upsert(), 429)
	e.clock.Advance(300 * time.Millisecond) // the second and third are a second old
	mustStatus(t, upsert(), 202)
	mustStatus(t, upsert(), 202)
	mustStatus(t, upsert(), 429)
}

func TestStreamingUnlimitedByDefault(t *testing.T) {
	e := newEnv(t, Options{})
	tok := e.tenantToken()
	for i := range 300 {
		if r := e.do("POST", streamPath, tok, `{"data":[{"maid":1}]}`, "application/json"); r.code != 202 {
			t.Fatalf("request %d in the same instant: %d %s", i+1, r.code, r.raw)
		}
	}
}
