package main

import (
	"context"
	"strings"
	"testing"

	"github.com/dcbridge/datacloud-lambda/internal/awsenv"
)

func TestSetupNamesTheBadVariable(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	tests := []struct {
		name string
		env  map[string]string
		want string // "" means setup succeeds
	}{
		{name: "minimal", env: map[string]string{"DATACLOUD_TOKEN_SECRET": "t"}},
		{name: "with credentials and budget", env: map[string]string{"DATACLOUD_TOKEN_SECRET": "t", "DATACLOUD_CREDENTIALS_SECRET": "c", "QUERY_MAX_RESPONSE_BYTES": "2000000"}},
		{name: "no token secret", env: map[string]string{}, want: "DATACLOUD_TOKEN_SECRET is required"},
		{name: "budget over the Lambda limit", env: map[string]string{"DATACLOUD_TOKEN_SECRET": "t", "QUERY_MAX_RESPONSE_BYTES": "7000000"}, want: "QUERY_MAX_RESPONSE_BYTES must be between"},
		{name: "budget not a number", env: map[string]string{"DATACLOUD_TOKEN_SECRET": "t", "QUERY_MAX_RESPONSE_BYTES": "5MB"}, want: "QUERY_MAX_RESPONSE_BYTES is not an integer"},
		{name: "bad hosts", env: map[string]string{"DATACLOUD_TOKEN_SECRET": "t", "DATACLOUD_ALLOWED_HOSTS": "https://a/b"}, want: "DATACLOUD_ALLOWED_HOSTS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := setup(context.Background(), awsenv.Map(tt.env))
			if tt.want == "" {
				if err != nil || svc == nil {
					t.Fatalf("setup: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
