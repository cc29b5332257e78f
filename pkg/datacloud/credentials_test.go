package datacloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func credsJSON(t *testing.T, mutate func(m map[string]any)) []byte {
	t.Helper()
	m := map[string]any{
		"client_id": "3MVG9-client", "username": "integration@example.com",
		"private_key": pkcs1PEM(t), "login_url": "https://login.salesforce.com",
	}
	if mutate != nil {
		mutate(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name      string
		data      func(t *testing.T) []byte
		wantErr   string
		wantLogin string
	}{
		{name: "pkcs1", data: func(t *testing.T) []byte { return credsJSON(t, nil) }, wantLogin: "https://login.salesforce.com"},
		{name: "pkcs8", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) { m["private_key"] = pkcs8PEM(t) })
		}, wantLogin: "https://login.salesforce.com"},
		{name: "escaped newlines", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) { m["private_key"] = strings.ReplaceAll(pkcs1PEM(t), "\n", `\n`) })
		}, wantLogin: "https://login.salesforce.com"},
		{name: "white space trimmed", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) {
				m["client_id"] = "3MVG9-client\n"
				m["login_url"] = " https://test.salesforce.com \n"
			})
		}, wantLogin: "https://test.salesforce.com"},
		{name: "login url defaults", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) { delete(m, "login_url") })
		}, wantLogin: "https://login.salesforce.com"},
		{name: "bare login host", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) { m["login_url"] = "test.salesforce.com/" })
		}, wantLogin: "https://test.salesforce.com"},
		{name: "missing client_id", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) { delete(m, "client_id") })
		}, wantErr: "datacloud: credentials: client_id is missing"},
		{name: "missing username", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) { m["username"] = " " })
		}, wantErr: "datacloud: credentials: username is missing"},
		{name: "missing key", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) { delete(m, "private_key") })
		}, wantErr: "datacloud: credentials: private_key is missing"},
		{name: "key not pem", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) { m["private_key"] = "MIIEsecretbase64" })
		}, wantErr: "private_key: no PEM block found"},
		{name: "key truncated", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) {
				p := pkcs1PEM(t)
				lines := strings.Split(p, "\n")
				m["private_key"] = strings.Join(append(lines[:3:3], lines[len(lines)-2:]...), "\n")
			})
		}, wantErr: "private_key: invalid PKCS#1 RSA key"},
		{name: "pkcs8 garbage", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) {
				m["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
			})
		}, wantErr: "private_key: invalid PKCS#8 key"},
		{name: "certificate instead of key", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) {
				m["private_key"] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
			})
		}, wantErr: `PEM block "CERTIFICATE" is not a private key`},
		{name: "encrypted key", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) {
				m["private_key"] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
			})
		}, wantErr: "encrypted keys are not supported"},
		{name: "bad login url", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) { m["login_url"] = "https://" })
		}, wantErr: "login_url is not a URL"},
		{name: "audience with space", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) { m["audience"] = "https://x y" })
		}, wantErr: "audience holds white space"},
		{name: "syntax error", data: func(t *testing.T) []byte {
			b := credsJSON(t, nil)
			return b[:len(b)-1]
		}, wantErr: "datacloud: credentials: invalid JSON at byte"},
		{name: "wrong type", data: func(t *testing.T) []byte {
			return credsJSON(t, func(m map[string]any) { m["username"] = 42 })
		}, wantErr: `field "username" must be a string`},
		{name: "not an object", data: func(t *testing.T) []byte { return []byte(`"x"`) }, wantErr: "datacloud: credentials:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCredentials(tt.data(t))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "MII") || strings.Contains(err.Error(), "secretbase64") {
					t.Errorf("error quotes key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.LoginURL != tt.wantLogin || c.ClientID != "3MVG9-client" {
				t.Errorf("LoginURL = %q, want %q", c.LoginURL, tt.wantLogin)
			}
		})
	}
}

func TestEffectiveAudience(t *testing.T) {
	tests := []struct{ login, audience, want string }{
		{"https://login.salesforce.com", "", ProductionLoginURL},
		{"https://test.salesforce.com", "", SandboxLoginURL},
		{"test.salesforce.com", "", SandboxLoginURL},
		{"https://acme--dev.sandbox.my.salesforce.com", "", SandboxLoginURL},
		{"https://ACME--DEV.SANDBOX.MY.SALESFORCE.COM/", "", SandboxLoginURL},
		{"https://acme.my.salesforce.com", "", ProductionLoginURL},
		{"https://sandbox.my.salesforce.com.evil.example", "", ProductionLoginURL},
		{"https://acme.my.site.com", "https://acme.my.site.com", "https://acme.my.site.com"},
		{"", "", ProductionLoginURL},
	}
	for _, tt := range tests {
		t.Run(tt.login+"|"+tt.audience, func(t *testing.T) {
			c := Credentials{LoginURL: tt.login, Audience: tt.audience}
			if got := c.EffectiveAudience(); got != tt.want {
				t.Errorf("EffectiveAudience() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCredentialsNeverPrintTheKey(t *testing.T) {
	c, err := ParseCredentials(credsJSON(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("creds", "credentials", c)
	for name, s := range map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("%s", c), "slog": logBuf.String(),
	} {
		if strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, "MII") {
			t.Errorf("%s prints the key: %s", name, s)
		}
		if !strings.Contains(s, "3MVG9-client") {
			t.Errorf("%s lost the client id: %s", name, s)
		}
	}
}
