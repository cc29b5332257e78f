package datacloud

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// checkCompactRecord holds compactRecord to its promise: when it accepts src, src is valid JSON
// and the output is json.Compact's.
func checkCompactRecord(t *testing.T, src []byte) (accepted bool) {
	t.Helper()
	out, ok := compactRecord(nil, src)
	if !ok {
		return false
	}
	var want bytes.Buffer
	if err := json.Compact(&want, src); err != nil {
		t.Fatalf("compactRecord accepted %q, which encoding/json rejects: %v", src, err)
	}
	if !bytes.Equal(out, want.Bytes()) {
		t.Fatalf("compactRecord(%q) = %q, json.Compact gives %q", src, out, want.Bytes())
	}
	return true
}

func TestCompactRecord(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		accept bool
	}{
		{name: "compact object", src: `{"id":"a","n":1,"ok":true,"x":null,"f":false}`, accept: true},
		{name: "spaces everywhere", src: " {\t\"id\" : \"a b\" ,\r\n \"list\" : [ 1 , -2.5e+3 , 0 , {} , [ ] ] } ", accept: true},
		{name: "escapes", src: `{"s":"q\" b\\ s\/ \b\f\n\r\t \u00e9\uD83D\uDE00"}`, accept: true},
		{name: "non-ASCII kept", src: `{"name":"Müller 日本"}`, accept: true},
		{name: "nested", src: `{"a":{"b":[{"c":[[]]}]}}`, accept: true},
		{name: "numbers", src: `[0,-0,1.5,1e9,1E-9,-12.25e+10,123456789012345678901234567890]`, accept: true},
		{name: "scalars", src: `"x"`, accept: true},
		{name: "empty", src: ``},
		{name: "only spaces", src: `   `},
		{name: "trailing comma", src: `{"a":1,}`},
		{name: "trailing data", src: `{"a":1} x`},
		{name: "two values", src: `{} {}`},
		{name: "single quotes", src: `{'a':1}`},
		{name: "bare key", src: `{a:1}`},
		{name: "missing colon", src: `{"a" 1}`},
		{name: "leading zero", src: `[01]`},
		{name: "bare minus", src: `[-]`},
		{name: "dot without digits", src: `[1.]`},
		{name: "exponent without digits", src: `[1e]`},
		{name: "plus sign", src: `[+1]`},
		{name: "bad literal", src: `[tru]`},
		{name: "literal run on", src: `[truex]`},
		{name: "bad escape", src: `["\x"]`},
		{name: "short unicode escape", src: `["\u12"]`},
		{name: "control character in string", src: "[\"a\tb\"]"},
		{name: "unterminated string", src: `{"a":"b`},
		{name: "unclosed object", src: `{"a":1`},
		{name: "mismatched bracket", src: `{"a":[1}`},
		{name: "too deep for the fast path", src: strings.Repeat("[", 65) + strings.Repeat("]", 65)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkCompactRecord(t, []byte(tt.src)); got != tt.accept {
				t.Errorf("accepted = %v, want %v", got, tt.accept)
			}
		})
	}
}

func TestCompactRecordReturnsItsInputWhenAlreadyCompact(t *testing.T) {
	src := []byte(`{"id":"a","n":[1,2]}`)
	out, ok := compactRecord(make([]byte, 0, 64), src)
	if !ok || &out[0] != &src[0] {
		t.Fatalf("ok %v, want the input slice itself (no copy)", ok)
	}
}

func FuzzCompactRecord(f *testing.F) {
	for _, s := range []string{`{"a":1}`, ` { "a" : [ 1 , "x\n" ] } `, `[1e5,-0.5,true,false,null]`, `{"a":"\u00e9"}`, `{"a":}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkCompactRecord(t, src)
	})
}
