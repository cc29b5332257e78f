// Package obs holds the functions' observability: a slog JSON logger that cannot print
// secrets, and CloudWatch Embedded Metric Format (EMF) lines.
package obs

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Redacted replaces the value of a sensitive attribute.
const Redacted = "[REDACTED]"

// sensitiveKeys are attribute names whose values are never printed, whatever their type
// (compared case-insensitively). A token passed by mistake under one of these names is
// masked; the real protection is that code never logs them.
var sensitiveKeys = map[string]bool{
	"token":         true,
	"access_token":  true,
	"subject_token": true,
	"refresh_token": true,
	"assertion":     true,
	"private_key":   true,
	"privatekey":    true,
	"authorization": true,
	"password":      true,
	"client_secret": true,
	"secret_string": true,
}

// IsSensitiveKey reports whether an attribute named key is redacted.
func IsSensitiveKey(key string) bool { return sensitiveKeys[strings.ToLower(key)] }

// NewLogger returns a JSON logger writing one event per line to w at level.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(NewRedactingHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// NewRedactingHandler wraps h so that sensitive attributes, also inside groups and also
// when their value is a group or a LogValuer, reach h already redacted.
func NewRedactingHandler(h slog.Handler) slog.Handler { return redactingHandler{next: h} }

type redactingHandler struct{ next slog.Handler }

func (h redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redact(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = redact(a)
	}
	return redactingHandler{next: h.next.WithAttrs(clean)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{next: h.next.WithGroup(name)}
}

func redact(a slog.Attr) slog.Attr {
	if IsSensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	v := a.Value.Resolve()
	if v.Kind() != slog.KindGroup {
		return slog.Attr{Key: a.Key, Value: v}
	}
	members := v.Group()
	clean := make([]slog.Attr, len(members))
	for i, m := range members {
		clean[i] = redact(m)
	}
	return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}
}

// InitFailed logs the one line contract §1 asks for when a function cannot start (a missing
// or malformed variable, an AWS configuration error) and exits, which fails the Lambda init.
func InitFailed(function string, err error) {
	NewLogger(os.Stdout, slog.LevelInfo).Error(function+" init failed", "error", err.Error())
	os.Exit(1)
}
