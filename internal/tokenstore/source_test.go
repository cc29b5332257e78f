package tokenstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// countingGets counts GetSecretValue calls on the real (moto) client.
type countingGets struct {
	SecretsAPI
	gets atomic.Int64
}

func (c *countingGets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.gets.Add(1)
	return c.SecretsAPI.GetSecretValue(ctx, in, optFns...)
}

// sourceFixture is a SecretTokenSource on moto plus a Data Cloud client on the emulator.
type sourceFixture struct {
	e       *emulator
	sm      *secretsmanager.Client
	counted *countingGets
	tokenID string
	src     *SecretTokenSource
	client  *datacloud.Client
	metrics *obs.Metrics
}

// newSourceFixture stores stored as the token secret; withCreds configures a refresher.
func newSourceFixture(t *testing.T, stored string, withCreds bool) *sourceFixture {
	t.Helper()
	f := &sourceFixture{e: newEmulator(t, emulatorOptions()), sm: secretsClient(t), metrics: obs.NewMetrics("test")}
	f.counted = &countingGets{SecretsAPI: f.sm}
	f.tokenID = createSecret(t, f.sm, "token", stored)
	store := NewStore(f.counted, f.tokenID)
	var r *Refresher
	if withCreds {
		credID := createSecret(t, f.sm, "creds", f.e.credentialsJSON(t, nil))
		r = NewRefresher(store, f.sm, credID, f.e.authFactory())
	}
	f.src = NewSecretTokenSource(store, r, WithMetrics(f.metrics))
	c, err := datacloud.NewClient(f.src, datacloud.WithAllowedHosts(f.e.hosts), datacloud.WithHTTPClient(f.e.run.Client()),
		datacloud.WithRetryPolicy(datacloud.ExponentialBackoff{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	return f
}

// validStored is a token the emulator accepts, stored without a login.
func (e *emulator) validStored(ttl time.Duration) (string, string) {
	tok := e.srv.IssueTenantToken(testUser)
	return tok, tokenJSON(tok, e.run.URL, time.Now().Add(ttl))
}

func TestSourceReadsSecretOncePerContainer(t *testing.T) {
	f := newSourceFixture(t, "", true)
	tok, doc := f.e.validStored(2 * time.Hour)
	if _, err := f.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: &f.tokenID, SecretString: &doc}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		got, err := f.src.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got.AccessToken != tok {
			t.Fatalf("call %d: not the stored token", i)
		}
	}
	if n := f.counted.gets.Load(); n != 1 {
		t.Fatalf("GetSecretValue called %d times, want 1", n)
	}
	if l, x := f.e.logins(); l+x != 0 {
		t.Fatal("a fresh stored token caused a login")
	}
}

func TestSourceStoredTokenStates(t *testing.T) {
	tests := []struct {
		name       string
		ttl        time.Duration // of the stored token; 0 stores nothing
		malformed  bool
		withCreds  bool
		wantLogin  bool
		wantStored bool // the stored token itself is returned
		wantNoTok  string
	}{
		{name: "fresh", ttl: time.Hour, wantStored: true},
		{name: "within margin without credentials", ttl: time.Minute, wantStored: true},
		{name: "within margin with credentials", ttl: time.Minute, withCreds: true, wantLogin: true},
		{name: "expired with credentials", ttl: -time.Minute, withCreds: true, wantLogin: true},
		{name: "expired without credentials", ttl: -time.Minute, wantNoTok: "the stored token has expired and no credentials are configured"},
		{name: "missing with credentials", withCreds: true, wantLogin: true},
		{name: "missing without credentials", wantNoTok: "no token is stored and no credentials are configured"},
		{name: "malformed with credentials", malformed: true, withCreds: true, wantLogin: true},
		{name: "malformed without credentials", malformed: true, wantNoTok: "the stored token is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSourceFixture(t, "", tt.withCreds)
			var storedTok string
			if tt.ttl != 0 || tt.malformed {
				doc := `{"access_token": 1}`
				if !tt.malformed {
					storedTok, doc = f.e.validStored(tt.ttl)
				}
				if _, err := f.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: &f.tokenID, SecretString: &doc}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := f.src.Token(context.Background())
			if tt.wantNoTok != "" {
				var nt *NoTokenError
				if !errors.As(err, &nt) || nt.Reason == "" || !strings.Contains(err.Error(), tt.wantNoTok) {
					t.Fatalf("err = %v, want *NoTokenError %q", err, tt.wantNoTok)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			logins, _ := f.e.logins()
			if (logins == 1) != tt.wantLogin || logins > 1 {
				t.Fatalf("logins = %d, want login %v", logins, tt.wantLogin)
			}
			if (got.AccessToken == storedTok) != tt.wantStored {
				t.Fatalf("returned stored token = %v, want %v", got.AccessToken == storedTok, tt.wantStored)
			}
			if tt.wantLogin {
				again, err := NewStore(f.sm, f.tokenID).Get(context.Background())
				if err != nil || again.AccessToken != got.AccessToken {
					t.Fatalf("refreshed token not stored (err %v)", err)
				}
				if f.metrics.Value(obs.TokenRefreshes) != 1 {
					t.Fatal("refresh not counted")
				}
			}
			// The token works against the emulator.
			if _, err := f.client.Metadata(context.Background(), datacloud.MetadataOptions{}); err != nil {
				t.Fatalf("metadata with the token: %v", err)
			}
		})
	}
}

func TestSourceUnauthorizedRefreshesOnceForManyCallers(t *testing.T) {
	f := newSourceFixture(t, "", true)
	old, doc := f.e.validStored(2 * time.Hour)
	if _, err := f.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: &f.tokenID, SecretString: &doc}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := f.client.Metadata(ctx, datacloud.MetadataOptions{}); err != nil {
		t.Fatal(err)
	}
	f.e.srv.Revoke(old) // Data Cloud now answers 401 to the cached token.

	const callers = 24
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	start := make(chan struct{})
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := f.client.Metadata(ctx, datacloud.MetadataOptions{})
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("caller failed: %v", err)
		}
	}
	logins, exchanges := f.e.logins()
	if logins != 1 || exchanges != 1 {
		t.Fatalf("logins=%d exchanges=%d, want exactly one refresh for %d callers", logins, exchanges, callers)
	}
	stored, err := NewStore(f.sm, f.tokenID).Get(ctx)
	if err != nil || stored.AccessToken == old {
		t.Fatalf("secret still holds the rejected token (err %v)", err)
	}
}

func TestSourceUnauthorizedUsesTokenAnotherProcessStored(t *testing.T) {
	f := newSourceFixture(t, "", true)
	old, doc := f.e.validStored(2 * time.Hour)
	ctx := context.Background()
	if _, err := f.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &f.tokenID, SecretString: &doc}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	// tokenrefresh ran elsewhere: a new token in the secret, the old one revoked.
	newer, doc2 := f.e.validStored(2 * time.Hour)
	if _, err := f.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &f.tokenID, SecretString: &doc2}); err != nil {
		t.Fatal(err)
	}
	f.e.srv.Revoke(old)
	if _, err := f.client.Metadata(ctx, datacloud.MetadataOptions{}); err != nil {
		t.Fatal(err)
	}
	if l, _ := f.e.logins(); l != 0 {
		t.Fatalf("logged in %d times although the secret held a newer token", l)
	}
	if got, _ := f.src.Token(ctx); got.AccessToken != newer {
		t.Fatal("the newer stored token is not in use")
	}
}

func TestSourceUnauthorizedWithoutCredentials(t *testing.T) {
	f := newSourceFixture(t, "", false)
	old, doc := f.e.validStored(2 * time.Hour)
	ctx := context.Background()
	if _, err := f.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &f.tokenID, SecretString: &doc}); err != nil {
		t.Fatal(err)
	}
	f.e.srv.Revoke(old)
	_, err := f.client.Metadata(ctx, datacloud.MetadataOptions{})
	var nt *NoTokenError
	if !errors.As(err, &nt) || !strings.Contains(nt.Reason, "rejected") {
		t.Fatalf("err = %v, want *NoTokenError about the rejected token", err)
	}
	f.e.assertNoSecrets(t, "error", err.Error())
}

func TestSourceCallerCancelDoesNotCancelSharedRefresh(t *testing.T) {
	f := newSourceFixture(t, "", true)
	if err := f.e.srv.InjectFault(datacloudtestDelay("POST /services/oauth2/token", 300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	impatient, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := f.src.Token(impatient); done <- err }()
	time.Sleep(10 * time.Millisecond)
	tok, err := f.src.Token(context.Background())
	if err != nil {
		t.Fatalf("patient caller: %v", err)
	}
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("impatient caller: %v, want deadline exceeded", err)
	}
	if l, _ := f.e.logins(); l != 1 || tok.AccessToken == "" {
		t.Fatalf("logins = %d, want 1", l)
	}
}

func TestSourceKeepsValidTokenWhenRefreshFails(t *testing.T) {
	f := newSourceFixture(t, "", true)
	stored, doc := f.e.validStored(time.Minute) // inside the 2-minute margin, not expired
	ctx := context.Background()
	if _, err := f.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &f.tokenID, SecretString: &doc}); err != nil {
		t.Fatal(err)
	}
	injectFault(t, f.e, datacloudtest.Fault{Route: "POST /services/oauth2/token", Status: 500})
	got, err := f.src.Token(ctx)
	if err != nil || got.AccessToken != stored {
		t.Fatalf("err %v, stored token returned %v: a failed refresh must not fail while the token is valid", err, got.AccessToken == stored)
	}
	// Once the stored token is rejected, the failed refresh is an error naming both.
	f.src.Invalidate(got)
	_, err = f.src.Token(ctx)
	var nt *NoTokenError
	var re *RefreshError
	if !errors.As(err, &nt) || !errors.As(err, &re) || re.Step != StepLogin || !strings.Contains(err.Error(), "rejected by Data Cloud and the refresh failed: refresh token: login: Internal Server Error") {
		t.Fatalf("err = %v", err)
	}
	f.e.assertNoSecrets(t, "error", err.Error())
}
