package datacloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// packAll feeds recs to a Packer and returns copies of every body.
func packAll(t *testing.T, limit int, recs []string) ([]string, error) {
	t.Helper()
	p := NewPacker(limit)
	var bodies []string
	for _, r := range recs {
		body, err := p.Add(json.RawMessage(r))
		if err != nil {
			return bodies, err
		}
		if body != nil {
			bodies = append(bodies, string(body))
		}
	}
	if body := p.Flush(); body != nil {
		bodies = append(bodies, string(body))
	}
	if p.Flush() != nil {
		t.Error("a second Flush returned a body")
	}
	return bodies, nil
}

// checkBodies asserts the Packer's invariants: every body is smaller than limit, is
// {"data":[...]} and the bodies hold exactly recs in order.
func checkBodies(t *testing.T, limit int, bodies, recs []string) {
	t.Helper()
	var got []string
	for i, b := range bodies {
		if len(b) >= limit {
			t.Errorf("body %d has %d bytes, not smaller than the limit %d", i, len(b), limit)
		}
		var env struct {
			Data []json.RawMessage `json:"data"`
		}
		dec := json.NewDecoder(strings.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&env); err != nil || len(env.Data) == 0 {
			t.Fatalf("body %d %q is not a non-empty {\"data\":[...]}: %v", i, b, err)
		}
		for _, r := range env.Data {
			got = append(got, string(r))
		}
	}
	if strings.Join(got, "\n") != strings.Join(recs, "\n") {
		t.Errorf("records in bodies = %q, want %q", got, recs)
	}
}

func TestPacker(t *testing.T) {
	rec := func(n int) string { return `{"v":"` + strings.Repeat("x", n-8) + `"}` } // n bytes
	tests := []struct {
		name  string
		limit int
		recs  []string
		want  []string
	}{
		{name: "one body", limit: 100, recs: []string{`{"a":1}`, `{"a":2}`},
			want: []string{`{"data":[{"a":1},{"a":2}]}`}},
		{name: "no records", limit: 100},
		// 11 bytes of envelope + 7 = 18 must be < limit.
		{name: "one record at limit minus one", limit: 19, recs: []string{`{"a":1}`},
			want: []string{`{"data":[{"a":1}]}`}},
		{name: "second record would reach the limit", limit: 26, recs: []string{`{"a":1}`, `{"a":2}`},
			want: []string{`{"data":[{"a":1}]}`, `{"data":[{"a":2}]}`}},
		{name: "second record fits one below", limit: 27, recs: []string{`{"a":1}`, `{"a":2}`},
			want: []string{`{"data":[{"a":1},{"a":2}]}`}},
		{name: "greedy fill", limit: 60, recs: []string{rec(20), rec(20), rec(20), rec(10), rec(30)},
			want: []string{`{"data":[` + rec(20) + `,` + rec(20) + `]}`, `{"data":[` + rec(20) + `,` + rec(10) + `]}`, `{"data":[` + rec(30) + `]}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bodies, err := packAll(t, tc.limit, tc.recs)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(bodies, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("bodies = %q, want %q", bodies, tc.want)
			}
			checkBodies(t, tc.limit, bodies, tc.recs)
		})
	}
}

func TestPackerRecordTooLarge(t *testing.T) {
	p := NewPacker(18)
	if _, err := p.Add(json.RawMessage(`{"a":1}`)); err == nil { // 18 bytes: not < 18
		t.Fatal("a body of exactly the limit was accepted")
	} else {
		var tl *RecordTooLargeError
		if !errors.As(err, &tl) || tl.Size != 7 || tl.Limit != 18 {
			t.Fatalf("err = %#v, want *RecordTooLargeError{Size: 7, Limit: 18}", err)
		}
		want := `datacloud: pack records: a record of 7 bytes does not fit in a request body smaller than 18 bytes (18 bytes with the {"data":[]} envelope)`
		if err.Error() != want {
			t.Errorf("Error() = %q, want %q", err, want)
		}
	}
	// The pending body survives a rejected record.
	p = NewPacker(30)
	if _, err := p.Add(json.RawMessage(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Add(json.RawMessage(`{"a":"0123456789abcdef"}`)); err == nil {
		t.Fatal("oversized record accepted")
	}
	if got := string(p.Flush()); got != `{"data":[{"a":1}]}` {
		t.Errorf("Flush() = %q after a rejected record", got)
	}
	if _, err := p.Add(nil); err == nil {
		t.Error("an empty record was accepted")
	}
}

func TestPackerBodyValidUntilNextBody(t *testing.T) {
	p := NewPacker(30)
	var first []byte
	for i := range 8 {
		body, err := p.Add(json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		if body == nil {
			continue
		}
		if first != nil {
			break
		}
		first = body
		saved := bytes.Clone(body)
		// Records added after a body was returned must not disturb it until the next body.
		if _, err := p.Add(json.RawMessage(`{"z":0}`)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, saved) {
			t.Fatalf("body changed after the next Add: %q, was %q", first, saved)
		}
	}
	if first == nil {
		t.Fatal("no body was returned")
	}
}

func TestPackerLen(t *testing.T) {
	p := NewPacker(100)
	for i := range 3 {
		if _, err := p.Add(json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
		if p.Len() != i+1 {
			t.Errorf("Len() = %d, want %d", p.Len(), i+1)
		}
	}
	p.Flush()
	if p.Len() != 0 {
		t.Errorf("Len() after Flush = %d, want 0", p.Len())
	}
}

// packFill packs n records of recSize bytes into bodies below limit and returns the average
// fill (body bytes / limit) over all full bodies, i.e. all but the last.
func packFill(tb testing.TB, p *Packer, rec json.RawMessage, n int) float64 {
	tb.Helper()
	total, bodies := 0, 0
	for range n {
		body, err := p.Add(rec)
		if err != nil {
			tb.Fatal(err)
		}
		if body != nil {
			total += len(body)
			bodies++
		}
	}
	p.Flush()
	if bodies == 0 {
		tb.Fatalf("%d records of %d bytes filled no body", n, len(rec))
	}
	return float64(total) / float64(bodies) / float64(p.limit)
}

// record300 is a 300-byte JSON object.
var record300 = json.RawMessage(`{"id":"` + strings.Repeat("7", 20) + `","payload":"` + strings.Repeat("p", 300-42) + `"}`)

func TestPackerFillsBodiesFor300ByteRecords(t *testing.T) {
	if len(record300) != 300 {
		t.Fatalf("test record has %d bytes, want 300", len(record300))
	}
	fill := packFill(t, NewPacker(200_000), record300, 10_000)
	if fill < 0.95 {
		t.Errorf("average fill %.2f%% of 200000 bytes, want ≥ 95%%", fill*100)
	}
}
