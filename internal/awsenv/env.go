package awsenv

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// VarError reports a missing or malformed environment variable. Its text names the variable
// so that the one init log line says what to fix.
type VarError struct {
	Name   string // the variable, e.g. DATACLOUD_TOKEN_SECRET
	Reason string // e.g. "is required but not set", `is not a Go duration ("45 minutes")`
}

func (e *VarError) Error() string { return "environment variable " + e.Name + " " + e.Reason }

// Env reads configuration variables. Use OS in a main and Map in tests.
type Env struct {
	lookup func(string) (string, bool)
}

// OS reads the process environment.
func OS() Env { return Env{lookup: os.LookupEnv} }

// Map reads from m (tests, local tools).
func Map(m map[string]string) Env {
	return Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

// Lookup returns the trimmed value and whether it is set and not blank.
func (e Env) Lookup(name string) (string, bool) {
	if e.lookup == nil {
		return "", false
	}
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// Required returns the value of a variable that must be set and not blank.
func (e Env) Required(name string) (string, error) {
	v, ok := e.Lookup(name)
	if !ok {
		return "", &VarError{Name: name, Reason: "is required but not set"}
	}
	return v, nil
}

// String returns the value, or def when unset or blank.
func (e Env) String(name, def string) string {
	if v, ok := e.Lookup(name); ok {
		return v
	}
	return def
}

// Duration parses a Go duration ("45m", "1h30m"); def when unset. Zero and negative
// durations are rejected because no setting here means "never".
func (e Env) Duration(name string, def time.Duration) (time.Duration, error) {
	v, ok := e.Lookup(name)
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, &VarError{Name: name, Reason: fmt.Sprintf("is not a Go duration such as 45m (got %s)", quoteShort(v))}
	}
	if d <= 0 {
		return 0, &VarError{Name: name, Reason: fmt.Sprintf("must be positive (got %s)", quoteShort(v))}
	}
	return d, nil
}

// Int parses a decimal integer within [min, max]; def when unset.
func (e Env) Int(name string, def, min, max int64) (int64, error) {
	v, ok := e.Lookup(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64)
	if err != nil {
		return 0, &VarError{Name: name, Reason: fmt.Sprintf("is not an integer (got %s)", quoteShort(v))}
	}
	if n < min || n > max {
		return 0, &VarError{Name: name, Reason: fmt.Sprintf("must be between %d and %d (got %d)", min, max, n)}
	}
	return n, nil
}

// LogLevel parses LOG_LEVEL: debug, info, warn (or warning), error; info when unset.
func (e Env) LogLevel() (slog.Level, error) {
	v, ok := e.Lookup("LOG_LEVEL")
	if !ok {
		return slog.LevelInfo, nil
	}
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, &VarError{Name: "LOG_LEVEL", Reason: fmt.Sprintf("must be one of debug, info, warn, error (got %s)", quoteShort(v))}
}

// quoteShort quotes a value for an error, clipped: configuration values are not secret,
// but a pasted blob does not belong in a log line.
func quoteShort(v string) string {
	const max = 64
	if len(v) > max {
		v = v[:max] + "..."
	}
	return strconv.Quote(v)
}
