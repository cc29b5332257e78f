package tokenstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

func TestStorePutGetRoundTrip(t *testing.T) {
	sm := secretsClient(t)
	id := createSecret(t, sm, "token", "")
	s := NewStore(sm, id)
	ctx := context.Background()
	want := datacloud.Token{
		AccessToken: "eyJ.tenant.token", InstanceURL: "https://abc.c360a.salesforce.com", TokenType: "Bearer",
		Dataspace: "sales", IssuedAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	version, err := s.Put(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if version == "" {
		t.Fatal("Put returned no version id")
	}
	got, err := s.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	raw := readState(t, sm, id).value
	for _, field := range []string{`"expires_at":"2026-03-01T12:00:00Z"`, `"issued_at":"2026-03-01T10:00:00Z"`, `"token_type":"Bearer"`, `"dataspace":"sales"`} {
		if !strings.Contains(raw, field) {
			t.Fatalf("stored document %s lacks %s", redactDoc(raw), field)
		}
	}
}

// redactDoc keeps a test failure message from printing a token.
func redactDoc(s string) string { return strings.Repeat("x", len(s)) + " (redacted)" }

func TestStoreGetErrors(t *testing.T) {
	sm := secretsClient(t)
	const secretish = "s3cr3t-VALUE-do-not-print"
	tests := []struct {
		name      string
		value     string // "" creates no secret at all
		noValue   bool   // create the secret without a value
		notStored bool
		malformed string
	}{
		{name: "no secret", notStored: true},
		{name: "secret without value", noValue: true, notStored: true},
		{name: "not JSON", value: "{" + secretish, malformed: "invalid JSON at byte"},
		{name: "JSON array", value: `["` + secretish + `"]`, malformed: "not a JSON object"},
		{name: "wrong type", value: `{"access_token":123}`, malformed: `field "access_token" must be a string`},
		{name: "no access token", value: `{"instance_url":"https://x.c360a.salesforce.com","expires_at":"2026-01-01T00:00:00Z"}`, malformed: "access_token is missing"},
		{name: "bare host", value: `{"access_token":"` + secretish + `","instance_url":"x.c360a.salesforce.com","expires_at":"2026-01-01T00:00:00Z"}`, malformed: "instance_url is not an http(s) URL"},
		{name: "no expiry", value: `{"access_token":"` + secretish + `","instance_url":"https://x.c360a.salesforce.com"}`, malformed: "expires_at is not an RFC 3339 time"},
		{name: "bad expiry", value: `{"access_token":"` + secretish + `","instance_url":"https://x.c360a.salesforce.com","expires_at":"tomorrow"}`, malformed: "expires_at is not an RFC 3339 time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "never-created-" + strings.ReplaceAll(tt.name, " ", "-")
			if tt.value != "" || tt.noValue {
				id = createSecret(t, sm, "token", tt.value)
			}
			_, err := NewStore(sm, id).Get(context.Background())
			if err == nil {
				t.Fatal("Get succeeded")
			}
			if strings.Contains(err.Error(), secretish) {
				t.Fatalf("error echoes the secret value: %v", err)
			}
			if tt.notStored != errors.Is(err, ErrNotStored) {
				t.Fatalf("errors.Is(ErrNotStored) = %v, want %v: %v", !tt.notStored, tt.notStored, err)
			}
			if tt.malformed != "" {
				var me *MalformedError
				if !errors.As(err, &me) || !strings.Contains(err.Error(), tt.malformed) {
					t.Fatalf("err = %v, want *MalformedError containing %q", err, tt.malformed)
				}
			}
		})
	}
}

func TestReadCredentials(t *testing.T) {
	sm := secretsClient(t)
	e := newEmulator(t, emulatorOptions())
	tests := []struct {
		name    string
		value   string
		wantErr string
	}{
		{name: "valid", value: e.credentialsJSON(t, nil)},
		{name: "missing username", value: e.credentialsJSON(t, func(c *datacloud.Credentials) { c.Username = "" }), wantErr: "username is missing"},
		{name: "bad key", value: e.credentialsJSON(t, func(c *datacloud.Credentials) {
			c.PrivateKeyPEM = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
		}), wantErr: "private_key"},
		{name: "not JSON", value: "private_key: hunter2", wantErr: "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := createSecret(t, sm, "creds", tt.value)
			c, err := ReadCredentials(context.Background(), sm, id)
			if tt.wantErr == "" {
				if err != nil || c.ClientID != testClientID {
					t.Fatalf("c=%v err=%v", c.ClientID, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "AAAA") {
				t.Fatalf("error quotes the secret: %v", err)
			}
		})
	}
}
