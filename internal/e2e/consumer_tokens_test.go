package e2e

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// consumer is a function that reads the token secret (contract §3) with a way to make one
// Data Cloud call through it.
type consumer struct {
	name string
	// call makes one Data Cloud call and reports whether it succeeded.
	call func(t *testing.T, w *world, f *fn) bool
}

var callSeq atomic.Int64

var consumers = []consumer{
	{"s3ingest", func(t *testing.T, w *world, f *fn) bool {
		t.Helper()
		o := w.put(fmt.Sprintf("ingest/%s/Tok/%d.jsonl", source, callSeq.Add(1)), jsonlOf(int(callSeq.Load())*10, 2), "")
		res := f.invoke(w.s3Event(o))
		return res.FunctionError == "" && w.tags(o.Key)["datacloud-status"] == "ingested"
	}},
	{"querytrigger", func(t *testing.T, w *world, f *fn) bool {
		t.Helper()
		status, body := f.api(t, "POST", "/query", nil, `{"sql": "SELECT id FROM QTok"}`)
		if status != 200 {
			t.Logf("querytrigger answered %d: %s", status, body)
		}
		return status == 200
	}},
}

func TestConsumerTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		for _, c := range consumers {
			t.Run(c.name, func(t *testing.T) {
				setup := func(t *testing.T, o fnOptions) (*world, *fn, storedToken) {
					w := newWorld(t, be, datacloudtest.Options{})
					tok := w.seedToken(time.Hour)
					w.seedRows("QTok", 2)
					f := w.start(c.name, o)
					if !c.call(t, w, f) {
						t.Fatal("first call failed")
					}
					return w, f, tok
				}

				t.Run("read once per warm container", func(t *testing.T) {
					w, f, _ := setup(t, fnOptions{})
					w.putSecret(w.TokenSecret, "{}")
					if !c.call(t, w, f) {
						t.Error("a warm container re-read the secret instead of using the token it holds")
					}
				})

				t.Run("401 re-reads the secret and uses the new token", func(t *testing.T) {
					w, f, old := setup(t, fnOptions{})
					w.DC.Revoke(old.AccessToken)
					w.seedToken(time.Hour) // as tokenrefresh would have stored meanwhile
					n := logins(w.DC)
					if !c.call(t, w, f) {
						t.Error("call after a 401 with a new token in the secret failed")
					}
					if logins(w.DC) != n {
						t.Error("the consumer logged in although the secret held a new token")
					}
				})

				t.Run("401 with the same token refreshes once", func(t *testing.T) {
					w, f, old := setup(t, fnOptions{})
					w.DC.Revoke(old.AccessToken)
					before := time.Now().UTC().Truncate(time.Second)
					if !c.call(t, w, f) {
						t.Fatal("call after a 401 failed; want a self-refresh and one retry")
					}
					if n := logins(w.DC); n != 1 {
						t.Errorf("%d logins, want exactly 1 refresh", n)
					}
					stored := w.readStored()
					if stored.AccessToken == old.AccessToken {
						t.Fatal("the refreshed token was not stored")
					}
					checkStored(t, stored, w, before, datacloudtest.DefaultTokenTTL)
				})

				t.Run("401 without credentials fails", func(t *testing.T) {
					w, f, old := setup(t, fnOptions{Without: []string{"DATACLOUD_CREDENTIALS_SECRET"}})
					w.DC.Revoke(old.AccessToken)
					if c.call(t, w, f) {
						t.Error("call with a revoked token and no credentials succeeded")
					}
					if logins(w.DC) != 0 {
						t.Error("a consumer without credentials logged in")
					}
					if got := w.readStored(); got != old {
						t.Error("the token secret changed")
					}
				})
			})
		}

		t.Run("concurrent callers share one refresh", func(t *testing.T) {
			w := newWorld(t, be, datacloudtest.Options{})
			old := w.seedToken(time.Hour)
			ing := w.start("s3ingest", fnOptions{})
			var objs []object
			for i := range 6 {
				objs = append(objs, w.put(fmt.Sprintf("ingest/%s/Many%d/x.jsonl", source, i), jsonlOf(i*10, 3), ""))
			}
			w.DC.Revoke(old.AccessToken)
			mustSucceed(t, ing.invoke(w.s3Event(objs...)))
			if n := logins(w.DC); n != 1 {
				t.Errorf("%d logins for %d objects after a revoke, want 1", n, len(objs))
			}
			for _, o := range objs {
				w.wantOutcome(t, o.Key, "ingested", 3)
			}
		})
	})
}
