package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// trap is a loopback listener standing in for a foreign host: it counts the connections
// made to it and never answers.
type trap struct {
	Port  string
	conns atomic.Int64
}

func newTrap(t *testing.T) *trap {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &trap{}
	_, tr.Port, _ = net.SplitHostPort(l.Addr().String())
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			tr.conns.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	return tr
}

// tokenFront is a plain-HTTP loopback front of the emulator's login and exchange endpoints
// that replaces the instance_url of their answers: rewrite maps a path to the new value
// ("" keeps the emulator's).
func tokenFront(t *testing.T, w *world, rewrite func(front, path string) string) string {
	t.Helper()
	target, err := url.Parse(w.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var front string
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: w.srv.Client().Transport,
		ModifyResponse: func(resp *http.Response) error {
			v := rewrite(front, resp.Request.URL.Path)
			if v == "" || resp.StatusCode != http.StatusOK {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				return err
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				return err
			}
			m["instance_url"] = v
			body, _ = json.Marshal(m)
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	front = srv.URL
	return front
}

// TestTokensOnlyToAllowedHosts: when login or the exchange answers an instance URL outside
// DATACLOUD_ALLOWED_HOSTS, no token is sent there: the refresh fails naming the host, the
// stored token is kept, and the foreign host never sees a connection. The foreign host is
// "localhost" on a trap port, left out of the allow-list (which keeps 127.0.0.1).
func TestTokensOnlyToAllowedHosts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		tests := []struct {
			name string
			// rewrite gets the front's URL, a path, and the trap's foreign URL.
			rewrite func(front, path, foreign string) string
		}{
			{"exchange answers a foreign instance URL", func(front, path, foreign string) string {
				switch path {
				case "/services/oauth2/token":
					return front // the exchange goes through the front too
				case "/services/a360/token":
					return strings.TrimPrefix(foreign, "https://") // a bare host, as the exchange answers
				}
				return ""
			}},
			{"login answers a foreign instance URL", func(front, path, foreign string) string {
				if path == "/services/oauth2/token" {
					return foreign
				}
				return ""
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				w := newWorld(t, be, datacloudtest.Options{})
				old := w.seedToken(5 * time.Minute)
				tr := newTrap(t)
				foreign := "https://localhost:" + tr.Port
				front := tokenFront(t, w, func(front, path string) string { return tc.rewrite(front, path, foreign) })
				w.putSecret(w.CredSecret, w.credentials(front))
				onlyLoopbackIP := []string{"DATACLOUD_ALLOWED_HOSTS=127.0.0.1"}

				res := w.start("tokenrefresh", fnOptions{Env: onlyLoopbackIP, Timeout: 30 * time.Second}).invoke(`{"force": true}`)
				mustFail(t, res)
				if !strings.Contains(res.ErrorMessage, "not allowed") || !strings.Contains(res.ErrorMessage, "localhost") {
					t.Errorf("error %q, want it to name the host that is not allowed", res.ErrorMessage)
				}
				if got := w.readStored(); got != old {
					t.Error("the stored token changed")
				}

				// A consumer refreshing by itself after a 401 keeps to the allow-list too.
				w.DC.Revoke(old.AccessToken)
				o := w.put("ingest/"+source+"/Foreign/a.jsonl", jsonlOf(0, 2), "")
				mustFail(t, w.start("s3ingest", fnOptions{Env: onlyLoopbackIP}).invoke(w.s3Event(o)))
				w.wantOutcome(t, o.Key, "failed", -1)
				wantRecords(t, w.DC, "Foreign", 0)
				if got := w.readStored(); got != old {
					t.Error("the stored token changed")
				}
				if logins(w.DC) < 2 {
					t.Errorf("%d logins, want one per function: the foreign URL was never answered", logins(w.DC))
				}
				if n := tr.conns.Load(); n != 0 {
					t.Errorf("the foreign host got %d connections, want none", n)
				}
			})
		}
	})
}
