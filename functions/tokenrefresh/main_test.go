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
		want string
	}{
		{name: "no token secret", env: map[string]string{"DATACLOUD_CREDENTIALS_SECRET": "c"}, want: "DATACLOUD_TOKEN_SECRET is required"},
		{name: "no credentials secret", env: map[string]string{"DATACLOUD_TOKEN_SECRET": "t"}, want: "DATACLOUD_CREDENTIALS_SECRET is required"},
		{name: "bad margin", env: map[string]string{"DATACLOUD_TOKEN_SECRET": "t", "DATACLOUD_CREDENTIALS_SECRET": "c", "DATACLOUD_REFRESH_MARGIN": "45"}, want: "DATACLOUD_REFRESH_MARGIN"},
		{name: "bad log level", env: map[string]string{"LOG_LEVEL": "loud"}, want: "LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := setup(context.Background(), awsenv.Map(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	h, err := setup(context.Background(), awsenv.Map(map[string]string{"DATACLOUD_TOKEN_SECRET": "t", "DATACLOUD_CREDENTIALS_SECRET": "c", "DATACLOUD_REFRESH_MARGIN": "30m"}))
	if err != nil || h.Refresher == nil || h.Margin.Minutes() != 30 {
		t.Fatalf("valid env: h=%+v err=%v", h, err)
	}
}
