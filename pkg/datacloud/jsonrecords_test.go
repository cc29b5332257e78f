package datacloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// readAllRecords reads records until EOF or an error and returns copies.
func readAllRecords(t *testing.T, input string, format RecordFormat, opts ...RecordOption) ([]string, error) {
	t.Helper()
	// OneByteReader forces every value to span buffer refills.
	rr := NewRecordReader(iotest.OneByteReader(strings.NewReader(input)), format, opts...)
	var recs []string
	for range len(input) + 1 { // bounded: each record consumes at least one byte
		rec, err := rr.Next()
		if err == io.EOF {
			if rr.Records() != int64(len(recs)) {
				t.Errorf("Records() = %d, want %d", rr.Records(), len(recs))
			}
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, string(rec))
	}
	t.Fatalf("reader did not reach EOF after %d records", len(recs))
	return nil, nil
}

func TestRecordReader(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		format RecordFormat
		want   []string
	}{
		{name: "array", input: `[{"a": 1}, {"b": [1, 2, {"c": "]}"}]}]`, format: FormatJSON,
			want: []string{`{"a":1}`, `{"b":[1,2,{"c":"]}"}]}`}},
		{name: "array pretty printed", input: "[\n  {\n    \"a\": \"x \\\" y\"\n  },\n  {\"b\": null}\n]\n", format: FormatJSON,
			want: []string{`{"a":"x \" y"}`, `{"b":null}`}},
		{name: "data wrapper", input: ` { "data" : [ {"id":"1"} , {"id":"2"} ] } `, format: FormatJSON,
			want: []string{`{"id":"1"}`, `{"id":"2"}`}},
		{name: "escaped data key", input: `{"\u0064ata":[{"id":"1"}]}`, format: FormatJSON, want: []string{`{"id":"1"}`}},
		{name: "empty array", input: " [ ] \n", format: FormatJSON},
		{name: "empty data", input: `{"data": []}`, format: FormatJSON},
		{name: "whitespace only", input: " \n\t\r\n", format: FormatJSON},
		{name: "zero bytes", input: "", format: FormatJSON},
		{name: "bom", input: "\xEF\xBB\xBF[{\"a\":1}]", format: FormatJSON, want: []string{`{"a":1}`}},
		{name: "unicode kept", input: `[{"n":"José 日本 \u00e9"}]`, format: FormatJSON, want: []string{`{"n":"José 日本 \u00e9"}`}},
		{name: "jsonl", input: "{\"a\":1}\n{\"a\": 2}\n", format: FormatJSONLines, want: []string{`{"a":1}`, `{"a":2}`}},
		{name: "jsonl blank lines and crlf", input: "\r\n{\"a\":1}\r\n\r\n  \n{\"a\":2}\r\n\n", format: FormatJSONLines,
			want: []string{`{"a":1}`, `{"a":2}`}},
		{name: "jsonl no trailing newline", input: "{\"a\":1}\n{\"a\":2}", format: FormatJSONLines, want: []string{`{"a":1}`, `{"a":2}`}},
		{name: "jsonl empty", input: "\n\n", format: FormatJSONLines},
		{name: "jsonl zero bytes", input: "", format: FormatJSONLines},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAllRecords(t, tc.input, tc.format)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("records = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRecordReaderErrors(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		format    RecordFormat
		opts      []RecordOption
		line, col int
		msg       string
	}{
		{name: "jsonl invalid on line 3", input: "{\"a\":1}\n{\"a\":2}\n{\"a\" 3}\n", format: FormatJSONLines,
			line: 3, col: 6, msg: "invalid character '3' after object key"},
		{name: "jsonl invalid after blank lines", input: "\n\n  {\"a\":tru}\n", format: FormatJSONLines,
			line: 3, col: 11, msg: "invalid character '}' in literal true (expecting 'e')"},
		{name: "jsonl two values on a line", input: "{} {}\n", format: FormatJSONLines,
			line: 1, col: 4, msg: "invalid character '{' after top-level value"},
		{name: "jsonl not an object", input: "{\"a\":1}\n  [1]\n", format: FormatJSONLines,
			line: 2, col: 3, msg: "record is not a JSON object"},
		{name: "jsonl truncated", input: "{\"a\":\n", format: FormatJSONLines,
			line: 1, col: 5, msg: "unexpected end of JSON input"},
		{name: "jsonl invalid utf8", input: "{\"a\":1}\n{\"n\":\"Jos\xc3\"}\n", format: FormatJSONLines,
			line: 2, col: 10, msg: "invalid UTF-8"},
		{name: "array invalid on line 4", input: "[\n {\"a\":1},\n {\"a\":2},\n {\"a\":,}\n]", format: FormatJSON,
			line: 4, col: 7, msg: "invalid character ',' looking for beginning of value"},
		{name: "array multiline record error", input: "[{\n\"a\":\n\n  x}]", format: FormatJSON,
			line: 4, col: 3, msg: "invalid character 'x' looking for beginning of value"},
		{name: "array element not an object", input: "[{\"a\":1},\n 42]", format: FormatJSON,
			line: 2, col: 2, msg: "record is not a JSON object"},
		{name: "array string element", input: `["x"]`, format: FormatJSON,
			line: 1, col: 2, msg: "record is not a JSON object"},
		{name: "trailing garbage", input: "[{\"a\":1}]\n x", format: FormatJSON,
			line: 2, col: 2, msg: "unexpected data after the records"},
		{name: "two arrays", input: "[][]", format: FormatJSON,
			line: 1, col: 3, msg: "unexpected data after the records"},
		{name: "trailing comma", input: "[{\"a\":1},]", format: FormatJSON,
			line: 1, col: 10, msg: "expected a record after ','"},
		{name: "missing comma", input: "[{\"a\":1} {\"a\":2}]", format: FormatJSON,
			line: 1, col: 10, msg: "expected ',' or ']' after a record"},
		{name: "unterminated array", input: "[{\"a\":1}", format: FormatJSON,
			line: 1, col: 9, msg: "expected ',' or ']' after a record"},
		{name: "unterminated empty array", input: "[ ", format: FormatJSON,
			line: 1, col: 3, msg: "unexpected end of input in the array"},
		{name: "truncated record", input: "[{\"a\":[1,", format: FormatJSON,
			line: 1, col: 9, msg: "unexpected end of JSON input"},
		{name: "mismatched bracket", input: "[{\"a\":[1}]", format: FormatJSON,
			line: 1, col: 9, msg: "invalid character '}' after array element"},
		{name: "not an array", input: ` "x"`, format: FormatJSON,
			line: 1, col: 2, msg: `expected a JSON array of records or an object {"data": [...]}`},
		{name: "wrong wrapper key", input: `{"records": []}`, format: FormatJSON,
			line: 1, col: 2, msg: `expected the key "data"`},
		{name: "empty object", input: `{}`, format: FormatJSON,
			line: 1, col: 2, msg: `expected the key "data"`},
		{name: "data not an array", input: `{"data": {"a":1}}`, format: FormatJSON,
			line: 1, col: 10, msg: `"data" must be an array of records`},
		{name: "extra key after data", input: `{"data": [], "x": 1}`, format: FormatJSON,
			line: 1, col: 12, msg: `expected '}' after the "data" array`},
		{name: "array invalid utf8", input: "[\n{\"a\":\"\xff\"}]", format: FormatJSON,
			line: 2, col: 7, msg: "invalid UTF-8"},
		{name: "control character in string", input: "[{\"a\":\"x\ty\"}]", format: FormatJSON,
			line: 1, col: 9, msg: "invalid character '\\t' in string literal"},
		{name: "record too large", input: `[{"a":"0123456789"}]`, format: FormatJSON, opts: []RecordOption{WithMaxRecordBytes(8)},
			line: 1, col: 2, msg: "record is larger than 8 bytes"},
		{name: "jsonl record too large", input: "{}\n{\"a\":\"0123456789\"}\n", format: FormatJSONLines, opts: []RecordOption{WithMaxRecordBytes(8)},
			line: 2, col: 1, msg: "record is larger than 8 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAllRecords(t, tc.input, tc.format, tc.opts...)
			var re *RecordError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *RecordError", err)
			}
			if re.Line != tc.line || re.Column != tc.col || re.Msg != tc.msg {
				t.Errorf("got line %d, column %d, %q; want line %d, column %d, %q", re.Line, re.Column, re.Msg, tc.line, tc.col, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "datacloud: json: line ") {
				t.Errorf("error %q lacks the datacloud: json: prefix", err)
			}
		})
	}
}

func TestRecordReaderErrorIsSticky(t *testing.T) {
	rr := NewRecordReader(strings.NewReader("{\"a\":1}\nbad\n{\"a\":2}\n"), FormatJSONLines)
	if _, err := rr.Next(); err != nil {
		t.Fatal(err)
	}
	_, err1 := rr.Next()
	_, err2 := rr.Next()
	if err1 == nil || err1 != err2 {
		t.Errorf("errors = %v, %v; want the same error twice", err1, err2)
	}
}

func TestRecordReaderReadError(t *testing.T) {
	boom := errors.New("connection reset")
	for f, in := range map[RecordFormat]string{FormatJSON: "[{\"a\":1},\n{\"a\":", FormatJSONLines: "{\"a\":1}\n{\"a\":"} {
		rr := NewRecordReader(io.MultiReader(strings.NewReader(in), iotest.ErrReader(boom)), f)
		var err error
		for range 3 {
			if _, err = rr.Next(); err != nil {
				break
			}
		}
		if !errors.Is(err, boom) {
			t.Errorf("format %d: err = %v, want it to wrap %v", f, err, boom)
		}
	}
}

func TestReadIDs(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		format  RecordFormat
		want    []string
		wantErr string
	}{
		{name: "array", input: `["a", "b\u00e9", "c,d"]`, format: FormatJSON, want: []string{"a", "bé", "c,d"}},
		{name: "data wrapper", input: `{"data":["1","2"]}`, format: FormatJSON, want: []string{"1", "2"}},
		{name: "jsonl", input: "\"1\"\n\n\"2\"\r\n", format: FormatJSONLines, want: []string{"1", "2"}},
		{name: "empty", input: `[]`, format: FormatJSON},
		{name: "number", input: "[\"1\",\n 2]", format: FormatJSON, want: []string{"1"},
			wantErr: "datacloud: json: line 2, column 2: id is not a JSON string"},
		{name: "object", input: "\"1\"\n{\"id\":\"2\"}\n", format: FormatJSONLines, want: []string{"1"},
			wantErr: "datacloud: json: line 2, column 1: id is not a JSON string"},
		{name: "empty id", input: `["1",""]`, format: FormatJSON, want: []string{"1"},
			wantErr: "datacloud: json: line 1, column 6: id is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := ReadIDs(NewRecordReader(strings.NewReader(tc.input), tc.format), func(id string) error {
				got = append(got, id)
				return nil
			})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("ids = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadIDsCallbackError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := ReadIDs(NewRecordReader(strings.NewReader(`["a","b","c"]`), FormatJSON), func(string) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("err = %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func TestRecordReaderLargeInputSpansBuffers(t *testing.T) {
	// Records straddle the 64 KiB read buffer many times over.
	var in bytes.Buffer
	in.WriteString("[\n")
	const n = 3000
	for i := range n {
		if i > 0 {
			in.WriteString(",\n")
		}
		in.WriteString(`{"id": "` + strings.Repeat("x", i%200) + `", "v": [1, 2, 3]}`)
	}
	in.WriteString("\n]\n")
	rr := NewRecordReader(&in, FormatJSON)
	for i := range n {
		rec, err := rr.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if want := `{"id":"` + strings.Repeat("x", i%200) + `","v":[1,2,3]}`; string(rec) != want {
			t.Fatalf("record %d = %s, want %s", i, rec, want)
		}
	}
	if _, err := rr.Next(); err != io.EOF {
		t.Fatalf("after %d records: err = %v, want EOF", n, err)
	}
}

// oracleJSON is what encoding/json says the records of body are. strict reports whether the
// reader must accept body (a plain array of objects, or JSONL of objects, all valid UTF-8);
// ok reports whether it may (the {"data":[...]} form is only checked one way, since
// encoding/json tolerates duplicate keys the reader rejects).
func oracleJSON(body []byte, format RecordFormat) (want []string, ok, strict bool) {
	compactObject := func(raw []byte) (string, bool) {
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil || !utf8.Valid(raw) || b.Len() == 0 || b.Bytes()[0] != '{' {
			return "", false
		}
		return b.String(), true
	}
	if format == FormatJSONLines {
		for _, line := range bytes.Split(body, []byte("\n")) {
			line = bytes.Trim(line, " \t\r\n")
			if len(line) == 0 {
				continue
			}
			rec, good := compactObject(line)
			if !good {
				return nil, false, false
			}
			want = append(want, rec)
		}
		return want, true, true
	}
	trimmed := bytes.Trim(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, true, true
	}
	var arr []json.RawMessage
	switch trimmed[0] {
	case '[':
		if json.Unmarshal(body, &arr) != nil {
			return nil, false, false
		}
		strict = true
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil || len(m) != 1 || m["data"] == nil || json.Unmarshal(m["data"], &arr) != nil || arr == nil {
			return nil, false, false
		}
	default:
		return nil, false, false
	}
	for _, raw := range arr {
		rec, good := compactObject(raw)
		if !good {
			return nil, false, false
		}
		want = append(want, rec)
	}
	return want, true, strict
}

// readRecords reads all records of data in chunks of n bytes.
func readRecords(data []byte, format RecordFormat, n int) ([]string, error) {
	rr := NewRecordReader(&chunkReader{bytes.NewReader(data), n}, format)
	var recs []string
	for range len(data) + 1 {
		rec, err := rr.Next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return recs, err
		}
		if !json.Valid(rec) || !utf8.Valid(rec) {
			return recs, fmt.Errorf("invalid record %q", rec)
		}
		recs = append(recs, string(rec))
	}
	return recs, errors.New("no EOF")
}

// generatedRecords turns fuzz bytes into JSON objects and writes them as JSONL (LF and CRLF,
// some blank lines) and as a pretty-printed array.
func generatedRecords(data []byte) (recs []string, jsonl, array []byte) {
	array = append(array, "[\n"...)
	for i, piece := range bytes.Split(data, []byte{'|'}) {
		v, _ := json.Marshal(string(piece))
		rec := fmt.Sprintf(`{"i":%d,"v":%s}`, i, v)
		recs = append(recs, rec)
		if i > 0 {
			array = append(array, ",\n"...)
		}
		array = append(array, fmt.Sprintf("  { \"i\" : %d,\n    \"v\": %s }", i, v)...)
		if len(piece)%3 == 0 {
			jsonl = append(jsonl, "\r\n"...)
		}
		jsonl = append(jsonl, rec...)
		jsonl = append(jsonl, []string{"\n", "\r\n"}[i%2]...)
	}
	array = append(array, "\n]\n"...)
	return recs, jsonl, array
}

func FuzzRecordReader(f *testing.F) {
	for i, s := range []string{
		`[{"a":1},{"b":[1,2,{"c":"]}"}]}]`,
		`{"data":[{"id":"1"}]}`,
		"{\"a\":1}\r\n\n{\"a\":2}",
		"[\n{\"a\":\"\xff\"}]",
		`[{"a":1},]`,
		`[{"a":1}] x`,
		"",
		"a|b|c|\xff|\"|\\",
	} {
		f.Add([]byte(s), uint16(20+i*13), uint8(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, chunk uint8) {
		body := bytes.TrimPrefix(data, utf8BOM)
		for _, format := range []RecordFormat{FormatJSON, FormatJSONLines} {
			got, err := readRecords(data, format, int(chunk)+1)
			want, ok, strict := oracleJSON(body, format)
			if err != nil {
				var re *RecordError
				if !errors.As(err, &re) || re.Line < 1 || re.Column < 1 {
					t.Fatalf("format %d: error %v is not a *RecordError with a position", format, err)
				}
				if strict {
					t.Fatalf("format %d: valid input %q rejected: %v", format, data, err)
				}
				continue
			}
			if !ok {
				t.Fatalf("format %d: invalid input %q accepted as %q", format, data, got)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("format %d: records %q, want %q", format, got, want)
			}
		}

		recs, jsonl, array := generatedRecords(data)
		for _, in := range []struct {
			format RecordFormat
			data   []byte
		}{{FormatJSONLines, jsonl}, {FormatJSON, array}} {
			got, err := readRecords(in.data, in.format, int(chunk)+1)
			if err != nil || !slices.Equal(got, recs) {
				t.Fatalf("format %d: %q read as %q, %v; want %q", in.format, in.data, got, err, recs)
			}
		}

		lim := int(limit)%2048 + 1
		p := NewPacker(lim)
		var bodies, packed []string
		for _, rec := range recs {
			body, err := p.Add(json.RawMessage(rec))
			if packEnvelope+len(rec) >= lim {
				var tl *RecordTooLargeError
				if !errors.As(err, &tl) {
					t.Fatalf("record of %d bytes with limit %d: err = %v, want *RecordTooLargeError", len(rec), lim, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("record of %d bytes with limit %d: %v", len(rec), lim, err)
			}
			if body != nil {
				// As full as possible: the record that started a new body did not fit.
				if len(body)+1+len(rec) < lim {
					t.Fatalf("body of %d bytes closed although a %d-byte record fit under %d", len(body), len(rec), lim)
				}
				bodies = append(bodies, string(body))
			}
			packed = append(packed, rec)
		}
		if body := p.Flush(); body != nil {
			bodies = append(bodies, string(body))
		}
		checkBodies(t, lim, bodies, packed)
	})
}

func TestRecordReaderBytesAndFormat(t *testing.T) {
	in := "\xEF\xBB\xBF[{\"a\":1}, {\"b\":2}]\n"
	rr := NewRecordReader(strings.NewReader(in), FormatJSON)
	for {
		if _, err := rr.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if rr.Bytes() != int64(len(in)) || rr.Records() != 2 {
		t.Errorf("Bytes() = %d, Records() = %d; want %d, 2", rr.Bytes(), rr.Records(), len(in))
	}
	if _, err := NewRecordReader(strings.NewReader("{}"), RecordFormat(99)).Next(); err == nil || !strings.Contains(err.Error(), "unknown record format") {
		t.Errorf("unknown format: err = %v", err)
	}
}
