package datacloud

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
)

// MetadataOptions filters Metadata; empty fields are left out.
type MetadataOptions struct {
	EntityType     string // DataLakeObject | DataModelObject | CalculatedInsight
	EntityName     string // e.g. ssot__Individual__dlm
	EntityCategory string // Profile | Engagement | Related
}

// Metadata returns Data Cloud's metadata document ({"metadata":[...]}) as it came.
func (c *Client) Metadata(ctx context.Context, o MetadataOptions) (json.RawMessage, error) {
	const op = "metadata"
	q := make(map[string][]string)
	for k, v := range map[string]string{"entityType": o.EntityType, "entityName": o.EntityName, "entityCategory": o.EntityCategory} {
		if v != "" {
			q[k] = []string{v}
		}
	}
	body, _, err := c.do(ctx, call{op: op, method: http.MethodGet, path: "/api/v1/metadata", query: q})
	if err != nil {
		return nil, err
	}
	if !json.Valid(body) {
		return nil, errors.New("datacloud: metadata: response is not JSON: " + shortText(body))
	}
	return json.RawMessage(body), nil
}
