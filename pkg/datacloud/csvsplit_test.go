package datacloud

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// splitAll runs a splitter to the end and returns copies of its parts.
func splitAll(t *testing.T, input []byte, maxPart int, opts ...SplitOption) (*CSVSplitter, [][]byte, error) {
	t.Helper()
	// OneByteReader exercises every resume point of the incremental scanner.
	s, err := NewCSVSplitter(iotest.OneByteReader(bytes.NewReader(input)), maxPart, opts...)
	if err != nil {
		return nil, nil, err
	}
	var parts [][]byte
	for range len(input) + 2 { // bounded: each part holds at least one input byte
		p, err := s.Next()
		if err == io.EOF {
			return s, parts, nil
		}
		if err != nil {
			return s, parts, err
		}
		parts = append(parts, bytes.Clone(p))
	}
	t.Fatalf("splitter did not reach EOF after %d parts", len(parts))
	return nil, nil, nil
}

// rejoin concatenates parts, dropping the header from all but the first.
func rejoin(parts [][]byte, header []byte) []byte {
	var out []byte
	for i, p := range parts {
		if i > 0 {
			p = p[len(header):]
		}
		out = append(out, p...)
	}
	return out
}

func TestCSVSplitterParts(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		maxPart  int
		noHeader bool
		want     []string // parts
		records  int64
	}{
		{name: "one part", input: "id,name\n1,a\n2,b\n", maxPart: 100,
			want: []string{"id,name\n1,a\n2,b\n"}, records: 2},
		{name: "split per record", input: "id,name\n1,a\n2,b\n3,c\n", maxPart: 12,
			want: []string{"id,name\n1,a\n", "id,name\n2,b\n", "id,name\n3,c\n"}, records: 3},
		{name: "exact fit", input: "h\n1\n2\n3\n", maxPart: 6,
			want: []string{"h\n1\n2\n", "h\n3\n"}, records: 3},
		{name: "quoted comma quote and newlines", input: "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n\"line1\nline2\r\nline3\rz\",2\n", maxPart: 40,
			want: []string{"a,b\n\"x,y\",\"say \"\"hi\"\"\"\n", "a,b\n\"line1\nline2\r\nline3\rz\",2\n"}, records: 2},
		{name: "crlf and lf mixed", input: "a,b\r\n1,2\n3,4\r\n", maxPart: 11,
			want: []string{"a,b\r\n1,2\n", "a,b\r\n3,4\r\n"}, records: 2},
		{name: "no trailing newline", input: "a\n1\n2", maxPart: 100,
			want: []string{"a\n1\n2"}, records: 2},
		{name: "no trailing newline after quote", input: "a\n\"1\"", maxPart: 100,
			want: []string{"a\n\"1\""}, records: 1},
		{name: "trailing cr after quote", input: "a\n\"1\"\r", maxPart: 100,
			want: []string{"a\n\"1\"\r"}, records: 1},
		{name: "bom stripped", input: "\xEF\xBB\xBFid,v\n1,2\n", maxPart: 100,
			want: []string{"id,v\n1,2\n"}, records: 1},
		{name: "header only", input: "id,name\n", maxPart: 100, want: nil},
		{name: "header only without newline", input: "id,name", maxPart: 100, want: nil},
		{name: "header then blank lines", input: "id\n\n\r\n", maxPart: 100, want: nil},
		{name: "blank lines travel with records", input: "h\n1\n\n2\n\n", maxPart: 100,
			want: []string{"h\n1\n\n2\n\n"}, records: 2},
		{name: "leading blank lines that fit are kept", input: "h\n1\n\n\n\n\n2\n", maxPart: 6,
			want: []string{"h\n1\n\n\n", "h\n\n\n2\n"}, records: 2},
		{name: "blank lines that do not fit are dropped", input: "h\n1\n\n\n\n\n\n\n2\n", maxPart: 6,
			want: []string{"h\n1\n\n\n", "h\n2\n"}, records: 2},
		{name: "empty last field", input: "a,b\n1,", maxPart: 100,
			want: []string{"a,b\n1,"}, records: 1},
		{name: "no header", input: "id1\nid2\nid3\n", maxPart: 8, noHeader: true,
			want: []string{"id1\nid2\n", "id3\n"}, records: 3},
		{name: "no header leading blank line", input: "\nid1\n", maxPart: 8, noHeader: true,
			want: []string{"\nid1\n"}, records: 1},
		{name: "no header only blank lines", input: "\n\r\n", maxPart: 8, noHeader: true, want: nil},
		{name: "quoted empty and lone cr data", input: "a,b\n\"\",x\ry\n", maxPart: 100,
			want: []string{"a,b\n\"\",x\ry\n"}, records: 1},
		{name: "utf8 content", input: "name\nJosé\n日本\n", maxPart: 13,
			want: []string{"name\nJosé\n", "name\n日本\n"}, records: 2},
		{name: "tiny part holds a record", input: "h\n1\n", maxPart: 4,
			want: []string{"h\n1\n"}, records: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []SplitOption
			if tc.noHeader {
				opts = append(opts, NoHeader())
			}
			s, parts, err := splitAll(t, []byte(tc.input), tc.maxPart, opts...)
			if err != nil {
				t.Fatalf("split: %v", err)
			}
			if len(parts) != len(tc.want) {
				t.Fatalf("got %d parts %q, want %d %q", len(parts), parts, len(tc.want), tc.want)
			}
			for i := range parts {
				if string(parts[i]) != tc.want[i] {
					t.Errorf("part %d = %q, want %q", i, parts[i], tc.want[i])
				}
				if len(parts[i]) > tc.maxPart {
					t.Errorf("part %d has %d bytes, more than %d", i, len(parts[i]), tc.maxPart)
				}
			}
			if s.Records() != tc.records {
				t.Errorf("Records() = %d, want %d", s.Records(), tc.records)
			}
			if s.Bytes() != int64(len(tc.input)) {
				t.Errorf("Bytes() = %d, want %d", s.Bytes(), len(tc.input))
			}
		})
	}
}

func TestCSVSplitterHeader(t *testing.T) {
	s, err := NewCSVSplitter(strings.NewReader("\xEF\xBB\xBF\"a,b\",c\r\n1,2\n"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(s.Header()), "\"a,b\",c\r\n"; got != want {
		t.Errorf("Header() = %q, want %q", got, want)
	}
	n, err := NewCSVSplitter(strings.NewReader("x\n"), 100, NoHeader())
	if err != nil {
		t.Fatal(err)
	}
	if n.Header() != nil {
		t.Errorf("Header() with NoHeader = %q, want nil", n.Header())
	}
}

func TestCSVSplitterErrors(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		maxPart   int
		noHeader  bool
		line, col int
		msg       string
	}{
		{name: "empty", input: "", maxPart: 10, line: 1, col: 1, msg: "empty file"},
		{name: "bom only", input: "\xEF\xBB\xBF", maxPart: 10, line: 1, col: 1, msg: "empty file"},
		{name: "empty no header", input: "", maxPart: 10, noHeader: true, line: 1, col: 1, msg: "empty file"},
		{name: "blank header", input: "\na\n", maxPart: 10, line: 1, col: 1, msg: "header row is blank"},
		{name: "invalid utf8 in header", input: "id,n\xffme\n1,2\n", maxPart: 100, line: 1, col: 5, msg: "invalid UTF-8"},
		{name: "invalid utf8 in record", input: "id\nok\nJos\xc3\n", maxPart: 100, line: 3, col: 4, msg: "invalid UTF-8"},
		{name: "invalid utf8 in later part", input: "id\n1\n2\n\xe2\x82\n", maxPart: 5, line: 4, col: 1, msg: "invalid UTF-8"},
		{name: "invalid utf8 inside quotes", input: "a\n\"x\ny\xff\"\n", maxPart: 100, line: 3, col: 2, msg: "invalid UTF-8"},
		{name: "unterminated quote", input: "a,b\n1,2\n3,\"open\n4,5\n", maxPart: 100, line: 3, col: 3, msg: "quoted field is not terminated"},
		{name: "bare quote", input: "a,b\n1,x\"y\n", maxPart: 100, line: 2, col: 4, msg: `bare " in non-quoted field`},
		{name: "bare quote after space", input: "a,b\n1, \"y\"\n", maxPart: 100, line: 2, col: 4, msg: `bare " in non-quoted field`},
		{name: "text after closing quote", input: "a,b\n\"x\"y,1\n", maxPart: 100, line: 2, col: 3, msg: `extraneous or missing " in quoted field`},
		{name: "cr then text after closing quote", input: "a\n\"x\"\ry\n", maxPart: 100, line: 2, col: 3, msg: `extraneous or missing " in quoted field`},
		{name: "record too large", input: "id\n1\n123456\n", maxPart: 6, line: 3, col: 1, msg: "record does not fit in a part of 6 bytes with the 3-byte header"},
		{name: "record too large no header", input: "1\n1234\n", maxPart: 4, noHeader: true, line: 2, col: 1, msg: "record is larger than the part size of 4 bytes"},
		{name: "header too large", input: "abcdef\n1\n", maxPart: 4, line: 1, col: 1, msg: "header row is larger than the part size of 4 bytes"},
		{name: "header exactly fills part", input: "abc\n1\n", maxPart: 4, line: 2, col: 1, msg: "record does not fit in a part of 4 bytes with the 4-byte header"},
		{name: "multiline record too large", input: "h\n\"a\nb\nc\nd\"\n", maxPart: 8, line: 2, col: 1, msg: "record does not fit in a part of 8 bytes with the 2-byte header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []SplitOption
			if tc.noHeader {
				opts = append(opts, NoHeader())
			}
			_, _, err := splitAll(t, []byte(tc.input), tc.maxPart, opts...)
			var ce *CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *CSVError", err)
			}
			if ce.Line != tc.line || ce.Column != tc.col || ce.Msg != tc.msg {
				t.Errorf("got line %d, column %d, %q; want line %d, column %d, %q", ce.Line, ce.Column, ce.Msg, tc.line, tc.col, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "datacloud: csv: line ") {
				t.Errorf("error %q lacks the datacloud: csv: prefix", err)
			}
		})
	}
}

func TestCSVSplitterReadError(t *testing.T) {
	boom := errors.New("connection reset")
	s, err := NewCSVSplitter(io.MultiReader(strings.NewReader("h\n1\n"), iotest.ErrReader(boom)), 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "datacloud: csv: read: ") {
		t.Fatalf("err = %v, want a wrapped %v", err, boom)
	}
	if _, err := s.Next(); !errors.Is(err, boom) {
		t.Errorf("error is not sticky: %v", err)
	}
	if _, err := NewCSVSplitter(iotest.ErrReader(boom), 100); !errors.Is(err, boom) {
		t.Errorf("constructor err = %v, want %v", err, boom)
	}
}

func TestCSVSplitterRejectsPartSize(t *testing.T) {
	for _, n := range []int{0, -1} {
		if _, err := NewCSVSplitter(strings.NewReader("h\n1\n"), n); err == nil {
			t.Errorf("part size %d accepted", n)
		}
	}
}

func TestCSVSplitterLargeInput(t *testing.T) {
	// About 2 MiB in 64 KiB parts, twice: the second splitter reuses the first one's buffer.
	data := benchCSV(2 << 20)
	want, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		s, err := NewCSVSplitter(bytes.NewReader(data), 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		var parts [][]byte
		for range len(data) {
			p, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, bytes.Clone(p))
		}
		for i, p := range parts {
			// Records are under 200 bytes: every part but the last is within one record of full.
			if len(p) > 64<<10 || i < len(parts)-1 && len(p) < 64<<10-200 {
				t.Errorf("round %d: part %d of %d has %d bytes", round, i, len(parts), len(p))
			}
		}
		if got := rejoin(parts, s.Header()); !bytes.Equal(got, data) {
			t.Fatalf("round %d: parts do not rejoin to the input (%d vs %d bytes)", round, len(got), len(data))
		}
		if s.Records() != int64(len(want)-1) {
			t.Errorf("round %d: Records() = %d, want %d", round, s.Records(), len(want)-1)
		}
	}
}
