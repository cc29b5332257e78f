// Package tokenstore keeps the Data Cloud token in AWS Secrets Manager (contract §2.2, §3).
//
// Store reads and writes the token secret. Refresher runs the refresh flow (read the
// credentials secret, JWT bearer login, a360 exchange, PutSecretValue) and names the step
// that failed. SecretTokenSource is what consumers (s3ingest, querytrigger) give the Data
// Cloud client: a read-through cache of the token secret that, after a 401, re-reads the
// secret and, when it still holds the rejected token and credentials are configured,
// refreshes it itself — once for all concurrent callers. Handler is the tokenrefresh
// function's behaviour.
package tokenstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// GetSecretAPI is the part of the Secrets Manager client that reads secrets.
type GetSecretAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretsAPI is the part of the Secrets Manager client the token store uses.
type SecretsAPI interface {
	GetSecretAPI
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// ErrNotStored is wrapped by Get when the token secret, or its current value, does not exist.
var ErrNotStored = errors.New("no token stored")

// MalformedError is returned by Get when the secret's value is not a usable token document.
// It names the problem, never the value.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string {
	return "datacloud: read token secret: malformed token: " + e.Reason
}

// tokenDoc is the token secret's JSON (contract §2.2).
type tokenDoc struct {
	AccessToken string `json:"access_token"`
	InstanceURL string `json:"instance_url"`
	TokenType   string `json:"token_type"`
	IssuedAt    string `json:"issued_at"`
	ExpiresAt   string `json:"expires_at"`
	Dataspace   string `json:"dataspace"`
}

// Store reads and writes the token secret.
type Store struct {
	api SecretsAPI
	id  string
}

// NewStore returns the store for the secret id (name or ARN).
func NewStore(api SecretsAPI, secretID string) *Store { return &Store{api: api, id: secretID} }

// SecretID is the token secret's id as configured.
func (s *Store) SecretID() string { return s.id }

// Get reads and validates the stored token. Errors: wrapping ErrNotStored (no secret or no
// current value), *MalformedError, or the Secrets Manager error.
func (s *Store) Get(ctx context.Context) (datacloud.Token, error) {
	raw, err := getSecret(ctx, s.api, s.id)
	if err != nil {
		return datacloud.Token{}, fmt.Errorf("datacloud: read token secret: %w", err)
	}
	return parseToken(raw)
}

// Put stores tok as the secret's new current value and returns the new version id.
func (s *Store) Put(ctx context.Context, tok datacloud.Token) (string, error) {
	doc := tokenDoc{
		AccessToken: tok.AccessToken,
		InstanceURL: tok.InstanceURL,
		TokenType:   tok.TokenType,
		IssuedAt:    formatTime(tok.IssuedAt),
		ExpiresAt:   formatTime(tok.ExpiresAt),
		Dataspace:   tok.Dataspace,
	}
	if doc.TokenType == "" {
		doc.TokenType = "Bearer"
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("datacloud: store token: %w", err)
	}
	str := string(b)
	out, err := s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &s.id, SecretString: &str})
	if err != nil {
		return "", fmt.Errorf("datacloud: store token: %w", err)
	}
	if out.VersionId == nil {
		return "", nil
	}
	return *out.VersionId, nil
}

// ReadCredentials reads and validates the connected-app credentials secret (contract §2.1).
func ReadCredentials(ctx context.Context, api GetSecretAPI, secretID string) (datacloud.Credentials, error) {
	raw, err := getSecret(ctx, api, secretID)
	if err != nil {
		return datacloud.Credentials{}, fmt.Errorf("datacloud: read credentials secret: %w", err)
	}
	return datacloud.ParseCredentials(raw)
}

// getSecret returns the current value (string or binary). A missing secret or value wraps
// ErrNotStored.
func getSecret(ctx context.Context, api GetSecretAPI, id string) ([]byte, error) {
	out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("%w: secret %s has no current value", ErrNotStored, id)
		}
		return nil, err
	}
	switch {
	case out.SecretString != nil && *out.SecretString != "":
		return []byte(*out.SecretString), nil
	case len(out.SecretBinary) > 0:
		return out.SecretBinary, nil
	}
	return nil, fmt.Errorf("%w: secret %s is empty", ErrNotStored, id)
}

// parseToken validates a token document. Messages say what is wrong, never quote the value.
func parseToken(raw []byte) (datacloud.Token, error) {
	var d tokenDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return datacloud.Token{}, &MalformedError{Reason: fmt.Sprintf("invalid JSON at byte %d", syn.Offset)}
		case errors.As(err, &typ) && typ.Field != "":
			return datacloud.Token{}, &MalformedError{Reason: fmt.Sprintf("field %q must be a %s", typ.Field, typ.Type)}
		}
		return datacloud.Token{}, &MalformedError{Reason: "not a JSON object"}
	}
	if strings.TrimSpace(d.AccessToken) == "" {
		return datacloud.Token{}, &MalformedError{Reason: "access_token is missing"}
	}
	u, err := url.Parse(d.InstanceURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return datacloud.Token{}, &MalformedError{Reason: "instance_url is not an http(s) URL"}
	}
	tok := datacloud.Token{
		AccessToken: d.AccessToken,
		InstanceURL: strings.TrimRight(d.InstanceURL, "/"),
		TokenType:   d.TokenType,
		Dataspace:   d.Dataspace,
	}
	if tok.TokenType == "" {
		tok.TokenType = "Bearer"
	}
	if tok.ExpiresAt, err = parseTime(d.ExpiresAt); err != nil || tok.ExpiresAt.IsZero() {
		return datacloud.Token{}, &MalformedError{Reason: "expires_at is not an RFC 3339 time"}
	}
	if tok.IssuedAt, err = parseTime(d.IssuedAt); err != nil {
		return datacloud.Token{}, &MalformedError{Reason: "issued_at is not an RFC 3339 time"}
	}
	return tok, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
