package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dcbridge/datacloud-lambda/internal/awsenv"
)

func TestSetupNamesTheBadVariable(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	good := map[string]string{"DATACLOUD_TOKEN_SECRET": "dc-token"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name, variable string
		env            map[string]string
	}{
		{"token secret missing", "DATACLOUD_TOKEN_SECRET", with("DATACLOUD_TOKEN_SECRET", "")},
		{"log level", "LOG_LEVEL", with("LOG_LEVEL", "verbose")},
		{"allowed hosts", "DATACLOUD_ALLOWED_HOSTS", with("DATACLOUD_ALLOWED_HOSTS", "http://x/y")},
		{"part bytes", "INGEST_BULK_PART_BYTES", with("INGEST_BULK_PART_BYTES", "lots")},
		{"payload bytes", "INGEST_STREAMING_PAYLOAD_BYTES", with("INGEST_STREAMING_PAYLOAD_BYTES", "999999")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := setup(context.Background(), awsenv.Map(tc.env))
			var ve *awsenv.VarError
			if !errors.As(err, &ve) || ve.Name != tc.variable || !strings.Contains(err.Error(), tc.variable) {
				t.Fatalf("err = %v, want one naming %s", err, tc.variable)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		h, err := setup(context.Background(), awsenv.Map(with("DATACLOUD_CREDENTIALS_SECRET", "dc-creds")))
		if err != nil || h == nil || h.Ingester == nil {
			t.Fatalf("setup: %v", err)
		}
		if got := h.Ingester.Router().Prefix; got != "ingest/" {
			t.Errorf("prefix %q", got)
		}
	})
}
