package querysvc

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"strings"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		c    cursor
	}{
		{name: "v2 batch", c: cursor{V: 1, Q: "20240101_000000_00001_abcde", B: "f98c7bcd-b1bd-4e8d-b98d-11aabdd6c604", N: 50000, S: "SELECT * FROM x__dlm"}},
		{name: "v1 page", c: cursor{V: 1, Q: "q", N: 123456, L: 777, S: "SELECT a, b FROM t ORDER BY a -- ünïcode <&>"}},
		{name: "batch remainder", c: cursor{V: 1, Q: "q", B: "f98c7bcd-b1bd-4e8d-b98d-11aabdd6c604", N: 29000, L: 21000, R: 21000, S: "SELECT 1"}},
		{name: "remainder of the last batch", c: cursor{V: 1, N: 7, L: 3, R: 5, S: "SELECT 1"}},
		{name: "large sql compresses", c: cursor{V: 1, N: 1, L: 1, S: "SELECT " + strings.Repeat("ssot__FirstName__c, ", 2000) + "1 FROM t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := encodeCursor(tt.c)
			if strings.ContainsAny(s, "+/= ") {
				t.Fatalf("cursor %q is not base64url without padding", s)
			}
			got, err := decodeCursor(s)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.c {
				t.Fatalf("got %+v, want %+v", got, tt.c)
			}
			if len(tt.c.S) > 10000 && len(s) > len(tt.c.S)/10 {
				t.Fatalf("cursor of %d bytes for %d bytes of repetitive SQL: not compressed", len(s), len(tt.c.S))
			}
		})
	}
}

func deflate(t *testing.T, raw string) string {
	t.Helper()
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	_, _ = w.Write([]byte(raw))
	_ = w.Close()
	return base64.RawURLEncoding.EncodeToString(b.Bytes())
}

func TestCursorRejectsGarbage(t *testing.T) {
	tests := []struct {
		name string
		s    string
	}{
		{name: "empty", s: ""},
		{name: "not base64", s: "***"},
		{name: "not deflate", s: base64.RawURLEncoding.EncodeToString([]byte("hello world"))},
		{name: "not JSON", s: deflate(t, "hello")},
		{name: "unknown field", s: deflate(t, `{"v":1,"s":"x","l":1,"x":1}`)},
		{name: "trailing data", s: deflate(t, `{"v":1,"s":"x","l":1}{}`)},
		{name: "wrong version", s: deflate(t, `{"v":2,"s":"x","l":1}`)},
		{name: "no sql", s: deflate(t, `{"v":1,"l":1}`)},
		{name: "negative offset", s: deflate(t, `{"v":1,"s":"x","l":1,"n":-1}`)},
		{name: "v1 without limit", s: deflate(t, `{"v":1,"s":"x"}`)},
		{name: "negative remainder", s: deflate(t, `{"v":1,"s":"x","b":"id","r":-1}`)},
		{name: "remainder without limit", s: deflate(t, `{"v":1,"s":"x","b":"id","r":5}`)},
		{name: "remainder limit too large", s: deflate(t, `{"v":1,"s":"x","b":"id","r":5,"l":50000}`)},
		{name: "v1 limit too large", s: deflate(t, `{"v":1,"s":"x","l":50000}`)},
		{name: "inflates too far", s: deflate(t, `{"v":1,"l":1,"s":"`+strings.Repeat("a", maxCursorJSON)+`"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := decodeCursor(tt.s); err == nil {
				t.Fatalf("accepted %+v", c)
			}
		})
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(cursor{B: "b", N: 3, S: "SELECT 1"}))
	f.Add(encodeCursor(cursor{N: 3, L: 9, S: "SELECT 1"}))
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			return
		}
		// Whatever decodes is valid and survives a round trip.
		if c.S == "" || c.N < 0 || (c.v1() && (c.L < 1 || c.L > maxV1Limit)) {
			t.Fatalf("invalid cursor accepted: %+v", c)
		}
		if again, err := decodeCursor(encodeCursor(c)); err != nil || again != c {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}

// FuzzDecodeEvent checks that no event decodes into an accepted query without SQL or
// into an error answer without a status, code and message.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"sql":""}`))
	f.Add([]byte(`{"cursor":"abc"}`))
	f.Add([]byte(`{"requestContext":{"http":{"method":"POST"}},"rawPath":"/query","body":"{","isBase64Encoded":true}`))
	f.Add([]byte(`{"version":"2.0","routeKey":"GET /nope","requestContext":{"stage":"x"}}`))
	f.Fuzz(func(t *testing.T, event []byte) {
		req, aerr := decodeEvent(event)
		if aerr == nil && req.route == routeQuery {
			q, aerr := parseQuery(req.body)
			if aerr == nil && q.Cursor == "" && strings.TrimSpace(q.SQL) == "" {
				t.Fatal("empty sql accepted")
			}
			return
		}
		if aerr != nil && (aerr.status < 400 || aerr.code == "" || aerr.message == "") {
			t.Fatalf("bad error %+v", aerr)
		}
	})
}
