package tokenstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// refreshFixture is a tokenrefresh handler wired to moto and the emulator.
type refreshFixture struct {
	e       *emulator
	sm      *secretsmanager.Client
	tokenID string
	credID  string
	h       *Handler
	metrics bytes.Buffer
	logs    bytes.Buffer
}

// newRefreshFixture stores tokenValue ("" leaves the token secret without a value) and the
// emulator's credentials (changed by change).
func newRefreshFixture(t *testing.T, tokenValue string, change func(*datacloud.Credentials)) *refreshFixture {
	t.Helper()
	f := &refreshFixture{e: newEmulator(t, emulatorOptions()), sm: secretsClient(t)}
	f.tokenID = createSecret(t, f.sm, "token", tokenValue)
	f.credID = createSecret(t, f.sm, "creds", f.e.credentialsJSON(t, change))
	store := NewStore(f.sm, f.tokenID)
	f.h = &Handler{
		Store: store, Refresher: NewRefresher(store, f.sm, f.credID, f.e.authFactory()),
		Margin: 45 * time.Minute, Log: obs.NewLogger(&f.logs, nil),
		Metrics: obs.NewMetrics("tokenrefresh"), MetricsOut: &f.metrics,
	}
	return f
}

func TestHandlerRefreshDecision(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name        string
		stored      string
		event       string
		wantRefresh bool
	}{
		{name: "scheduled, expires within margin", stored: tokenJSON("old", "https://x.c360a.salesforce.com", now.Add(30*time.Minute)),
			event: `{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, wantRefresh: true},
		{name: "scheduled, fresh", stored: tokenJSON("old", "https://x.c360a.salesforce.com", now.Add(90*time.Minute)),
			event: `{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, wantRefresh: false},
		{name: "empty object is scheduled", stored: tokenJSON("old", "https://x.c360a.salesforce.com", now.Add(90*time.Minute)), event: `{}`},
		{name: "force false is scheduled", stored: tokenJSON("old", "https://x.c360a.salesforce.com", now.Add(90*time.Minute)), event: `{"force":false}`},
		{name: "non-object is scheduled", stored: tokenJSON("old", "https://x.c360a.salesforce.com", now.Add(90*time.Minute)), event: `"tick"`},
		{name: "force, fresh", stored: tokenJSON("old", "https://x.c360a.salesforce.com", now.Add(90*time.Minute)), event: `{"force":true}`, wantRefresh: true},
		{name: "expired", stored: tokenJSON("old", "https://x.c360a.salesforce.com", now.Add(-time.Minute)), event: `{}`, wantRefresh: true},
		{name: "missing value", stored: "", event: `{}`, wantRefresh: true},
		{name: "malformed", stored: `{"access_token":`, event: `{}`, wantRefresh: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRefreshFixture(t, tt.stored, nil)
			before := readState(t, f.sm, f.tokenID)
			res, err := f.h.Handle(context.Background(), json.RawMessage(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			after := readState(t, f.sm, f.tokenID)
			logins, exchanges := f.e.logins()
			if res.Refreshed != tt.wantRefresh {
				t.Fatalf("refreshed = %v, want %v", res.Refreshed, tt.wantRefresh)
			}
			if !tt.wantRefresh {
				if before != after || logins != 0 || exchanges != 0 {
					t.Fatalf("not refreshing changed the secret or logged in (%d logins)", logins)
				}
				var stored tokenDoc
				_ = json.Unmarshal([]byte(before.value), &stored)
				if res.ExpiresAt != stored.ExpiresAt || res.InstanceURL != stored.InstanceURL {
					t.Fatalf("result %+v does not describe the stored token", res)
				}
				return
			}
			if logins != 1 || exchanges != 1 {
				t.Fatalf("logins=%d exchanges=%d, want 1 each", logins, exchanges)
			}
			if after.version == before.version || after.value == before.value {
				t.Fatal("secret not updated")
			}
			got, err := f.h.Store.Get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got.InstanceURL, "http://127.0.0.1:") || res.InstanceURL != got.InstanceURL {
				t.Fatalf("instance_url: stored %q, result %q", got.InstanceURL, res.InstanceURL)
			}
			if res.ExpiresAt != got.ExpiresAt.Format(time.RFC3339) || time.Until(got.ExpiresAt) < 110*time.Minute {
				t.Fatalf("expires_at: stored %v, result %q", got.ExpiresAt, res.ExpiresAt)
			}
			if !strings.Contains(f.metrics.String(), `"TokenRefreshes":1`) {
				t.Fatalf("no TokenRefreshes metric: %q", f.metrics.String())
			}
			out, _ := json.Marshal(res)
			f.e.assertNoSecrets(t, "result", string(out))
			f.e.assertNoSecrets(t, "logs", f.logs.String())
		})
	}
}

// failingPut is a Secrets Manager whose PutSecretValue fails, as with a missing permission.
type failingPut struct{ SecretsAPI }

func (failingPut) PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return nil, errors.New("AccessDeniedException: not authorized to perform secretsmanager:PutSecretValue")
}

func TestHandlerFailureLeavesTokenUntouched(t *testing.T) {
	tests := []struct {
		name     string
		change   func(*datacloud.Credentials)
		setup    func(t *testing.T, f *refreshFixture)
		wantStep string
		wantText string
	}{
		{name: "credentials secret missing", setup: func(t *testing.T, f *refreshFixture) {
			f.h.Refresher = NewRefresher(f.h.Store, f.sm, "no-such-credentials", f.e.authFactory())
		}, wantStep: StepReadCredentials, wantText: "refresh token: read credentials: read credentials secret:"},
		{name: "credentials malformed", change: func(c *datacloud.Credentials) { c.PrivateKeyPEM = "not a key" },
			wantStep: StepReadCredentials, wantText: "read credentials: credentials: private_key: no PEM block found"},
		{name: "user not approved", change: func(c *datacloud.Credentials) { c.Username = "stranger@example.com" },
			wantStep: StepLogin, wantText: "login: invalid_grant: user hasn't approved this consumer"},
		{name: "unknown client", change: func(c *datacloud.Credentials) { c.ClientID = "unknown" },
			wantStep: StepLogin, wantText: "login: invalid_client_id: client identifier invalid"},
		{name: "login host not allowed", change: func(c *datacloud.Credentials) { c.LoginURL = "https://login.example.org" },
			wantStep: StepReadCredentials, wantText: "host not allowed"},
		{name: "unknown dataspace", change: func(c *datacloud.Credentials) { c.Dataspace = "nope" },
			wantStep: StepExchange, wantText: "exchange: invalid_request: invalid dataspace"},
		{name: "login endpoint unreachable", change: func(c *datacloud.Credentials) { c.LoginURL = "http://127.0.0.1:1" },
			wantStep: StepLogin, wantText: "login: POST /services/oauth2/token: connection error"},
		{name: "login server error", setup: func(t *testing.T, f *refreshFixture) {
			injectFault(t, f.e, datacloudtest.Fault{Route: "POST /services/oauth2/token", Status: 500, Body: "<html>down</html>"})
		}, wantStep: StepLogin, wantText: "login: HTTP 500"},
		{name: "exchange server error", setup: func(t *testing.T, f *refreshFixture) {
			injectFault(t, f.e, datacloudtest.Fault{Route: "POST /services/a360/token", Status: 503, Body: `{"error":"temporarily_unavailable","error_description":"try later"}`})
		}, wantStep: StepExchange, wantText: "exchange: temporarily_unavailable: try later"},
		{name: "store fails", setup: func(t *testing.T, f *refreshFixture) {
			store := NewStore(failingPut{f.sm}, f.tokenID)
			f.h.Store, f.h.Refresher = store, NewRefresher(store, f.sm, f.credID, f.e.authFactory())
		}, wantStep: StepStoreToken, wantText: "store token: AccessDeniedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRefreshFixture(t, tokenJSON("old-token", "https://x.c360a.salesforce.com", time.Now().Add(10*time.Minute)), tt.change)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			before := readState(t, f.sm, f.tokenID)
			_, err := f.h.Handle(context.Background(), json.RawMessage(`{"force":true}`))
			after := readState(t, f.sm, f.tokenID)
			if before != after {
				t.Fatal("a failed refresh changed the stored token")
			}
			var re *RefreshError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v (%T), want *RefreshError", err, err)
			}
			if re.Step != tt.wantStep || !strings.Contains(err.Error(), tt.wantText) || !strings.HasPrefix(err.Error(), "datacloud: refresh token: "+tt.wantStep+": ") {
				t.Fatalf("err = %q (step %q), want step %q and text %q", err, re.Step, tt.wantStep, tt.wantText)
			}
			f.e.assertNoSecrets(t, "error", err.Error())
			f.e.assertNoSecrets(t, "logs", f.logs.String())
			if strings.Contains(f.metrics.String(), "TokenRefreshes") {
				t.Fatal("a failed refresh was counted")
			}
		})
	}
}

func TestHandlerRejectsBadForce(t *testing.T) {
	f := newRefreshFixture(t, "", nil)
	_, err := f.h.Handle(context.Background(), json.RawMessage(`{"force":"yes"}`))
	var ee *EventError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), `"force" must be true or false`) {
		t.Fatalf("err = %v", err)
	}
	if l, _ := f.e.logins(); l != 0 {
		t.Fatal("a bad event logged in")
	}
}

func TestRefresherRereadsCredentialsAfterLoginRejection(t *testing.T) {
	f := newRefreshFixture(t, "", func(c *datacloud.Credentials) { c.Username = "stranger@example.com" })
	ctx := context.Background()
	if _, err := f.h.Refresher.Refresh(ctx); err == nil {
		t.Fatal("refresh with an unapproved user succeeded")
	}
	fixed := f.e.credentialsJSON(t, nil)
	if _, err := f.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &f.credID, SecretString: &fixed}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.Refresher.Refresh(ctx); err != nil {
		t.Fatalf("refresh after fixing the credentials secret: %v", err)
	}
}

func injectFault(t *testing.T, e *emulator, f datacloudtest.Fault) {
	t.Helper()
	if err := e.srv.InjectFault(f); err != nil {
		t.Fatal(err)
	}
}
