package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// scheduledEvent is an EventBridge scheduled event as Lambda delivers it.
const scheduledEvent = `{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event",` +
	`"source":"aws.events","account":"123456789012","time":"2026-11-28T12:00:00Z","region":"us-east-1",` +
	`"resources":["arn:aws:events:us-east-1:123456789012:rule/tokenrefresh"],"detail":{}}`

// refreshAnswer is tokenrefresh's answer (contract §3).
type refreshAnswer struct {
	Refreshed   bool   `json:"refreshed"`
	ExpiresAt   string `json:"expires_at"`
	InstanceURL string `json:"instance_url"`
}

// logins counts the JWT bearer logins the emulator served.
func logins(dc *datacloudtest.Server) int {
	n := 0
	for _, r := range dc.Requests() {
		if r.Path == "/services/oauth2/token" {
			n++
		}
	}
	return n
}

// readStored parses the token secret (read with the SDK).
func (w *world) readStored() storedToken {
	w.t.Helper()
	return parseStored(w.t, w.getSecret(w.TokenSecret))
}

func parseStored(t *testing.T, raw string) storedToken {
	t.Helper()
	var tok storedToken
	if err := json.Unmarshal([]byte(raw), &tok); err != nil {
		t.Fatalf("token secret is not JSON: %v", err)
	}
	return tok
}

func TestTokenRefresh(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{TokenTTL: 2 * time.Hour})
		if err := w.DC.RegisterApp(datacloudtest.App{ClientID: clientID, Usernames: []string{username}, CertificatePEM: w.Key.CertPEM, Dataspaces: []string{"sales"}}); err != nil {
			t.Fatal(err)
		}
		tr := w.start("tokenrefresh", fnOptions{})

		t.Run("scheduled with no stored token refreshes", func(t *testing.T) {
			before := time.Now().UTC().Truncate(time.Second)
			res := tr.invoke(scheduledEvent)
			mustSucceed(t, res)
			ans := decode[refreshAnswer](t, res)
			stored := parseStored(t, w.cliSecret(w.TokenSecret)) // as an operator would read it
			if !ans.Refreshed || ans.InstanceURL != w.InstanceURL() || ans.ExpiresAt != stored.ExpiresAt {
				t.Errorf("answer %+v, want refreshed, instance_url %s, expires_at %s", ans, w.InstanceURL(), stored.ExpiresAt)
			}
			checkStored(t, stored, w, before, 2*time.Hour)
			if strings.Contains(string(res.Payload), stored.AccessToken) {
				t.Error("the answer holds the token")
			}
		})

		t.Run("scheduled outside the margin does not refresh", func(t *testing.T) {
			prev := w.getSecret(w.TokenSecret)
			n := logins(w.DC)
			res := tr.invoke(scheduledEvent)
			mustSucceed(t, res)
			ans := decode[refreshAnswer](t, res)
			if ans.Refreshed || ans.ExpiresAt == "" {
				t.Errorf("answer %+v, want refreshed=false with the stored expires_at", ans)
			}
			if w.getSecret(w.TokenSecret) != prev || logins(w.DC) != n {
				t.Error("a token outside the margin was refreshed")
			}
		})

		t.Run("forced refreshes a fresh token", func(t *testing.T) {
			prev := w.readStored()
			res := tr.invoke(`{"force": true}`)
			mustSucceed(t, res)
			if ans := decode[refreshAnswer](t, res); !ans.Refreshed {
				t.Errorf("answer %+v, want refreshed", ans)
			}
			if now := w.readStored(); now.AccessToken == prev.AccessToken {
				t.Error("forced refresh stored the same token")
			}
		})

		t.Run("scheduled inside the margin refreshes", func(t *testing.T) {
			old := w.seedToken(20 * time.Minute) // default margin 45m
			res := tr.invoke(scheduledEvent)
			mustSucceed(t, res)
			if ans := decode[refreshAnswer](t, res); !ans.Refreshed {
				t.Errorf("answer %+v, want refreshed", ans)
			}
			if now := w.readStored(); now.AccessToken == old.AccessToken {
				t.Error("token inside the margin was not replaced")
			}
		})

		t.Run("margin from DATACLOUD_REFRESH_MARGIN", func(t *testing.T) {
			w.seedToken(90 * time.Minute)
			wide := w.start("tokenrefresh", fnOptions{Env: []string{"DATACLOUD_REFRESH_MARGIN=2h"}})
			if ans := decode[refreshAnswer](t, wide.invoke(scheduledEvent)); !ans.Refreshed {
				t.Errorf("token expiring in 90m with a 2h margin: answer %+v, want refreshed", ans)
			}
		})

		t.Run("dataspace from the credentials", func(t *testing.T) {
			var c map[string]string
			_ = json.Unmarshal([]byte(w.credentials(w.LoginURL())), &c)
			c["dataspace"] = "sales"
			b, _ := json.Marshal(c)
			w.putSecret(w.CredSecret, string(b))
			// Credentials are read once per container: a new one sees the change.
			fresh := w.start("tokenrefresh", fnOptions{})
			mustSucceed(t, fresh.invoke(`{"force":true}`))
			if got := w.readStored(); got.Dataspace != "sales" {
				t.Errorf("stored dataspace %q, want sales", got.Dataspace)
			}
			w.putSecret(w.CredSecret, w.credentials(w.LoginURL()))
		})

		t.Run("unreadable stored token refreshes", func(t *testing.T) {
			w.putSecret(w.TokenSecret, "not json")
			if ans := decode[refreshAnswer](t, tr.invoke(scheduledEvent)); !ans.Refreshed {
				t.Errorf("answer %+v, want refreshed", ans)
			}
		})
	})
}

// checkStored checks the stored token against contract §2.2.
func checkStored(t *testing.T, tok storedToken, w *world, notBefore time.Time, ttl time.Duration) {
	t.Helper()
	if !slices.Contains(w.DC.TenantTokens(), tok.AccessToken) {
		t.Error("stored access_token is not a valid Data Cloud token of the emulator")
	}
	if tok.TokenType != "Bearer" || tok.InstanceURL != w.InstanceURL() {
		t.Errorf("token_type %q instance_url %q, want Bearer and %s (bare host from the exchange means https)", tok.TokenType, tok.InstanceURL, w.InstanceURL())
	}
	issued, err1 := time.Parse(time.RFC3339, tok.IssuedAt)
	expires, err2 := time.Parse(time.RFC3339, tok.ExpiresAt)
	if err1 != nil || err2 != nil || !strings.HasSuffix(tok.IssuedAt, "Z") || !strings.HasSuffix(tok.ExpiresAt, "Z") {
		t.Fatalf("issued_at %q expires_at %q: want RFC 3339 UTC", tok.IssuedAt, tok.ExpiresAt)
	}
	if issued.Before(notBefore) || issued.After(time.Now().Add(time.Second)) {
		t.Errorf("issued_at %s is not the time of the exchange (after %s)", issued, notBefore)
	}
	if d := expires.Sub(issued); d < ttl-2*time.Second || d > ttl+2*time.Second {
		t.Errorf("expires_at - issued_at = %s, want expires_in (%s)", d, ttl)
	}
}

func TestTokenRefreshFailures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		tests := []struct {
			name  string
			setup func(w *world)
			want  []string // in the error message
			// onlyForced skips the scheduled invoke where each one sits through retries.
			onlyForced bool
		}{
			{"user not approved", func(w *world) {
				w.putSecret(w.CredSecret, strings.Replace(w.credentials(w.LoginURL()), username, "stranger@e2e.example.com", 1))
			}, []string{"login", "invalid_grant", "user hasn't approved this consumer"}, false},
			{"unknown client id", func(w *world) {
				w.putSecret(w.CredSecret, strings.Replace(w.credentials(w.LoginURL()), clientID, "unknown-app", 1))
			}, []string{"login", "invalid_client_id"}, false},
			{"unknown dataspace", func(w *world) {
				var c map[string]string
				_ = json.Unmarshal([]byte(w.credentials(w.LoginURL())), &c)
				c["dataspace"] = "nowhere"
				b, _ := json.Marshal(c)
				w.putSecret(w.CredSecret, string(b))
			}, []string{"exchange", "invalid_request", "invalid dataspace"}, false},
			{"exchange unavailable", func(w *world) {
				if err := w.DC.InjectFault(datacloudtest.Fault{Route: "POST /services/a360/token", Status: 503}); err != nil {
					w.t.Fatal(err)
				}
			}, []string{"exchange", "Service Unavailable"}, true},
			{"login host not allowed", func(w *world) {
				w.putSecret(w.CredSecret, w.credentials(strings.Replace(w.LoginURL(), "127.0.0.1", "127.0.0.2", 1)))
			}, []string{"read credentials", "host not allowed", "127.0.0.2"}, false},
			{"malformed credentials", func(w *world) {
				w.putSecret(w.CredSecret, `{"client_id": "x"}`)
			}, []string{"read credentials"}, false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				w := newWorld(t, be, datacloudtest.Options{})
				old := w.seedToken(5 * time.Minute) // inside the margin: a scheduled run tries
				tc.setup(w)
				tr := w.start("tokenrefresh", fnOptions{Timeout: 30 * time.Second})
				events := []string{scheduledEvent, `{"force":true}`}
				if tc.onlyForced {
					events = events[1:]
				}
				for _, event := range events {
					res := tr.invoke(event)
					mustFail(t, res)
					if res.FunctionError != "RefreshError" {
						t.Errorf("errorType %q, want RefreshError", res.FunctionError)
					}
					for _, s := range tc.want {
						if !strings.Contains(res.ErrorMessage, s) {
							t.Errorf("error %q does not mention %q", res.ErrorMessage, s)
						}
					}
					if !strings.HasPrefix(res.ErrorMessage, "datacloud: ") {
						t.Errorf("error %q does not start with datacloud:", res.ErrorMessage)
					}
					if got := w.readStored(); got != old {
						t.Errorf("a failed refresh changed the stored token: %+v", got)
					}
				}
			})
		}
	})
}
