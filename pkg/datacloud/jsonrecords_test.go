package datacloud

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
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
		{name: "jsonl not an object", input: "{\"a\":1}\n[1]\n", format: FormatJSONLines,
			line: 2, col: 1, msg: "record is not a JSON object"},
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
