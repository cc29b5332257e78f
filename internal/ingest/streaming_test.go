package ingest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	"github.com/dcbridge/datacloud-lambda/internal/s3object"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func jsonRecord(i int) string {
	return fmt.Sprintf(`{"id":"r%03d","name":"record number %d","city":"Zürich"}`, i, i)
}

func TestStreamingFillsBodiesBelowTheLimit(t *testing.T) {
	const limit = 1000
	var lines, arr []string
	for i := range 60 {
		lines = append(lines, jsonRecord(i))
		arr = append(arr, jsonRecord(100+i))
	}
	tests := []struct {
		name    string
		key     string
		body    []byte
		records string
	}{
		{"jsonl", "ingest/web/Event/a.jsonl", []byte(strings.Join(lines, "\n") + "\n"), "60"},
		{"json array gz", "ingest/web/Event/b.json.gz", gz(t, []byte("["+strings.Join(arr, ",\n")+"]")), "60"},
		{"json data wrapper", "ingest/web/Event/c.json", []byte(`{"data": [` + strings.Join(arr[:7], ",") + `]}`), "7"},
		{"ndjson gz", "ingest/web/Event/d.ndjson.gz", gz(t, []byte(strings.Join(lines[:3], "\r\n"))), "3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, withConfig(func(c *Config) { c.StreamingPayloadBytes = limit }))
			o := f.put(tc.key, tc.body)
			if _, err := f.invoke(s3Event(o)); err != nil {
				t.Fatal(err)
			}
			var posts, total int
			for _, r := range f.dc.Requests() {
				if r.Method == "POST" && r.Path == "/api/v1/ingest/sources/web/Event" {
					posts++
					total += int(r.BodyBytes)
					if r.BodyBytes >= limit {
						t.Errorf("body of %d bytes, not below %d", r.BodyBytes, limit)
					}
				}
			}
			recLen := len(jsonRecord(0)) + 1
			if want := (total + limit - 1) / limit; posts > want+1 {
				t.Errorf("%d requests for %d bytes: bodies are not filled", posts, total)
			}
			if posts == 0 || (tc.records == "60" && posts < 60*recLen/limit) {
				t.Errorf("%d requests", posts)
			}
			if tg := f.assertTags(o, "ingested", tc.records); tg[s3object.TagJob] != "streaming" {
				t.Errorf("job tag %q", tg[s3object.TagJob])
			}
			if n := fmt.Sprint(len(f.dc.Records("web", "Event"))); n != tc.records {
				t.Errorf("%s records in Data Cloud, want %s", n, tc.records)
			}
			f.assertUnchanged(o)
		})
	}
}

func TestStreamingRecordTooLargeFailsTheFile(t *testing.T) {
	f := newFixture(t, withConfig(func(c *Config) { c.StreamingPayloadBytes = 200 }))
	big := `{"id":"x","blob":"` + strings.Repeat("a", 300) + `"}`
	o := f.put("ingest/web/Event/big.jsonl", []byte(jsonRecord(1)+"\n"+big+"\n"))
	_, err := f.invoke(s3Event(o))
	if err == nil || !strings.Contains(err.Error(), "does not fit in a request body") {
		t.Fatalf("err = %v", err)
	}
	if tg := f.assertTags(o, "failed", ""); !strings.Contains(tg[s3object.TagError], "pack records") {
		t.Errorf("error tag %q", tg[s3object.TagError])
	}
	f.assertUnchanged(o)
}

func TestStreamingDeletesInCallsOf200(t *testing.T) {
	f := newFixture(t)
	var recs, ids []string
	for i := range 450 {
		recs = append(recs, jsonRecord(i))
		ids = append(ids, fmt.Sprintf(`"r%03d"`, i))
	}
	up := f.put("ingest/web/Event/up.jsonl", []byte(strings.Join(recs, "\n")))
	if _, err := f.invoke(s3Event(up)); err != nil {
		t.Fatal(err)
	}
	del := f.put("ingest/web/Event/delete/ids.json", []byte("["+strings.Join(ids[:430], ",")+"]"))
	delL := f.put("ingest/web/Event/delete/more.jsonl", []byte(strings.Join(ids[430:440], "\n")))
	if _, err := f.invoke(s3Event(del, delL)); err != nil {
		t.Fatal(err)
	}
	if n := f.countRequests("DELETE", "/api/v1/ingest/sources/web/Event"); n != 3+1 {
		t.Errorf("%d delete calls, want 3 (430 ids) + 1 (10 ids)", n)
	}
	if n := len(f.dc.Records("web", "Event")); n != 10 {
		t.Errorf("%d records left, want 10", n)
	}
	f.assertTags(del, "ingested", "430")
	f.assertTags(delL, "ingested", "10")

	bad := f.put("ingest/web/Event/delete/bad.json", []byte(`["a", 5]`))
	if _, err := f.invoke(s3Event(bad)); err == nil || !strings.Contains(err.Error(), "id is not a JSON string") {
		t.Fatalf("err = %v", err)
	}
	f.assertUnchanged(up, del, delL, bad)
}

func TestEmptyAndHeaderOnlyFiles(t *testing.T) {
	tests := []struct {
		name, key string
		body      []byte
		status    string
		errPart   string
	}{
		{name: "empty csv", key: "ingest/s/o/e.csv", body: nil, status: "failed", errPart: "empty file"},
		{name: "empty gz content", key: "ingest/s/o/e.jsonl.gz", body: gz(t, nil), status: "failed", errPart: "empty file"},
		{name: "zero-byte gz", key: "ingest/s/o/z.json.gz", body: nil, status: "failed", errPart: "empty file"},
		{name: "header only", key: "ingest/s/o/h.csv", body: []byte("id,name\r\n"), status: "ingested"},
		{name: "empty array", key: "ingest/s/o/a.json", body: []byte(" [ ] "), status: "ingested"},
		{name: "empty data", key: "ingest/s/o/d.json", body: []byte(`{"data": []}`), status: "ingested"},
		{name: "whitespace jsonl", key: "ingest/s/o/w.jsonl", body: []byte("\n \n"), status: "ingested"},
		{name: "corrupt gzip", key: "ingest/s/o/c.csv.gz", body: []byte("\x1f\x8bnot really gzip data"), status: "failed", errPart: "corrupt gzip"},
		{name: "truncated gzip", key: "ingest/s/o/t.csv.gz", body: gz(t, []byte(csvHeader+csvRecords(1, 50)))[:200], status: "failed", errPart: "corrupt gzip"},
		{name: "not gzip at all", key: "ingest/s/o/n.json.gz", body: []byte(`[{"id":1}]`), status: "failed", errPart: "corrupt gzip"},
		{name: "invalid utf-8 csv", key: "ingest/s/o/u.csv", body: []byte("id,n\n1,\xff\xfe\n"), status: "failed", errPart: "UTF-8"},
		{name: "malformed json", key: "ingest/s/o/m.json", body: []byte(`[{"id":1},{"id":]`), status: "failed", errPart: "json: line 1"},
		{name: "bad extension", key: "ingest/s/o/m.xml", body: []byte(`<a/>`), status: "failed", errPart: "unsupported extension"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			o := f.put(tc.key, tc.body)
			_, err := f.invoke(s3Event(o))
			tg := f.assertTags(o, tc.status, "0")
			if tc.status == "failed" {
				if err == nil || !strings.Contains(tg[s3object.TagError], tc.errPart) {
					t.Errorf("err %v, error tag %q, want %q", err, tg[s3object.TagError], tc.errPart)
				}
			} else if err != nil {
				t.Errorf("err = %v", err)
			}
			if n := len(f.dc.Requests()); n != 0 {
				t.Errorf("%d Data Cloud requests, want none", n)
			}
			f.assertUnchanged(o)
		})
	}
}
