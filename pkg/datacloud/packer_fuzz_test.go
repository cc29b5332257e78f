package datacloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzPacker packs arbitrary records under an arbitrary limit and checks the Packer's
// promises: every body is valid JSON of the form {"data":[...]} and strictly smaller than the
// limit; the bodies hold exactly the accepted records, in order, byte for byte; a record is
// rejected (with its size and the limit) exactly when it cannot fit alone; and a body is
// closed only when the next record would not fit in it.
func FuzzPacker(f *testing.F) {
	f.Add(uint16(40), []byte("a\nbb\nccc\n"))
	f.Add(uint16(12), []byte("x"))
	f.Add(uint16(200), bytes.Repeat([]byte("record\n"), 60))
	f.Add(uint16(30), []byte("short\n"+string(bytes.Repeat([]byte("L"), 40))+"\nshort"))
	f.Fuzz(func(t *testing.T, limit16 uint16, data []byte) {
		limit := 12 + int(limit16)%4096
		// Each line becomes a valid record: an object with the line as a string value.
		var records []json.RawMessage
		for _, line := range bytes.Split(data, []byte("\n")) {
			rec, _ := json.Marshal(map[string]string{"v": string(line)})
			records = append(records, rec)
		}
		p := NewPacker(limit)
		var bodies [][]byte
		var accepted []json.RawMessage
		keep := func(b []byte) {
			if b != nil {
				bodies = append(bodies, bytes.Clone(b))
			}
		}
		for _, rec := range records {
			body, err := p.Add(rec)
			fits := packEnvelope+len(rec) < limit
			var tooLarge *RecordTooLargeError
			switch {
			case err == nil && !fits:
				t.Fatalf("a record of %d bytes accepted under limit %d", len(rec), limit)
			case err != nil && (fits || !errors.As(err, &tooLarge) || tooLarge.Size != len(rec) || tooLarge.Limit != limit):
				t.Fatalf("record of %d bytes, limit %d: error %v", len(rec), limit, err)
			case err == nil:
				accepted = append(accepted, rec)
			}
			keep(body)
		}
		keep(p.Flush())
		if p.Len() != 0 || p.Flush() != nil {
			t.Fatal("records pending after Flush")
		}

		var got []json.RawMessage
		for i, b := range bodies {
			if len(b) >= limit {
				t.Fatalf("body %d is %d bytes, limit %d", i, len(b), limit)
			}
			var env struct {
				Data []json.RawMessage `json:"data"`
			}
			if !json.Valid(b) || json.Unmarshal(b, &env) != nil || len(env.Data) == 0 || !bytes.HasPrefix(b, []byte(packOpen)) {
				t.Fatalf("body %d is not a non-empty {\"data\":[...]}: %q", i, b)
			}
			if i+1 < len(bodies) {
				// Greedy: the next body's first record did not fit in this one.
				next := len(got) + len(env.Data)
				if len(b)+1+len(accepted[next]) < limit {
					t.Fatalf("body %d (%d bytes) closed although the next record (%d bytes) fits under %d", i, len(b), len(accepted[next]), limit)
				}
			}
			got = append(got, env.Data...)
		}
		if len(got) != len(accepted) {
			t.Fatalf("%d records in the bodies, %d accepted", len(got), len(accepted))
		}
		for i := range got {
			if !bytes.Equal(got[i], accepted[i]) {
				t.Fatalf("record %d changed: %q, want %q", i, got[i], accepted[i])
			}
		}
	})
}
