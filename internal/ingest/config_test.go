package ingest

import (
	"errors"
	"strings"
	"testing"

	"github.com/dcbridge/datacloud-lambda/internal/awsenv"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantVar string
	}{
		{name: "defaults", env: map[string]string{},
			want: Config{Prefix: "ingest/", BulkPartBytes: 150_000_000, StreamingPayloadBytes: 200_000, StreamingInFlight: 4}},
		{name: "set", env: map[string]string{EnvPrefix: "landing/", EnvBulkPartBytes: "1_000_000", EnvStreamingPayloadBytes: "50000", EnvStreamingInFlight: "1"},
			want: Config{Prefix: "landing/", BulkPartBytes: 1_000_000, StreamingPayloadBytes: 50_000, StreamingInFlight: 1}},
		{name: "no body in flight", env: map[string]string{EnvStreamingInFlight: "0"}, wantVar: EnvStreamingInFlight},
		{name: "too many bodies in flight", env: map[string]string{EnvStreamingInFlight: "17"}, wantVar: EnvStreamingInFlight},
		{name: "part too large", env: map[string]string{EnvBulkPartBytes: "150000001"}, wantVar: EnvBulkPartBytes},
		{name: "part not a number", env: map[string]string{EnvBulkPartBytes: "150MB"}, wantVar: EnvBulkPartBytes},
		{name: "payload over the API limit", env: map[string]string{EnvStreamingPayloadBytes: "200001"}, wantVar: EnvStreamingPayloadBytes},
		{name: "prefix inside the claims", env: map[string]string{EnvPrefix: ".datacloud-claims/x/"}, wantVar: EnvPrefix},
		{name: "prefix holding the claims", env: map[string]string{EnvPrefix: ".data"}, wantVar: EnvPrefix},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(awsenv.Map(tc.env))
			if tc.wantVar != "" {
				var ve *awsenv.VarError
				if !errors.As(err, &ve) || ve.Name != tc.wantVar || !strings.Contains(err.Error(), tc.wantVar) {
					t.Fatalf("err = %v, want a VarError naming %s", err, tc.wantVar)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}
