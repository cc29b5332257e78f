package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// payloadBytes is the streaming limit the streaming tests run with, small to force many bodies.
const payloadBytes = 400

func TestIngestStreaming(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		w.seedToken(time.Hour)
		ing := w.start("s3ingest", fnOptions{Env: []string{fmt.Sprintf("INGEST_STREAMING_PAYLOAD_BYTES=%d", payloadBytes)}})

		formats := []struct {
			name, key string
			data      []byte
			records   int
		}{
			{"JSON array", "arr.json", jsonArrayOf(0, 30), 30},
			{"data envelope", "env.json", []byte(`{"data": ` + string(jsonArrayOf(0, 25)) + `}`), 25},
			{"JSON lines", "lines.jsonl", jsonlOf(0, 40), 40},
			{"NDJSON gzip", "lines.ndjson.gz", gz(t, jsonlOf(0, 35)), 35},
			{"JSON array gzip", "arr.json.gz", gz(t, jsonArrayOf(0, 20)), 20},
		}
		for i, f := range formats {
			t.Run(f.name, func(t *testing.T) {
				object := fmt.Sprintf("Stream%d", i)
				before := len(w.DC.Requests())
				o := w.put("ingest/"+source+"/"+object+"/"+f.key, f.data, "")
				mustSucceed(t, ing.invoke(w.s3Event(o)))
				tags := w.wantOutcome(t, o.Key, "ingested", f.records)
				if tags["datacloud-job"] != "streaming" {
					t.Errorf("datacloud-job=%q, want streaming", tags["datacloud-job"])
				}
				wantRecords(t, w.DC, object, f.records)
				posts := 0
				for _, r := range w.DC.Requests()[before:] {
					if r.Method == "POST" && strings.HasPrefix(r.Path, "/api/v1/ingest/sources/") {
						posts++
						if r.BodyBytes >= payloadBytes {
							t.Errorf("a streaming body of %d bytes, want < %d", r.BodyBytes, payloadBytes)
						}
					}
				}
				// Each record is about 45 bytes: a body holds several, and many bodies are needed.
				if posts < f.records*45/payloadBytes || posts >= f.records {
					t.Errorf("%d streaming requests for %d records, want bodies packed close to the limit", posts, f.records)
				}
			})
		}

		t.Run("empty JSON does no Data Cloud work", func(t *testing.T) {
			for i, data := range []string{"[]", `{"data": []}`, " \n\t\n", ""} {
				before := len(w.DC.Requests())
				key := fmt.Sprintf("ingest/%s/Empty/e%d.json", source, i)
				if data == "" {
					key = fmt.Sprintf("ingest/%s/Empty/e%d.jsonl", source, i)
				}
				o := w.put(key, []byte(data), "")
				res := ing.invoke(w.s3Event(o))
				if data == "" {
					// 0 bytes is bad input, unlike a file with no records.
					mustFail(t, res)
					w.wantOutcome(t, o.Key, "failed", -1)
					continue
				}
				mustSucceed(t, res)
				w.wantOutcome(t, o.Key, "ingested", 0)
				if len(w.DC.Requests()) != before {
					t.Errorf("%q caused Data Cloud requests", data)
				}
			}
		})

		t.Run("a record larger than the limit fails the file", func(t *testing.T) {
			big := fmt.Sprintf(`{"id":"big","name":%q}`, strings.Repeat("x", payloadBytes))
			o := w.put("ingest/"+source+"/TooBig/x.jsonl", []byte(`{"id":"small","name":"s"}`+"\n"+big+"\n"), "")
			res := ing.invoke(w.s3Event(o))
			mustFail(t, res)
			tags := w.wantOutcome(t, o.Key, "failed", -1)
			if !strings.Contains(strings.ToLower(tags["datacloud-error"]+res.ErrorMessage), "record") {
				t.Errorf("error %q / tag %q does not say a record is too large", res.ErrorMessage, tags["datacloud-error"])
			}
		})

		t.Run("malformed JSON fails with a reason", func(t *testing.T) {
			for i, data := range []string{`[{"id":"a"},{"id":}]`, "{\"id\":\"a\"}\nnot json\n", `{"data": {"id": 1}}`, "[{\"id\":\"\xff\"}]"} {
				o := w.put(fmt.Sprintf("ingest/%s/BadJSON/b%d.json", source, i), []byte(data), "")
				mustFail(t, ing.invoke(w.s3Event(o)))
				w.wantOutcome(t, o.Key, "failed", -1)
			}
		})
	})
}
