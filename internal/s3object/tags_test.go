package s3object

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func tagsOf(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i < len(kv); i += 2 {
		out = append(out, tag(kv[i], kv[i+1]))
	}
	return out
}

func TestMergeTags(t *testing.T) {
	theirs := func(n int) []types.Tag {
		var out []types.Tag
		for i := range n {
			out = append(out, tag(fmt.Sprintf("t%d", i), "v"))
		}
		return out
	}
	tests := []struct {
		name        string
		existing    []types.Tag
		outcome     Outcome
		want        map[string]string
		wantDropped int
	}{
		{name: "success on untagged object", outcome: Outcome{JobIDs: []string{"j1", "j2"}, Records: 42},
			want: map[string]string{TagStatus: "ingested", TagJob: "j1 j2", TagRecords: "42"}},
		{name: "streaming keeps their tags", existing: tagsOf("team", "crm"), outcome: Outcome{Streaming: true, Records: 3},
			want: map[string]string{"team": "crm", TagStatus: "ingested", TagJob: "streaming", TagRecords: "3"}},
		{name: "success removes stale error", existing: tagsOf("team", "crm", TagStatus, "failed", TagError, "boom", TagRecords, "0"),
			outcome: Outcome{Streaming: true, Records: 5},
			want:    map[string]string{"team": "crm", TagStatus: "ingested", TagJob: "streaming", TagRecords: "5"}},
		{name: "failure with sanitized error", outcome: Outcome{Failed: true, Error: `datacloud: csv: line 3, column 7: bare " in field`},
			want: map[string]string{TagStatus: "failed", TagError: "datacloud: csv: line 3 column 7: bare in field", TagRecords: "0"}},
		{name: "ten of their own: nothing fits", existing: theirs(10), outcome: Outcome{Records: 1, JobIDs: []string{"j"}},
			want: tagMap(theirs(10)), wantDropped: 3},
		{name: "eight of their own: status and records fit", existing: theirs(8), outcome: Outcome{Records: 1, JobIDs: []string{"j"}},
			want: mergeMaps(tagMap(theirs(8)), map[string]string{TagStatus: "ingested", TagRecords: "1"}), wantDropped: 1},
		{name: "our old tags do not count against the limit", existing: append(theirs(6), tagsOf(TagStatus, "failed", TagError, "x", TagRecords, "0", TagJob, "j0")...),
			outcome: Outcome{Records: 9, JobIDs: []string{"j1"}},
			want:    mergeMaps(tagMap(theirs(6)), map[string]string{TagStatus: "ingested", TagRecords: "9", TagJob: "j1"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			merged, dropped := MergeTags(tc.existing, tc.outcome)
			if dropped != tc.wantDropped {
				t.Errorf("dropped = %d, want %d", dropped, tc.wantDropped)
			}
			if len(merged) > MaxTags {
				t.Errorf("%d tags, over the limit", len(merged))
			}
			got := tagMap(merged)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func mergeMaps(a, b map[string]string) map[string]string {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func TestJobTagValue(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("%08d-0000-4000-8000-000000000000", i) } // 36 chars like a UUID
	many := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, id(i))
		}
		return out
	}
	tests := []struct {
		name      string
		ids       []string
		streaming bool
		want      string
	}{
		{name: "none", want: ""},
		{name: "streaming", streaming: true, want: "streaming"},
		{name: "one", ids: many(1), want: id(0)},
		{name: "six fit exactly", ids: many(6), want: strings.Join(many(6), " ")}, // 6*36+5 = 221
		{name: "eight: six and +2", ids: many(8), want: strings.Join(many(6), " ") + " +2"},
		{name: "one huge id", ids: []string{strings.Repeat("a", 300)}, want: "+1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := JobTagValue(tc.ids, tc.streaming)
			if got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
			if len(got) > MaxTagValue {
				t.Errorf("%d chars", len(got))
			}
		})
	}
}

func TestSanitizeTagValue(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"allowed kept", "a-Z 0+9=x.y_z:w/v@u", "a-Z 0+9=x.y_z:w/v@u"},
		{"quotes and commas", `bad "field", line 2`, "bad field line 2"},
		{"newlines and tabs collapse", "a\n\tb", "a b"},
		{"non-ascii dropped", "données ça", "donn es a"},
		{"trimmed", "  (x)  ", "x"},
		{"cut to 256", strings.Repeat("ab ", 200), strings.TrimSpace(strings.Repeat("ab ", 86)[:256])},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SanitizeTagValue(tc.in)
			if got != tc.want {
				t.Errorf("got %q want %q", got, tc.want)
			}
		})
	}
}

func TestTaggerRecordOnMoto(t *testing.T) {
	cli, bucket := newS3(t)
	ctx := context.Background()
	body := []byte("id,name\n1,a\n")
	obj := putObject(t, cli, bucket, "ingest/s/o/a.csv", body, "owner=team%20a&env=prod")
	tg := NewTagger(cli)

	if _, err := tg.Record(ctx, obj, Outcome{Failed: true, Error: "deadline"}); err != nil {
		t.Fatal(err)
	}
	got := getTags(t, cli, obj)
	want := map[string]string{"owner": "team a", "env": "prod", TagStatus: "failed", TagError: "deadline", TagRecords: "0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after failure: %v", got)
	}
	if _, err := tg.Record(ctx, obj, Outcome{JobIDs: []string{"j-1"}, Records: 1}); err != nil {
		t.Fatal(err)
	}
	got = getTags(t, cli, obj)
	want = map[string]string{"owner": "team a", "env": "prod", TagStatus: "ingested", TagJob: "j-1", TagRecords: "1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after success: %v", got)
	}
	gotBody, etag := getBody(t, cli, obj)
	if string(gotBody) != string(body) || !SameETag(etag, obj.ETag) {
		t.Fatalf("object changed: etag %s -> %s", obj.ETag, etag)
	}

	full := putObject(t, cli, bucket, "ingest/s/o/full.csv", body, "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10")
	dropped, err := tg.Record(ctx, full, Outcome{Records: 1})
	if err != nil || dropped != 2 {
		t.Fatalf("dropped %d err %v", dropped, err)
	}
	if got := getTags(t, cli, full); len(got) != 10 || got[TagStatus] != "" {
		t.Fatalf("their tags changed: %v", got)
	}
}

func TestTaggerTagsReadsBack(t *testing.T) {
	cli, bucket := newS3(t)
	ctx := context.Background()
	obj := putObject(t, cli, bucket, "ingest/s/o/b.csv", []byte("id\n1\n"), "owner=x&env=prod")
	tg := NewTagger(cli)
	if _, err := tg.Record(ctx, obj, Outcome{JobIDs: []string{"j-9"}, Records: 1}); err != nil {
		t.Fatal(err)
	}
	got, err := tg.Tags(ctx, obj)
	if err != nil {
		t.Fatal(err)
	}
	if want := getTags(t, cli, obj); fmt.Sprint(got) != fmt.Sprint(want) || got[TagJob] != "j-9" || got["owner"] != "x" {
		t.Fatalf("Tags = %v, want %v", got, want)
	}
	if _, err := tg.Tags(ctx, Object{Bucket: bucket, Key: "ingest/s/o/missing.csv"}); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Fatalf("missing object: err = %v, want one naming the key", err)
	}
}
