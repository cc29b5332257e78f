package tokenstore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/awsenv"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		credsNeeded bool
		wantVar     string // the variable a failure names
		check       func(t *testing.T, c Config)
	}{
		{name: "consumer minimal", env: map[string]string{EnvTokenSecret: "tok"}, check: func(t *testing.T, c Config) {
			if c.TokenSecret != "tok" || c.CredentialsSecret != "" || c.RefreshMargin != 45*time.Minute {
				t.Fatalf("%+v", c)
			}
			if c.AllowedHosts.Check("https://x.c360a.salesforce.com") != nil || c.AllowedHosts.Check("https://evil.example") == nil {
				t.Fatal("default allowed hosts wrong")
			}
		}},
		{name: "full", env: map[string]string{EnvTokenSecret: "tok", EnvCredentialsSecret: "cred", EnvAllowedHosts: "127.0.0.1", EnvRefreshMargin: "30m"}, credsNeeded: true,
			check: func(t *testing.T, c Config) {
				if c.CredentialsSecret != "cred" || c.RefreshMargin != 30*time.Minute || c.AllowedHosts.Check("http://127.0.0.1:8080") != nil {
					t.Fatalf("%+v", c)
				}
			}},
		{name: "token secret missing", env: map[string]string{}, wantVar: EnvTokenSecret},
		{name: "credentials required", env: map[string]string{EnvTokenSecret: "tok"}, credsNeeded: true, wantVar: EnvCredentialsSecret},
		{name: "margin malformed", env: map[string]string{EnvTokenSecret: "tok", EnvRefreshMargin: "soon"}, wantVar: EnvRefreshMargin},
		{name: "hosts malformed", env: map[string]string{EnvTokenSecret: "tok", EnvAllowedHosts: "https://x/y,"}, wantVar: EnvAllowedHosts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ConfigFromEnv(awsenv.Map(tt.env), tt.credsNeeded)
			if tt.wantVar == "" {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
				return
			}
			var ve *awsenv.VarError
			if !errors.As(err, &ve) || ve.Name != tt.wantVar || !strings.Contains(err.Error(), tt.wantVar) {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantVar)
			}
		})
	}
}
