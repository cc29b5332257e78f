package ingest

import (
	"strings"

	"github.com/dcbridge/datacloud-lambda/internal/awsenv"
	"github.com/dcbridge/datacloud-lambda/internal/s3object"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// Environment variables of s3ingest (contract §1) beyond the token ones.
const (
	EnvPrefix                = "INGEST_PREFIX"
	EnvBulkPartBytes         = "INGEST_BULK_PART_BYTES"
	EnvStreamingPayloadBytes = "INGEST_STREAMING_PAYLOAD_BYTES"
)

// minPayloadBytes is the smallest useful limit: a body holds the {"data":[]} envelope and
// at least a small record.
const minPayloadBytes = 64

// ConfigFromEnv reads the ingest variables. Errors are *awsenv.VarError naming the variable.
func ConfigFromEnv(env awsenv.Env) (Config, error) {
	var c Config
	c.Prefix = env.String(EnvPrefix, DefaultPrefix)
	if strings.HasPrefix(c.Prefix, s3object.DefaultClaimPrefix) || strings.HasPrefix(s3object.DefaultClaimPrefix, c.Prefix) && c.Prefix != "" {
		return Config{}, &awsenv.VarError{Name: EnvPrefix, Reason: "must not contain the claim markers' prefix " + s3object.DefaultClaimPrefix}
	}
	part, err := env.Int(EnvBulkPartBytes, DefaultBulkPartBytes, minPayloadBytes, datacloud.MaxUploadBytes)
	if err != nil {
		return Config{}, err
	}
	payload, err := env.Int(EnvStreamingPayloadBytes, DefaultStreamingPayloadBytes, minPayloadBytes, datacloud.DefaultStreamingPayloadBytes)
	if err != nil {
		return Config{}, err
	}
	c.BulkPartBytes, c.StreamingPayloadBytes = int(part), int(payload)
	return c, nil
}
