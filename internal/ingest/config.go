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
	// EnvStreamingInFlight is an addition to contract §1: how many streaming bodies of one
	// file are posted at once (1 keeps them applied in file order; see StreamOptions.InFlight).
	EnvStreamingInFlight = "INGEST_STREAMING_IN_FLIGHT"
)

// maxStreamingInFlight bounds EnvStreamingInFlight: Data Cloud takes 250 requests per second
// in all, which a few requests in flight reach already.
const maxStreamingInFlight = 16

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
	inFlight, err := env.Int(EnvStreamingInFlight, DefaultStreamingInFlight, 1, maxStreamingInFlight)
	if err != nil {
		return Config{}, err
	}
	c.BulkPartBytes, c.StreamingPayloadBytes, c.StreamingInFlight = int(part), int(payload), int(inFlight)
	return c, nil
}
