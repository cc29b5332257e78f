package ingest

import (
	"errors"
	"strings"
	"testing"
)

func TestRouterRoute(t *testing.T) {
	rt := Router{Prefix: "ingest/", Reserved: []string{".datacloud-claims/"}}
	tests := []struct {
		name    string
		key     string
		want    Route
		ignored bool
		wantErr string
	}{
		{name: "csv upsert", key: "ingest/crm/Contact/2026/01/02/a.csv",
			want: Route{Source: "crm", Object: "Contact", Operation: OpUpsert, Format: FormatCSV}},
		{name: "json gz", key: "ingest/crm/Contact/x.json.gz",
			want: Route{Source: "crm", Object: "Contact", Operation: OpUpsert, Format: FormatJSON, Gzip: true}},
		{name: "jsonl", key: "ingest/s/o/x.jsonl", want: Route{Source: "s", Object: "o", Operation: OpUpsert, Format: FormatJSONLines}},
		{name: "ndjson upper case", key: "ingest/s/o/X.NDJSON.GZ", want: Route{Source: "s", Object: "o", Operation: OpUpsert, Format: FormatJSONLines, Gzip: true}},
		{name: "delete csv", key: "ingest/s/o/delete/2026/old.csv", want: Route{Source: "s", Object: "o", Operation: OpDelete, Format: FormatCSV}},
		{name: "delete json", key: "ingest/s/o/delete/ids.json", want: Route{Source: "s", Object: "o", Operation: OpDelete, Format: FormatJSON}},
		{name: "delete only right after object", key: "ingest/s/o/x/delete/a.csv", want: Route{Source: "s", Object: "o", Operation: OpUpsert, Format: FormatCSV}},
		{name: "file named delete.csv upserts", key: "ingest/s/o/delete.csv", want: Route{Source: "s", Object: "o", Operation: OpUpsert, Format: FormatCSV}},
		{name: "spaces and non-ASCII", key: "ingest/my src/Objét/dossier été/f ü+x.csv",
			want: Route{Source: "my src", Object: "Objét", Operation: OpUpsert, Format: FormatCSV}},
		{name: "outside prefix", key: "other/s/o/a.csv", ignored: true},
		{name: "claim marker", key: ".datacloud-claims/abc.json", ignored: true},
		{name: "folder marker", key: "ingest/s/o/", ignored: true},
		{name: "missing object", key: "ingest/s/a.csv", wantErr: "does not follow"},
		{name: "missing source", key: "ingest//o/a.csv", wantErr: "does not follow"},
		{name: "file directly under prefix", key: "ingest/a.csv", wantErr: "does not follow"},
		{name: "unsupported extension", key: "ingest/s/o/a.parquet", wantErr: `unsupported extension ".parquet"`},
		{name: "gz of unsupported", key: "ingest/s/o/a.txt.gz", wantErr: `unsupported extension ".txt"`},
		{name: "bare gz", key: "ingest/s/o/a.gz", wantErr: "has no extension"},
		{name: "no extension", key: "ingest/s/o/README", wantErr: "has no extension"},
		{name: "empty delete", key: "ingest/s/o/delete/", ignored: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ignored, err := rt.Route(tc.key)
			if tc.wantErr != "" {
				var bi *BadInputError
				if !errors.As(err, &bi) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a BadInputError containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ignored != tc.ignored {
				t.Fatalf("ignored = %v", ignored)
			}
			if !tc.ignored && got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestRouterEmptyPrefixStillIgnoresClaims(t *testing.T) {
	rt := Router{Prefix: "", Reserved: []string{".datacloud-claims/"}}
	if _, ignored, err := rt.Route(".datacloud-claims/x.json"); !ignored || err != nil {
		t.Fatalf("claim marker routed: %v %v", ignored, err)
	}
	r, ignored, err := rt.Route("s/o/a.csv")
	if ignored || err != nil || r.Source != "s" || r.Object != "o" {
		t.Fatalf("%+v %v %v", r, ignored, err)
	}
}
