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

// cursor is where the next answer starts:
//
//   - R > 0: the last R rows of a V2 batch that did not fit are still unanswered; answer them
//     from the container that holds them under key H (held.go), or else read them with a V1
//     page of at most min(L, R) rows at offset N; then continue with batch B (or end, when B
//     is empty: that batch was the last).
//   - R == 0, B set: fetch V2 batch B.
//   - R == 0, B empty: V1 pages of L rows from offset N until the result ends. Only cursors
//     issued before R existed take this form; they stay valid.
type cursor struct {
	V int    `json:"v"`
	Q string `json:"q,omitempty"` // the first query's id, for logs
	B string `json:"b,omitempty"` // V2 nextBatchId, unused until the remainder is read
	N int    `json:"n"`           // absolute index of the next row in the whole result
	L int    `json:"l,omitempty"` // V1 page size
	R int    `json:"r,omitempty"` // rows of the current V2 batch still to read with V1
	H string `json:"h,omitempty"` // key of those rows where the answering container holds them
	S string `json:"s"`           // the SQL (V1 reads it again)
}

// v1 reports whether the next read is a V1 page (a batch remainder or legacy paging).
func (c cursor) v1() bool { return c.R > 0 || c.B == "" }

// v1Limit is the size of the next V1 page.
func (c cursor) v1Limit() int {
	if c.R > 0 {
		return min(c.L, c.R)
	}
	return c.L
}

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
	case c.V != 1, strings.TrimSpace(c.S) == "", c.N < 0, c.R < 0, len(c.H) > heldKeyLen, c.H != "" && c.R == 0:
		return cursor{}, errBadCursor
	case c.v1() && (c.L < 1 || c.L > maxV1Limit):
		return cursor{}, errBadCursor
	}
	return c, nil
}
