package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// dcCall is one Data Cloud call a fault can hit: the emulator route the fault is injected on
// and a matcher for the requests the emulator logged for it.
type dcCall struct {
	name  string
	route string
	match func(r datacloudtest.RequestLog) bool
}

var (
	callCreate = dcCall{"create", routeCreate, func(r datacloudtest.RequestLog) bool {
		return r.Method == http.MethodPost && r.Path == "/api/v1/ingest/jobs"
	}}
	callUpload = dcCall{"upload", routeUpload, func(r datacloudtest.RequestLog) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.Path, "/batches")
	}}
	callClose = dcCall{"close", routeClose, func(r datacloudtest.RequestLog) bool {
		return r.Method == http.MethodPatch && strings.HasPrefix(r.Path, "/api/v1/ingest/jobs/")
	}}
	callStream = dcCall{"streaming post", routeStream, func(r datacloudtest.RequestLog) bool {
		return r.Method == http.MethodPost && strings.HasPrefix(r.Path, "/api/v1/ingest/sources/")
	}}
	callQuery = dcCall{"query", "POST /api/v2/query", func(r datacloudtest.RequestLog) bool {
		return r.Method == http.MethodPost && r.Path == "/api/v2/query"
	}}
	callLogin = dcCall{"login", "POST /services/oauth2/token", func(r datacloudtest.RequestLog) bool {
		return r.Path == "/services/oauth2/token"
	}}
	callExchange = dcCall{"exchange", "POST /services/a360/token", func(r datacloudtest.RequestLog) bool {
		return r.Path == "/services/a360/token"
	}}
)

// served counts the requests of a call the emulator answered with status, from index from on.
func served(dc *datacloudtest.Server, c dcCall, status, from int) int {
	n := 0
	for _, r := range dc.Requests()[from:] {
		if c.match(r) && r.Status == status {
			n++
		}
	}
	return n
}

// serverFault is one transient answer of the matrix: a status, with or without Retry-After.
type serverFault struct {
	status     int
	retryAfter string
}

func (f serverFault) String() string {
	if f.status == http.StatusTooManyRequests {
		if f.retryAfter == "" {
			return "429 without Retry-After"
		}
		return "429 with Retry-After"
	}
	return fmt.Sprint(f.status)
}

// fault builds the emulator fault; a 502 comes as a gateway's HTML page, as from a load balancer.
func (f serverFault) fault(c dcCall, times int) datacloudtest.Fault {
	fl := datacloudtest.Fault{Route: c.route, Status: f.status, RetryAfter: f.retryAfter, Times: times}
	if f.status == http.StatusBadGateway {
		fl.Body = "<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
	}
	return fl
}

var serverFaults = []serverFault{{429, ""}, {429, "1"}, {500, ""}, {502, ""}, {503, ""}}

// TestFaultMatrixIngest: a transient 429 (with and without Retry-After), 500, 502 or 503 on
// each Data Cloud call of s3ingest is retried where that cannot duplicate data, or the file
// starts over in a new job: the object is ingested, Data Cloud holds each record once, and
// no job is left Open.
func TestFaultMatrixIngest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		w.seedToken(time.Hour)
		ing := w.start("s3ingest", fnOptions{})
		n := 0
		for _, c := range []dcCall{callCreate, callUpload, callClose, callStream} {
			for _, f := range serverFaults {
				n++
				t.Run(c.name+" "+f.String(), func(t *testing.T) {
					object := fmt.Sprintf("Matrix%d", n)
					file, data := "a.csv", csvOf(n*100, 6)
					if c.name == callStream.name {
						file, data = "a.jsonl", jsonlOf(n*100, 6)
					}
					o := w.put("ingest/"+source+"/"+object+"/"+file, data, "")
					from := len(w.DC.Requests())
					if err := w.DC.InjectFault(f.fault(c, 1)); err != nil {
						t.Fatal(err)
					}
					mustSucceed(t, ing.invoke(w.s3Event(o)))
					if served(w.DC, c, f.status, from) != 1 {
						t.Errorf("the emulator answered %s %d times on %s, want once: the fault did not apply", f, served(w.DC, c, f.status, from), c.name)
					}
					w.wantOutcome(t, o.Key, "ingested", 6)
					wantRecords(t, w.DC, object, 6)
					noOpenJobs(t, w.DC)
					if c.name != callStream.name {
						wantJobStates(t, w.DC, object, c, f)
					}
				})
			}
		}
	})
}

// wantJobStates checks how the bulk pipeline got past the fault: a 429 or 503 certainly was
// not acted on and is retried in place (one job); a 500 or 502 on an upload leaves its outcome
// unknown, so that job is aborted and the file starts over in a new one.
func wantJobStates(t *testing.T, dc *datacloudtest.Server, object string, c dcCall, f serverFault) {
	t.Helper()
	states := map[string]int{}
	for _, j := range jobsOf(dc, object) {
		states[j.State]++
	}
	want := map[string]int{datacloudtest.StateJobComplete: 1}
	if c.name == callUpload.name && (f.status == http.StatusInternalServerError || f.status == http.StatusBadGateway) {
		want[datacloudtest.StateAborted] = 1
	}
	if !maps.Equal(states, want) {
		t.Errorf("job states %v, want %v", states, want)
	}
}

// TestFaultMatrixQuery: transient faults on the query are retried (200 with the rows); a
// fault that outlasts the retries maps to the contract's status, with no stack trace.
func TestFaultMatrixQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		w.seedToken(time.Hour)
		w.seedRows("QFault", 4)
		q := w.start("querytrigger", fnOptions{})
		const req = `{"sql": "SELECT id FROM QFault ORDER BY id"}`
		for _, f := range serverFaults {
			t.Run("transient "+f.String(), func(t *testing.T) {
				from := len(w.DC.Requests())
				if err := w.DC.InjectFault(f.fault(callQuery, 1)); err != nil {
					t.Fatal(err)
				}
				status, body := q.api(t, "POST", "/query", nil, req)
				var ans queryAnswer
				if err := json.Unmarshal(body, &ans); err != nil || status != 200 || ans.RowCount != 4 {
					t.Errorf("status %d body %s, want 200 with 4 rows after a retry", status, body)
				}
				if served(w.DC, callQuery, f.status, from) != 1 {
					t.Errorf("the fault %s did not apply", f)
				}
			})
		}
		for _, tc := range []struct {
			f    serverFault
			want int
		}{{serverFault{429, ""}, 429}, {serverFault{503, ""}, 502}, {serverFault{502, ""}, 502}} {
			t.Run("persistent "+tc.f.String(), func(t *testing.T) {
				if err := w.DC.InjectFault(tc.f.fault(callQuery, 0)); err != nil {
					t.Fatal(err)
				}
				defer w.DC.ClearFaults() // leave no fault behind for the next row
				status, body := q.api(t, "POST", "/query", nil, req)
				var e errorAnswer
				if err := json.Unmarshal(body, &e); err != nil || status != tc.want || e.Error.Code == "" || e.Error.Message == "" {
					t.Errorf("status %d body %s, want %d with a code and a message", status, body, tc.want)
				}
				if strings.Contains(string(body), "goroutine") || strings.Contains(string(body), ".go:") {
					t.Errorf("the answer holds a stack trace: %s", body)
				}
			})
		}
	})
}

// TestFaultMatrixTokenEndpoints: a transient fault on login or the exchange is retried and the
// refresh succeeds; one that outlasts the retries fails the refresh naming the step, and the
// stored token is left as it was.
func TestFaultMatrixTokenEndpoints(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		w.seedToken(time.Hour)
		tr := w.start("tokenrefresh", fnOptions{Timeout: 40 * time.Second})
		for _, c := range []dcCall{callLogin, callExchange} {
			for _, f := range serverFaults {
				t.Run(c.name+" transient "+f.String(), func(t *testing.T) {
					prev := w.readStored()
					from := len(w.DC.Requests())
					if err := w.DC.InjectFault(f.fault(c, 1)); err != nil {
						t.Fatal(err)
					}
					res := tr.invoke(`{"force": true}`)
					mustSucceed(t, res)
					if ans := decode[refreshAnswer](t, res); !ans.Refreshed {
						t.Errorf("answer %s, want refreshed", res.Payload)
					}
					if w.readStored().AccessToken == prev.AccessToken {
						t.Error("the token was not replaced")
					}
					if served(w.DC, c, f.status, from) != 1 {
						t.Errorf("the fault %s did not apply", f)
					}
				})
			}
			t.Run(c.name+" persistent 503", func(t *testing.T) {
				prev := w.readStored()
				if err := w.DC.InjectFault(serverFault{503, ""}.fault(c, 0)); err != nil {
					t.Fatal(err)
				}
				defer w.DC.ClearFaults()
				res := tr.invoke(`{"force": true}`)
				mustFail(t, res)
				if !strings.HasPrefix(res.ErrorMessage, "datacloud: ") || !strings.Contains(res.ErrorMessage, c.name) {
					t.Errorf("error %q, want it to start with datacloud: and name the %s step", res.ErrorMessage, c.name)
				}
				if got := w.readStored(); got != prev {
					t.Error("a failed refresh changed the stored token")
				}
			})
		}
	})
}

// TestFaultMatrixDeadline: Data Cloud answering so slowly that the function's deadline comes
// first: the job is aborted, the object is tagged failed, and the next delivery of the same
// event (the claim was released as failed) ingests it, once.
func TestFaultMatrixDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		for _, c := range []dcCall{callCreate, callUpload, callClose} {
			t.Run("slow "+c.name, func(t *testing.T) {
				w := newWorld(t, be, datacloudtest.Options{})
				w.seedToken(time.Hour)
				ing := w.start("s3ingest", fnOptions{Timeout: 4 * time.Second})
				object := "Slow" + strings.ReplaceAll(c.name, " ", "")
				o := w.put("ingest/"+source+"/"+object+"/a.csv", csvOf(1, 5), "")
				if err := w.DC.InjectFault(datacloudtest.Fault{Route: c.route, Delay: 8 * time.Second, Times: 1}); err != nil {
					t.Fatal(err)
				}
				res := ing.invoke(w.s3Event(o))
				mustFail(t, res)
				if res.FunctionError == "Runtime.ExitError" || strings.Contains(res.FunctionError, "Timeout") {
					t.Fatalf("the function was killed (%s) instead of stopping cleanly\n%s", res.FunctionError, res.Logs)
				}
				tags := w.wantOutcome(t, o.Key, "failed", -1)
				if !strings.Contains(tags["datacloud-error"], "deadline") {
					t.Errorf("datacloud-error %q does not say the deadline stopped it", tags["datacloud-error"])
				}
				noOpenJobs(t, w.DC)

				mustSucceed(t, ing.invoke(w.s3Event(o)))
				w.wantOutcome(t, o.Key, "ingested", 5)
				wantRecords(t, w.DC, object, 5)
				noOpenJobs(t, w.DC)
			})
		}
	})
}

// TestFaultMatrixRevokedMidJob: the token is revoked while a bulk job is open (the upload is
// the first call to see the 401). With the credentials secret the function refreshes once,
// stores the new token and goes on in the same job; without it the file fails, nothing of it
// is applied, and the job that can no longer be aborted is logged by id.
func TestFaultMatrixRevokedMidJob(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		for _, creds := range []bool{true, false} {
			name := "with credentials"
			o := fnOptions{}
			if !creds {
				name, o.Without = "without credentials", []string{"DATACLOUD_CREDENTIALS_SECRET"}
			}
			t.Run(name, func(t *testing.T) {
				w := newWorld(t, be, datacloudtest.Options{})
				old := w.seedToken(time.Hour)
				ing := w.start("s3ingest", o)
				f := w.put("ingest/"+source+"/Revoked/a.csv", csvOf(1, 7), "")
				if err := w.DC.InjectFault(datacloudtest.Fault{Route: routeUpload, RevokeToken: true, Times: 1}); err != nil {
					t.Fatal(err)
				}
				res := ing.invoke(w.s3Event(f))
				if served(w.DC, callUpload, http.StatusUnauthorized, 0) != 1 {
					t.Errorf("the upload was not answered 401 once: the fault did not apply")
				}
				if !creds {
					mustFail(t, res)
					w.wantOutcome(t, f.Key, "failed", -1)
					wantRecords(t, w.DC, "Revoked", 0)
					// No usable token is left to abort the job with: it stays Open with none of
					// its data applied, and the log names it so an operator can abort it.
					jobs := jobsOf(w.DC, "Revoked")
					if len(jobs) != 1 || jobs[0].State != datacloudtest.StateOpen {
						t.Fatalf("jobs %+v, want the one job, never closed", jobs)
					}
					if !strings.Contains(res.Logs, `"msg":"abort bulk job"`) || !strings.Contains(res.Logs, jobs[0].ID) {
						t.Errorf("the failed abort of job %s is not logged with its id:\n%s", jobs[0].ID, res.Logs)
					}
					return
				}
				mustSucceed(t, res)
				w.wantOutcome(t, f.Key, "ingested", 7)
				wantRecords(t, w.DC, "Revoked", 7)
				if n := logins(w.DC); n != 1 {
					t.Errorf("%d logins, want one refresh", n)
				}
				if w.readStored().AccessToken == old.AccessToken {
					t.Error("the refreshed token was not stored")
				}
				noOpenJobs(t, w.DC)
			})
		}
	})
}
