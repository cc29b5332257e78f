package ingest

import (
	"encoding/json"
	"strings"
	"testing"
)

func FuzzRoute(f *testing.F) {
	for _, k := range []string{"ingest/s/o/a.csv", "ingest/s/o/delete/x/y.json.gz", "ingest//o/a.csv", "ingest/s/o/", "x", "ingest/s/o/.csv", "ingest/s/o/a.CSV.GZ"} {
		f.Add(k)
	}
	rt := Router{Prefix: "ingest/", Reserved: []string{".datacloud-claims/"}}
	f.Fuzz(func(t *testing.T, key string) {
		r, ignored, err := rt.Route(key)
		if ignored {
			if err != nil {
				t.Fatalf("ignored with an error: %v", err)
			}
			return
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "datacloud: bad input: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if !strings.HasPrefix(key, "ingest/") || r.Source == "" || r.Object == "" || strings.Contains(r.Source+r.Object, "/") {
			t.Fatalf("route %+v for %q", r, key)
		}
		if r.Format < FormatCSV || r.Format > FormatJSONLines || (r.Operation != OpUpsert && r.Operation != OpDelete) {
			t.Fatalf("route %+v", r)
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add(s3Notification(s3Rec("ObjectCreated:Put", "b", "ingest/s/o/a+b.csv", "e")))
	f.Add(s3Notification(sqsRec("m1", s3Notification(s3Rec("ObjectCreated:Put", "b", "k", "e"))), sqsRec("m2", "x")))
	f.Add(ebEvent("Object Created", "k"))
	f.Add(testEventBody)
	f.Fuzz(func(t *testing.T, raw string) {
		ev, err := DecodeEvent(json.RawMessage(raw))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "datacloud: decode event: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		ids := map[string]bool{}
		for _, m := range ev.Messages {
			ids[m.ID] = true
		}
		for _, o := range ev.Objects {
			if o.Bucket == "" || o.Key == "" {
				t.Fatalf("object without bucket or key: %+v", o)
			}
			if ev.Kind == KindSQS && !ids[o.MessageID] {
				t.Fatalf("object of an unknown message: %+v", o)
			}
		}
	})
}
