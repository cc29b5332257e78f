package datacloudtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// implementedFolders are the collection folders the emulator serves (18 requests).
var implementedFolders = []string{"Metadata API", "Query API V1", "Query API V2", "Ingestion API › Streaming", "Ingestion API › Bulk"}

var pmVarRE = regexp.MustCompile(`\{\{([A-Za-z0-9_]+)\}\}`)

// replayer sends collection requests to the emulator with the collection's variables.
type replayer struct {
	t    *testing.T
	e    *env
	vars map[string]string
}

func (p *replayer) subst(s string) string {
	return pmVarRE.ReplaceAllStringFunc(s, func(m string) string { return p.vars[m[2:len(m)-2]] })
}

// send issues it with the tenant token and returns status, headers and body.
func (p *replayer) send(it pmItem, pathVars map[string]string) (int, http.Header, []byte) {
	p.t.Helper()
	segs := make([]string, len(it.Request.URL.Path))
	for i, seg := range it.Request.URL.Path {
		if strings.HasPrefix(seg, ":") {
			seg = pathVars[seg[1:]]
		}
		segs[i] = p.subst(seg)
	}
	q := url.Values{}
	for _, kv := range it.Request.URL.Query {
		if !kv.Disabled {
			v := ""
			if kv.Value != nil {
				v = p.subst(*kv.Value)
			}
			q.Add(kv.Key, v)
		}
	}
	u := "https://" + p.vars["_dcTenantUrl"] + "/" + strings.Join(segs, "/")
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(it.Request.Method, u, strings.NewReader(p.subst(rawBody(it))))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, h := range it.Request.Header {
		if !h.Disabled && h.Value != nil {
			req.Header.Set(h.Key, p.subst(*h.Value))
		}
	}
	req.Header.Set("Authorization", "Bearer "+p.vars["_dcTenantToken"])
	res, err := p.e.http.Do(req)
	if err != nil {
		p.t.Fatalf("%s: %v", it.Name, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, body
}

// authenticate follows the collection's "Complete Postman authentication": the core token
// (here from the JWT bearer flow) → userinfo → {urls.custom_domain}/services/a360/token.
func (p *replayer) authenticate(auth pmItem) {
	p.t.Helper()
	core := p.e.coreToken()
	req, _ := http.NewRequest(auth.Request.Method, p.subst(auth.Request.URL.Raw), nil)
	req.Header.Set("Authorization", "Bearer "+core)
	res, err := p.e.http.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	var info struct{ URLs map[string]string }
	err = json.NewDecoder(res.Body).Decode(&info)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		p.t.Fatalf("userinfo: %d %v", res.StatusCode, err)
	}
	res, err = p.e.http.PostForm(info.URLs["custom_domain"]+"/services/a360/token", url.Values{
		"grant_type": {GrantCDPExchange}, "subject_token": {core}, "subject_token_type": {TokenTypeAccessToken},
	})
	if err != nil {
		p.t.Fatal(err)
	}
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m) //nolint:errcheck // checked below
	res.Body.Close()
	at, _ := m["access_token"].(string)
	iu, _ := m["instance_url"].(string)
	if at == "" || iu == "" {
		p.t.Fatalf("exchange answered %d %v", res.StatusCode, m)
	}
	p.vars["_dcTenantToken"], p.vars["_dcTenantUrl"] = at, iu
}

func TestPostmanConformance(t *testing.T) {
	items := loadCollection(t)
	specs, records := seedFromCollection(t, items)
	s := New(Options{Objects: specs, QueryBatchRows: 1})
	kp := sharedKeyPair(t)
	if err := s.RegisterApp(App{ClientID: testClientID, Usernames: []string{testUser}, CertificatePEM: kp.CertPEM}); err != nil {
		t.Fatal(err)
	}
	run := s.StartTLS()
	t.Cleanup(func() { run.Close(); s.Close() })
	e := &env{t: t, s: s, run: run, kp: kp, clock: &fakeClock{t: time.Now()}, http: run.Client()}
	p := &replayer{t: t, e: e, vars: map[string]string{"loginUrl": strings.TrimPrefix(run.URL, "https://"), "version": "65.0"}}

	byName := map[string]pmItem{}
	for _, it := range items {
		byName[it.folder+"/"+it.Name] = it
	}
	p.authenticate(byName["Auth/Complete Postman authentication"])
	for table, recs := range records {
		body, _ := json.Marshal(map[string]any{"data": recs})
		mustStatus(t, e.do("POST", "/api/v1/ingest/sources/Postman/"+table, p.vars["_dcTenantToken"], body, "application/json"), 202)
	}

	tok := p.vars["_dcTenantToken"]
	newJob := func(close bool) string {
		id := e.createJob(tok, "runner_profiles", "upsert")
		if close {
			mustStatus(t, e.do("PUT", "/api/v1/ingest/jobs/"+id+"/batches", tok, "maid,first_name\n1,a\n", "text/csv"), 202)
			mustStatus(t, e.do("PATCH", "/api/v1/ingest/jobs/"+id, tok, map[string]string{"state": "UploadComplete"}, ""), 200)
		}
		return id
	}
	var report []string
	for _, it := range items {
		if !slices.Contains(implementedFolders, it.folder) {
			continue
		}
		pathVars := map[string]string{}
		switch it.Name {
		case "Upload Job", "Close Job", "Abort Job", "Get Job Info":
			pathVars["jobId"] = newJob(false)
		case "Delete Job":
			pathVars["jobId"] = newJob(true)
		case "Query Next Batch":
			first := byName["Query API V2/Query"]
			_, _, raw := p.send(first, nil)
			var b struct{ NextBatchID string }
			if err := json.Unmarshal(raw, &b); err != nil || b.NextBatchID == "" {
				t.Fatalf("v2 query gave no nextBatchId: %s", raw)
			}
			pathVars["nextBatchId"] = b.NextBatchID
		}
		t.Run(it.folder+"/"+it.Name, func(t *testing.T) {
			code, header, raw := p.send(it, pathVars)
			wantCode, codeSource := documentedStatus[it.Name], "documented"
			if len(it.Response) > 0 && it.Response[0].Code != nil {
				wantCode, codeSource = *it.Response[0].Code, "recorded"
			}
			if code != wantCode {
				t.Fatalf("status %d, want %d (%s); body %s", code, wantCode, codeSource, raw)
			}
			for _, r := range it.Response {
				for _, h := range r.Header {
					if strings.HasPrefix(strings.ToLower(h.Key), "x-ratelimit-") && header.Get(h.Key) == "" {
						t.Errorf("header %s missing (recorded %q)", h.Key, *h.Value)
					}
				}
			}
			want, shapeSource := expectedShape(t, it, items)
			if want == nil {
				if len(raw) != 0 {
					t.Errorf("body %q, the recording has none", raw)
				}
			} else {
				var got any
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatalf("answer is not JSON: %q", raw)
				}
				if diffs := compareShape(want, got, "$"); len(diffs) > 0 {
					t.Errorf("shape differs from the %s example:\n  %s\nbody: %.600s", shapeSource, strings.Join(diffs, "\n  "), raw)
				}
			}
			report = append(report, it.folder+" › "+it.Name+": status "+http.StatusText(code)+" ("+codeSource+"), shape "+shapeSource)
			if it.Name == "Create Job" {
				var j struct{ ID string }
				json.Unmarshal(raw, &j) //nolint:errcheck // as the collection's test script does
				p.vars["_jobId"] = j.ID
			}
		})
	}
	t.Logf("compared %d requests:\n%s", len(report), strings.Join(report, "\n"))
	if len(report) != 18 {
		t.Errorf("compared %d requests, want 18 (metadata 4, query v1 2, v2 2, streaming 3, bulk 7)", len(report))
	}
}
