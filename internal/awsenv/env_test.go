package awsenv

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestEnvRequired(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "set", env: map[string]string{"X": "arn:aws:secretsmanager:us-east-1:1:secret:t"}, want: "arn:aws:secretsmanager:us-east-1:1:secret:t"},
		{name: "trimmed", env: map[string]string{"X": "  tok \n"}, want: "tok"},
		{name: "missing", env: map[string]string{}, wantErr: "environment variable X is required but not set"},
		{name: "blank", env: map[string]string{"X": "   "}, wantErr: "environment variable X is required but not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Map(tt.env).Required("X")
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnvDuration(t *testing.T) {
	tests := []struct {
		name    string
		value   *string
		want    time.Duration
		wantErr string
	}{
		{name: "default", want: 45 * time.Minute},
		{name: "parsed", value: ptr("1h30m"), want: 90 * time.Minute},
		{name: "malformed", value: ptr("45 minutes"), wantErr: `environment variable M is not a Go duration such as 45m (got "45 minutes")`},
		{name: "zero", value: ptr("0s"), wantErr: "must be positive"},
		{name: "negative", value: ptr("-5m"), wantErr: "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{}
			if tt.value != nil {
				m["M"] = *tt.value
			}
			got, err := Map(m).Duration("M", 45*time.Minute)
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEnvInt(t *testing.T) {
	tests := []struct {
		name    string
		value   *string
		want    int64
		wantErr string
	}{
		{name: "default", want: 200000},
		{name: "parsed", value: ptr("150000000"), want: 150000000},
		{name: "underscores", value: ptr("150_000"), want: 150000},
		{name: "not a number", value: ptr("lots"), wantErr: `environment variable N is not an integer (got "lots")`},
		{name: "below min", value: ptr("10"), wantErr: "must be between 1000 and 10000000000 (got 10)"},
		{name: "long value clipped", value: ptr(strings.Repeat("9x", 100)), wantErr: `..."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{}
			if tt.value != nil {
				m["N"] = *tt.value
			}
			got, err := Map(m).Int("N", 200000, 1000, 10_000_000_000)
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEnvLogLevel(t *testing.T) {
	tests := []struct {
		value   string
		want    slog.Level
		wantErr string
	}{
		{value: "", want: slog.LevelInfo},
		{value: "debug", want: slog.LevelDebug},
		{value: "INFO", want: slog.LevelInfo},
		{value: "warn", want: slog.LevelWarn},
		{value: "warning", want: slog.LevelWarn},
		{value: "error", want: slog.LevelError},
		{value: "verbose", wantErr: "environment variable LOG_LEVEL must be one of debug, info, warn, error"},
	}
	for _, tt := range tests {
		t.Run("level "+tt.value, func(t *testing.T) {
			got, err := Map(map[string]string{"LOG_LEVEL": tt.value}).LogLevel()
			checkErr(t, err, tt.wantErr)
			if err == nil && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEnvString(t *testing.T) {
	e := Map(map[string]string{"A": "x", "B": " "})
	if got := e.String("A", "d"); got != "x" {
		t.Fatalf("A = %q", got)
	}
	if got := e.String("B", "d"); got != "d" {
		t.Fatalf("blank B = %q, want default", got)
	}
	if got := (Env{}).String("A", "d"); got != "d" {
		t.Fatalf("zero Env = %q, want default", got)
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	var ve *VarError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T is not a *VarError", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func ptr(s string) *string { return &s }
