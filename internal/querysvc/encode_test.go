package querysvc

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// tricky holds every class of character encoding/json escapes differently.
var tricky = []string{
	"",
	"plain ascii",
	`quote " and backslash \ and slash /`,
	"controls \x00\x01\b\f\n\r\t\x1f\x7f",
	"html <a href='x'>&amp;</a>",
	"utf-8 é ü 日本 🙂",
	"separators \u2028 and \u2029",
	"invalid \xff\xfe utf-8 \xe2\x80 cut",
	"truncated at the end \xe2\x80",
}

// FuzzAppendEscaped checks the one-pass escape against encoding/json's string encoding
// (HTML escaping off), which is what the runtime and the previous code produced.
func FuzzAppendEscaped(f *testing.F) {
	for _, s := range tricky {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		want, err := marshal(string(src))
		if err != nil {
			t.Fatal(err)
		}
		want = want[1 : len(want)-1]
		got := appendEscaped([]byte("x"), src)
		if !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("appendEscaped(%q) = %q, want %q", src, got[1:], want)
		}
		if n := escapedLen(src); n != len(want) {
			t.Fatalf("escapedLen(%q) = %d, want %d", src, n, len(want))
		}
	})
}

// oldRender is how answers were encoded before render wrote them by hand: encoding/json of
// the answer, then of the API Gateway response holding it as a string.
func oldRender(t *testing.T, sh shape, p page, k int, cur string) []byte {
	t.Helper()
	body, err := marshal(answer{Columns: p.columns, Rows: p.rows[:k], RowCount: k, QueryID: p.queryID,
		Done: cur == "", Cursor: cur})
	if err != nil {
		t.Fatal(err)
	}
	if !sh.apiGateway {
		return body
	}
	out, err := marshal(events.APIGatewayV2HTTPResponse{StatusCode: statusOK,
		Headers: map[string]string{"content-type": "application/json"}, Body: string(body)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRenderMatchesEncodingJSON(t *testing.T) {
	var rows []json.RawMessage
	var cols []Column
	for i, s := range tricky {
		name := "c" + strconv.Itoa(i) + s
		if !utf8.ValidString(name) {
			name = "c" + strconv.Itoa(i) // encodeRows always sees valid column names from JSON
		}
		cols = append(cols, Column{Name: name, Type: "VARCHAR"})
		v, err := marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, json.RawMessage(`{"v":`+string(v)+`,"n":`+strconv.Itoa(i)+`,"x":null,"b":[true,1.5e3]}`))
	}
	tests := []struct {
		name string
		p    page
		k    int
		cur  string
	}{
		{"all rows, done", page{columns: cols, queryID: "q-1", rows: rows}, len(rows), ""},
		{"some rows, cursor", page{columns: cols, queryID: "q\"2\u2028", rows: rows}, 3, "eyJjdXJzb3IiOjF9"},
		{"frame only", page{columns: cols, queryID: "q", rows: rows}, 0, "c"},
		{"nil rows and columns", page{queryID: "q"}, 0, ""},
		{"empty rows", page{columns: []Column{}, rows: []json.RawMessage{}}, 0, "x"},
	}
	s := New(nil, Options{})
	for _, tt := range tests {
		for _, sh := range []shape{{apiGateway: false}, {apiGateway: true}} {
			t.Run(tt.name+"/apiGateway="+strconv.FormatBool(sh.apiGateway), func(t *testing.T) {
				got, err := s.render(sh, tt.p, tt.k, tt.cur)
				if err != nil {
					t.Fatal(err)
				}
				if want := oldRender(t, sh, tt.p, tt.k, tt.cur); !bytes.Equal(got, want) {
					t.Fatalf("render =\n%s\nwant\n%s", got, want)
				}
				if cap(got) != len(got) {
					t.Errorf("render allocated %d bytes for a %d-byte answer", cap(got), len(got))
				}
			})
		}
	}
}

func TestWrapMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		retryAfter int
	}{
		{"error with retry-after", 429, `{"error":{"code":"throttled","message":"slow \"down\" <now>"}}`, 7},
		{"tricky body", 200, tricky[3] + tricky[6] + tricky[7], 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := shape{apiGateway: true}.wrap(tt.status, []byte(tt.body), tt.retryAfter)
			if err != nil {
				t.Fatal(err)
			}
			headers := map[string]string{"content-type": "application/json"}
			if tt.retryAfter > 0 {
				headers["retry-after"] = strconv.Itoa(tt.retryAfter)
			}
			want, err := marshal(events.APIGatewayV2HTTPResponse{StatusCode: tt.status, Headers: headers, Body: tt.body})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("wrap =\n%s\nwant\n%s", got, want)
			}
		})
	}
}
