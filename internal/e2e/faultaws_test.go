package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// s3Dropper is a proxy in front of the backend's S3 that breaks the first whole-object GET of
// one key half way through its body, as when S3 drops a stream; every other request passes.
type s3Dropper struct {
	URL     string
	path    string // /bucket/key
	dropped atomic.Bool
	mu      sync.Mutex
	ranges  []string // Range headers of the GETs of the key
}

func newS3Dropper(t *testing.T, be *backend, bucket, key string) *s3Dropper {
	t.Helper()
	target, err := url.Parse(be.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	d := &s3Dropper{path: "/" + bucket + "/" + key}
	rp := &httputil.ReverseProxy{
		// The Host header stays the proxy's: the request was signed for it.
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = r.In.Host },
		FlushInterval: -1, // what was read reaches the client before the break
		ModifyResponse: func(resp *http.Response) error {
			r := resp.Request
			if r.Method != http.MethodGet || r.URL.Path != d.path || r.URL.Query().Has("tagging") {
				return nil
			}
			d.mu.Lock()
			d.ranges = append(d.ranges, r.Header.Get("Range"))
			d.mu.Unlock()
			if r.Header.Get("Range") == "" && resp.StatusCode == http.StatusOK && d.dropped.CompareAndSwap(false, true) {
				resp.Body = &halfBody{rc: resp.Body, left: resp.ContentLength / 2}
			}
			return nil
		},
		// The deliberate break is not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

// halfBody yields left bytes of rc and then fails, which makes the proxy abort the connection.
type halfBody struct {
	rc   io.ReadCloser
	left int64
}

func (h *halfBody) Read(p []byte) (int, error) {
	if h.left <= 0 {
		return 0, errors.New("stream dropped")
	}
	if int64(len(p)) > h.left {
		p = p[:h.left]
	}
	n, err := h.rc.Read(p)
	h.left -= int64(n)
	return n, err
}

func (h *halfBody) Close() error { return h.rc.Close() }

// unavailable is an AWS endpoint that answers every request 503, counting them.
func unavailable(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"__type":"ServiceUnavailableException","message":"Service is unavailable"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &hits
}

// TestFaultMatrixAWS covers the AWS side: S3 dropping the object stream, Secrets Manager
// unavailable, and token secrets no consumer can use. Nothing is lost: once the fault is
// gone, the next delivery of the same event ingests the object, once.
func TestFaultMatrixAWS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		t.Run("S3 drops the object stream half way", func(t *testing.T) {
			w := newWorld(t, be, datacloudtest.Options{})
			w.seedToken(time.Hour)
			key := "ingest/" + source + "/Dropped/big.csv"
			d := newS3Dropper(t, be, w.Bucket, key)
			ing := w.start("s3ingest", fnOptions{Env: []string{"AWS_ENDPOINT_URL_S3=" + d.URL}})
			o := w.put(key, csvOf(0, 400), "")
			mustSucceed(t, ing.invoke(w.s3Event(o)))
			w.wantOutcome(t, o.Key, "ingested", 400)
			wantRecords(t, w.DC, "Dropped", 400)
			d.mu.Lock()
			ranges := append([]string(nil), d.ranges...)
			d.mu.Unlock()
			if !d.dropped.Load() || len(ranges) < 2 || !strings.HasPrefix(ranges[len(ranges)-1], "bytes=") {
				t.Errorf("GETs of the object with Range %q (dropped %v), want the broken stream resumed with a ranged GET", ranges, d.dropped.Load())
			}
		})

		t.Run("Secrets Manager unavailable", func(t *testing.T) {
			w := newWorld(t, be, datacloudtest.Options{})
			w.seedToken(time.Hour)
			w.seedRows("QSM", 2)
			smURL, hits := unavailable(t)
			down := fnOptions{Env: []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + smURL}}

			q := w.start("querytrigger", down)
			status, body := q.api(t, "POST", "/query", nil, `{"sql": "SELECT id FROM QSM"}`)
			if status != http.StatusServiceUnavailable || !bytes.Contains(body, []byte(`"code"`)) {
				t.Errorf("querytrigger: status %d body %s, want 503 (no usable token)", status, body)
			}

			prev := w.getSecret(w.TokenSecret)
			tr := w.start("tokenrefresh", fnOptions{Env: down.Env, Timeout: 30 * time.Second})
			res := tr.invoke(`{"force": true}`)
			mustFail(t, res)
			if !strings.HasPrefix(res.ErrorMessage, "datacloud: ") || !strings.Contains(strings.ToLower(res.ErrorMessage), "secret") {
				t.Errorf("tokenrefresh error %q, want a datacloud: error naming the secret", res.ErrorMessage)
			}
			if w.getSecret(w.TokenSecret) != prev {
				t.Error("tokenrefresh changed the token secret")
			}

			o := w.put("ingest/"+source+"/SMDown/a.jsonl", jsonlOf(0, 5), "")
			mustFail(t, w.start("s3ingest", down).invoke(w.s3Event(o)))
			wantRecords(t, w.DC, "SMDown", 0)
			if hits.Load() == 0 {
				t.Fatal("the unavailable Secrets Manager was never called")
			}
			// Nothing lost: the next delivery, with Secrets Manager back, ingests it once.
			mustSucceed(t, w.start("s3ingest", fnOptions{}).invoke(w.s3Event(o)))
			w.wantOutcome(t, o.Key, "ingested", 5)
			wantRecords(t, w.DC, "SMDown", 5)
		})

		unusable := []struct {
			name  string
			value func(w *world) string
		}{
			{"token secret holding malformed JSON", func(*world) string { return `{"access_token": "x", ` }},
			{"expired token with no credentials secret", func(w *world) string {
				tok := w.seedToken(-time.Minute)
				b, _ := json.Marshal(tok)
				return string(b)
			}},
		}
		for _, tc := range unusable {
			t.Run(tc.name, func(t *testing.T) {
				w := newWorld(t, be, datacloudtest.Options{})
				w.seedRows("QBad", 2)
				w.putSecret(w.TokenSecret, tc.value(w))
				noCreds := fnOptions{Without: []string{"DATACLOUD_CREDENTIALS_SECRET"}}
				status, body := w.start("querytrigger", noCreds).api(t, "POST", "/query", nil, `{"sql": "SELECT id FROM QBad"}`)
				if status != http.StatusServiceUnavailable {
					t.Errorf("querytrigger: status %d body %s, want 503 (no usable token)", status, body)
				}
				before := len(w.DC.Requests())
				o := w.put("ingest/"+source+"/BadTok/a.csv", csvOf(0, 3), "")
				ing := w.start("s3ingest", noCreds)
				mustFail(t, ing.invoke(w.s3Event(o)))
				if n := len(w.DC.Requests()) - before; n != 0 {
					t.Errorf("%d Data Cloud requests without a usable token, want none", n)
				}
				// Nothing lost: once tokenrefresh stored a token, the next delivery ingests it.
				w.seedToken(time.Hour)
				mustSucceed(t, w.start("s3ingest", noCreds).invoke(w.s3Event(o)))
				w.wantOutcome(t, o.Key, "ingested", 3)
				wantRecords(t, w.DC, "BadTok", 3)
			})
		}

		t.Run("credentials with a key that does not match the certificate", func(t *testing.T) {
			w := newWorld(t, be, datacloudtest.Options{})
			old := w.seedToken(5 * time.Minute)
			other := datacloudtest.NewKeyPair(t)
			addSecrets(func() []string { return []string{other.PKCS8PEM, other.PKCS1PEM} })
			var c map[string]string
			_ = json.Unmarshal([]byte(w.credentials(w.LoginURL())), &c)
			c["private_key"] = other.PKCS8PEM
			b, _ := json.Marshal(c)
			w.putSecret(w.CredSecret, string(b))
			res := w.start("tokenrefresh", fnOptions{Timeout: 30 * time.Second}).invoke(`{"force": true}`)
			mustFail(t, res)
			if !strings.Contains(res.ErrorMessage, "login") || !strings.Contains(res.ErrorMessage, "invalid_grant") {
				t.Errorf("error %q, want the login step and Salesforce's invalid_grant", res.ErrorMessage)
			}
			if got := w.readStored(); got != old {
				t.Error("a failed refresh changed the stored token")
			}
			// A consumer whose token is revoked cannot refresh with that key either: it fails
			// and stores nothing.
			w.DC.Revoke(old.AccessToken)
			o := w.put("ingest/"+source+"/BadKey/a.jsonl", jsonlOf(0, 2), "")
			mustFail(t, w.start("s3ingest", fnOptions{}).invoke(w.s3Event(o)))
			w.wantOutcome(t, o.Key, "failed", -1)
			if got := w.readStored(); got != old {
				t.Error("a failed self-refresh changed the stored token")
			}
		})
	})
}
