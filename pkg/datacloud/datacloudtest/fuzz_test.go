package datacloudtest

import (
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
