package e2e

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

func TestIngestRouting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		w.seedToken(time.Hour)
		ing := w.start("s3ingest", fnOptions{})

		t.Run("URL-encoded key with spaces and plus", func(t *testing.T) {
			o := w.put("ingest/"+source+"/Spaced/2026/11/my file+v2 (1).csv", csvOf(1, 2), "")
			mustSucceed(t, ing.invoke(w.s3Event(o)))
			w.wantOutcome(t, o.Key, "ingested", 2)
			wantRecords(t, w.DC, "Spaced", 2)
		})

		t.Run("keys outside the prefix are ignored", func(t *testing.T) {
			n := len(w.DC.Requests())
			outside := w.put("elsewhere/"+source+"/Outside/x.csv", csvOf(1, 2), "")
			mustSucceed(t, ing.invoke(w.s3Event(outside)))
			if tags := w.tags(outside.Key); len(tags) != 0 {
				t.Errorf("ignored object was tagged: %v", tags)
			}
			if len(w.DC.Requests()) != n {
				t.Error("an ignored key caused Data Cloud requests")
			}
		})

		t.Run("claim markers are ignored", func(t *testing.T) {
			markers := w.keys(".datacloud-claims/")
			if len(markers) == 0 {
				t.Fatal("no claim markers in the bucket after ingesting; want markers outside the prefix")
			}
			for _, m := range markers {
				if strings.HasPrefix(m, "ingest/") {
					t.Errorf("claim marker %s is inside INGEST_PREFIX", m)
				}
			}
			body, etag := w.get(markers[0])
			res := ing.invoke(w.s3Event(object{Key: markers[0], ETag: etag, Size: int64(len(body))}))
			mustSucceed(t, res)
			if tags := w.tags(markers[0]); tags["datacloud-status"] != "" {
				t.Errorf("claim marker was tagged: %v", tags)
			}
		})

		t.Run("bad layout and extensions fail with a reason", func(t *testing.T) {
			for _, key := range []string{
				"ingest/" + source + "/nolayout.csv",
				"ingest/" + source + "/BadExt/file.xml",
				"ingest/" + source + "/BadExt/file",
			} {
				o := w.put(key, []byte("id\n1\n"), "")
				res := ing.invoke(w.s3Event(o))
				mustFail(t, res)
				tags := w.wantOutcome(t, key, "failed", -1)
				if !validTagValue(tags["datacloud-error"]) {
					t.Errorf("%s: datacloud-error %q has characters outside the contract's set", key, tags["datacloud-error"])
				}
			}
			if jobs := w.DC.Jobs(); slices.ContainsFunc(jobs, func(j datacloudtest.Job) bool { return j.Object == "BadExt" }) {
				t.Error("a job was created for a bad key")
			}
		})

		t.Run("bulk delete under delete/", func(t *testing.T) {
			o := w.put("ingest/"+source+"/Del/seed.csv", csvOf(1, 5), "")
			mustSucceed(t, ing.invoke(w.s3Event(o)))
			// Data Cloud's delete CSV has no header row: one primary key per line.
			d := w.put("ingest/"+source+"/Del/delete/2026/gone.csv", []byte("c2\nc4\n"), "")
			mustSucceed(t, ing.invoke(w.s3Event(d)))
			w.wantOutcome(t, d.Key, "ingested", 2)
			if got, want := recordIDs(w.DC, "Del"), []string{"c1", "c3", "c5"}; !slices.Equal(got, want) {
				t.Errorf("records after bulk delete = %v, want %v", got, want)
			}
			jobs := w.DC.Jobs()
			if last := jobs[len(jobs)-1]; last.Operation != "delete" || last.Object != "Del" || last.State != "JobComplete" {
				t.Errorf("delete job = %+v, want a completed delete job for Del", last)
			}
		})

		t.Run("streaming delete of ids in chunks", func(t *testing.T) {
			o := w.put("ingest/"+source+"/SDel/seed.jsonl", jsonlOf(0, 450), "")
			mustSucceed(t, ing.invoke(w.s3Event(o)))
			var ids []string
			for i := range 430 {
				ids = append(ids, `"j`+strconv.Itoa(i)+`"`)
			}
			n := tenantRequests(w.DC, "DELETE", "/api/v1/ingest/sources/")
			d := w.put("ingest/"+source+"/SDel/delete/ids.json", []byte("["+strings.Join(ids, ",")+"]"), "")
			mustSucceed(t, ing.invoke(w.s3Event(d)))
			w.wantOutcome(t, d.Key, "ingested", 430)
			wantRecords(t, w.DC, "SDel", 20)
			if got := tenantRequests(w.DC, "DELETE", "/api/v1/ingest/sources/") - n; got != 3 {
				t.Errorf("%d streaming delete requests for 430 ids, want 3 (at most 200 ids each)", got)
			}
		})
	})
}

func TestIngestPrefix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		w.seedToken(time.Hour)
		ing := w.start("s3ingest", fnOptions{Env: []string{"INGEST_PREFIX=landing/zone/"}})
		in := w.put("landing/zone/"+source+"/Pre/a.csv", csvOf(1, 3), "")
		old := w.put("ingest/"+source+"/Pre/b.csv", csvOf(10, 3), "")
		mustSucceed(t, ing.invoke(w.s3Event(in, old)))
		w.wantOutcome(t, in.Key, "ingested", 3)
		if tags := w.tags(old.Key); len(tags) != 0 {
			t.Errorf("key outside the custom prefix was tagged: %v", tags)
		}
		wantRecords(t, w.DC, "Pre", 3)
	})
}

// validTagValue reports whether v uses only the contract's characters and length.
func validTagValue(v string) bool {
	if len(v) > 256 {
		return false
	}
	for _, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" +-=._:/@", r)
		if !ok {
			return false
		}
	}
	return true
}
