package datacloudtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
)

func FuzzParseRecords(f *testing.F) {
	for _, seed := range []string{
		`{"data":[{"a":1,"b":"x","c":true,"d":null}]}`, `{"data":[]}`, `{"data":[1]}`, `{"x":1,"data":[{"a":{"b":1}}]}`,
		`[]`, `{"data":[{"a b":1}]}`, `{"data":[{}]}`, `{"data":[{"a":1}]} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, err := parseRecords(body)
		if err != nil {
			return
		}
		if len(recs) == 0 {
			t.Fatal("accepted a body without records")
		}
		for _, rec := range recs {
			if len(rec) == 0 {
				t.Fatal("accepted a record without fields")
			}
			for _, fl := range rec {
				if !identRE.MatchString(fl.name) {
					t.Fatalf("accepted field name %q", fl.name)
				}
				switch fl.value.(type) {
				case nil, string, bool:
				default:
					if _, ok := fl.value.(interface{ String() string }); !ok {
						t.Fatalf("unexpected value type %T", fl.value)
					}
				}
			}
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	for _, seed := range []string{"a,b\n1,2\n", "a,b\r\n\"x,\"\"y\"\"\n\",2\r\n", "a\n\"", "\xef\xbb\xbfa\n1\n", "a,b\n1\n", ""} {
		f.Add([]byte(seed), true)
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, header bool) {
		recs, err := readCSV(data, header)
		if err != nil {
			return
		}
		if header {
			if len(recs) == 0 {
				t.Fatal("accepted a CSV without a header")
			}
			for i, r := range recs {
				if len(r) != len(recs[0]) {
					t.Fatalf("row %d has %d fields, header %d", i, len(r), len(recs[0]))
				}
			}
		}
	})
}

// parseRecordReference is the plain json.Decoder.Token reading of one record that
// parseRecord's byte scanner must agree with.
func parseRecordReference(raw []byte) ([]field, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var rec []field
	pos := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		name, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		switch v.(type) {
		case map[string]any, []any:
			return nil, false
		}
		if i, dup := pos[name]; dup {
			rec[i].value = v
			continue
		}
		pos[name] = len(rec)
		rec = append(rec, field{name: name, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF || len(rec) == 0 {
		return nil, false
	}
	for _, f := range rec {
		if !identRE.MatchString(f.name) {
			return nil, false
		}
	}
	return rec, true
}

func FuzzParseRecordMatchesReference(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"b":"x:\"y\"","c":true,"d":null}`, `{"a":1,"a":2,"b":3}`, `{ "k" : "v" , "w\u0041" : 1 }`,
		`{"a":{"b":1}}`, `{"a":[1]}`, `{}`, `[]`, `{"a":"\\"}`, `{"a b":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := parseRecord(raw)
		want, ok := parseRecordReference(raw)
		if (err == nil) != ok {
			t.Fatalf("parseRecord err %v, reference ok %v", err, ok)
		}
		if ok && fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("parseRecord %v, reference %v", got, want)
		}
	})
}
