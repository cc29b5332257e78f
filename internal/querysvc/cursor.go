package querysvc

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// maxV1Limit is Query API V1's largest page.
const maxV1Limit = 49_999

// maxCursorJSON caps the inflated cursor, so a crafted one cannot inflate without bound.
const maxCursorJSON = 1 << 20

// cursor is where the next answer starts. B set: fetch V2 batch B. B empty: V1 page of L
// rows at offset N.
type cursor struct {
	V int    `json:"v"`
	Q string `json:"q,omitempty"` // the first query's id, for logs
	B string `json:"b,omitempty"` // V2 nextBatchId
	N int    `json:"n"`           // absolute index of the next row in the whole result
	L int    `json:"l,omitempty"` // V1 page size
	S string `json:"s"`           // the SQL (needed once the V1 fallback starts)
}

func (c cursor) v1() bool { return c.B == "" }

// encodeCursor returns the opaque cursor string.
func encodeCursor(c cursor) string {
	c.V = 1
	raw, _ := json.Marshal(c) // strings and ints only: cannot fail
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestCompression) // valid level: cannot fail
	_, _ = zw.Write(raw)
	_ = zw.Close()
	return base64.RawURLEncoding.EncodeToString(buf.Bytes())
}

var errBadCursor = errors.New("cursor is not one this service issued")

// decodeCursor parses and validates a cursor string.
func decodeCursor(s string) (cursor, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, "=") // tolerate padded base64url
	z, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(z) == 0 {
		return cursor{}, errBadCursor
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), maxCursorJSON+1))
	if err != nil || len(raw) > maxCursorJSON {
		return cursor{}, errBadCursor
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c cursor
	if err := dec.Decode(&c); err != nil || dec.More() {
		return cursor{}, errBadCursor
	}
	switch {
	case c.V != 1, strings.TrimSpace(c.S) == "", c.N < 0:
		return cursor{}, errBadCursor
	case c.v1() && (c.L < 1 || c.L > maxV1Limit):
		return cursor{}, errBadCursor
	}
	return c, nil
}
