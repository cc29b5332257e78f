package obs

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

type secretValuer struct{ tok string }

func (s secretValuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_token", s.tok))
}

func TestLoggerRedactsSensitiveAttributes(t *testing.T) {
	const secret = "00Dxx!AQEAQ-super-secret"
	tests := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{name: "top level token", log: func(l *slog.Logger) { l.Info("m", "token", secret) }},
		{name: "access_token any", log: func(l *slog.Logger) { l.Info("m", slog.Any("access_token", []byte(secret))) }},
		{name: "upper case key", log: func(l *slog.Logger) { l.Info("m", "Authorization", "Bearer "+secret) }},
		{name: "assertion in group", log: func(l *slog.Logger) { l.Info("m", slog.Group("jwt", "assertion", secret)) }},
		{name: "group named private_key", log: func(l *slog.Logger) { l.Info("m", slog.Group("private_key", "pem", secret)) }},
		{name: "with attrs", log: func(l *slog.Logger) { l.With("token", secret).Info("m") }},
		{name: "with group", log: func(l *slog.Logger) { l.WithGroup("g").Info("m", "token", secret) }},
		{name: "log valuer", log: func(l *slog.Logger) { l.Info("m", "tok", secretValuer{secret}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(NewLogger(&buf, slog.LevelDebug))
			out := buf.String()
			if strings.Contains(out, "super-secret") {
				t.Fatalf("secret printed: %s", out)
			}
			if !strings.Contains(out, Redacted) {
				t.Fatalf("no redaction marker: %s", out)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("not one JSON line: %v: %s", err, out)
			}
		})
	}
}

func TestLoggerKeepsOrdinaryAttributesAndLevel(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(&buf, slog.LevelWarn)
	l.Info("hidden", "bucket", "b")
	l.Warn("shown", "bucket", "b", slog.Group("g", "records", 3))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want 1 line at warn, got %d: %q", len(lines), buf.String())
	}
	var m struct {
		Msg    string `json:"msg"`
		Bucket string `json:"bucket"`
		G      struct {
			Records int `json:"records"`
		} `json:"g"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	if m.Msg != "shown" || m.Bucket != "b" || m.G.Records != 3 {
		t.Fatalf("unexpected line: %s", lines[0])
	}
}
