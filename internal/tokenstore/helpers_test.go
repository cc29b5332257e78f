package tokenstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dcbridge/datacloud-lambda/internal/testenv"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// One moto_server for the package: starting one per test costs a second or more each.
var (
	motoOnce sync.Once
	moto     *testenv.Moto
	motoErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if moto != nil {
		moto.Close()
	}
	os.Exit(code)
}

// secretsClient returns a Secrets Manager client on the package's moto_server.
func secretsClient(t *testing.T) *secretsmanager.Client {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		if os.Getenv("REQUIRE_MOTO") == "1" {
			t.Fatal("moto_server is required (REQUIRE_MOTO=1) but not on PATH")
		}
		t.Skip("moto_server not on PATH")
	}
	motoOnce.Do(func() { moto, motoErr = testenv.StartMoto(context.Background()) })
	if motoErr != nil {
		t.Fatal(motoErr)
	}
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(moto.URL) })
}

// createSecret creates a secret named after the test (with an initial value unless value
// is empty) and returns its name.
func createSecret(t *testing.T, sm *secretsmanager.Client, suffix, value string) string {
	t.Helper()
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "-" + suffix
	in := &secretsmanager.CreateSecretInput{Name: &name}
	if value != "" {
		in.SecretString = &value
	}
	if _, err := sm.CreateSecret(context.Background(), in); err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
	return name
}

// secretState is a secret's current value and version, to prove a failure left it alone.
type secretState struct{ value, version string }

func readState(t *testing.T, sm *secretsmanager.Client, id string) secretState {
	t.Helper()
	out, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: &id})
	if err != nil {
		return secretState{value: "<error: " + err.Error() + ">"}
	}
	return secretState{value: aws.ToString(out.SecretString), version: aws.ToString(out.VersionId)}
}

// emulator is a Data Cloud emulator with one connected app over plain HTTP on loopback.
type emulator struct {
	srv   *datacloudtest.Server
	run   *datacloudtest.Running
	creds datacloud.Credentials
	hosts datacloud.AllowedHosts
}

const (
	testClientID = "3MVG9-test-client"
	testUser     = "integration@example.com"
)

func newEmulator(t *testing.T, opts datacloudtest.Options) *emulator {
	t.Helper()
	srv := datacloudtest.New(opts)
	t.Cleanup(func() { srv.Close() })
	kp := datacloudtest.NewKeyPair(t)
	if err := srv.RegisterApp(datacloudtest.App{ClientID: testClientID, Usernames: []string{testUser}, CertificatePEM: kp.CertPEM, Dataspaces: []string{"sales"}}); err != nil {
		t.Fatal(err)
	}
	run := srv.Start()
	t.Cleanup(func() { run.Close() })
	hosts, err := datacloud.ParseAllowedHosts("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return &emulator{srv: srv, run: run, hosts: hosts, creds: datacloud.Credentials{
		ClientID: testClientID, Username: testUser, PrivateKeyPEM: kp.PKCS8PEM, LoginURL: run.URL,
	}}
}

// credentialsJSON is the credentials secret for e, with changes applied.
func (e *emulator) credentialsJSON(t *testing.T, change func(*datacloud.Credentials)) string {
	t.Helper()
	c := e.creds
	if change != nil {
		change(&c)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (e *emulator) authFactory() AuthFactory {
	return NewAuthFactory(datacloud.WithAuthAllowedHosts(e.hosts), datacloud.WithAuthHTTPClient(e.run.Client()),
		datacloud.WithAuthRetry(datacloud.ExponentialBackoff{MaxAttempts: 1}))
}

// logins counts the emulator's successful logins and exchanges.
func (e *emulator) logins() (login, exchange int) {
	for _, r := range e.srv.Requests() {
		switch {
		case r.Path == "/services/oauth2/token" && r.Status == 200:
			login++
		case r.Path == "/services/a360/token" && r.Status == 200:
			exchange++
		}
	}
	return login, exchange
}

// tokenJSON is a token secret document.
func tokenJSON(access, instance string, expires time.Time) string {
	return fmt.Sprintf(`{"access_token":%q,"instance_url":%q,"token_type":"Bearer","issued_at":%q,"expires_at":%q,"dataspace":""}`,
		access, instance, expires.Add(-2*time.Hour).UTC().Format(time.RFC3339), expires.UTC().Format(time.RFC3339))
}

// assertNoSecrets fails when any token or assertion the emulator issued appears in s.
func (e *emulator) assertNoSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range e.srv.IssuedSecrets() {
		if sec != "" && strings.Contains(s, sec) {
			t.Fatalf("%s leaks a secret issued by the emulator", what)
		}
	}
	if strings.Contains(s, "PRIVATE KEY") {
		t.Fatalf("%s leaks the private key", what)
	}
}

func emulatorOptions() datacloudtest.Options { return datacloudtest.Options{Seed: 7} }

func datacloudtestDelay(route string, d time.Duration) datacloudtest.Fault {
	return datacloudtest.Fault{Route: route, Delay: d, Times: 1}
}
