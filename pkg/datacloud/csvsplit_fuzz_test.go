package datacloud

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"testing"
	"unicode/utf8"
)

// chunkReader returns at most n bytes per Read, so the fuzzer also varies the resume points.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// csvOracle is what encoding/csv (strict quotes, any field count) says about an input.
type csvOracle struct {
	valid   bool       // parses, is UTF-8, is not empty, and (header mode) has a non-blank first line
	records [][]string // data records (header excluded)
	header  int        // header length in bytes (0 with noHeader)
	fits    bool       // the header plus each record (without blank lines before it) fits a part
}

func oracleCSV(body []byte, maxPart int, noHeader bool) csvOracle {
	o := csvOracle{fits: true}
	blankFirst := bytes.HasPrefix(body, []byte("\n")) || bytes.HasPrefix(body, []byte("\r\n")) || string(body) == "\r"
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	var prev int64
	first := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return o
		}
		off := r.InputOffset()
		if first && !noHeader {
			o.header = int(off)
			o.fits = o.header <= maxPart
		} else {
			o.records = append(o.records, rec)
			start := int(prev)
			for {
				if bytes.HasPrefix(body[start:], []byte("\n")) {
					start++
				} else if bytes.HasPrefix(body[start:], []byte("\r\n")) {
					start += 2
				} else {
					break
				}
			}
			if o.header+int(off)-start > maxPart {
				o.fits = false
			}
		}
		first = false
		prev = off
	}
	o.valid = len(body) > 0 && utf8.Valid(body) && (noHeader || !blankFirst)
	return o
}

// parseCSV returns the records encoding/csv reads from b.
func parseCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("encoding/csv rejects output %q: %v", b, err)
	}
	return recs
}

// subsequenceDroppingLineBreaks reports whether got is want with some '\r'/'\n' bytes removed.
func subsequenceDroppingLineBreaks(got, want []byte) bool {
	i := 0
	for _, c := range want {
		if i < len(got) && got[i] == c {
			i++
		} else if c != '\n' && c != '\r' {
			return false
		}
	}
	return i == len(got)
}

func FuzzCSVSplitter(f *testing.F) {
	seeds := []string{
		"id,name\n1,a\n2,b\n",
		"a,b\r\n\"x,y\",\"q\"\"q\"\r\n\"multi\nline\r\nfield\",2\n",
		"\xEF\xBB\xBFh\n1\n\n2",
		"h\n\"open\n",
		"h\nx\"y\n",
		"h\n\"a\"b\n",
		"h\n\xff\n",
		"\n\nx\n",
		"h\n\"a\"\r",
		"",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint16(4+i*7), uint8(i), i%3 == 0)
	}
	f.Fuzz(checkCSVSplit)
}

// checkCSVSplit splits data and checks the parts against encoding/csv.
func checkCSVSplit(t *testing.T, data []byte, partSize uint16, chunk uint8, noHeader bool) {
	{
		maxPart := int(partSize)%1024 + 1
		body := bytes.TrimPrefix(data, utf8BOM)
		o := oracleCSV(body, maxPart, noHeader)

		var opts []SplitOption
		if noHeader {
			opts = append(opts, NoHeader())
		}
		var parts [][]byte
		s, err := NewCSVSplitter(&chunkReader{bytes.NewReader(data), int(chunk) + 1}, maxPart, opts...)
		for err == nil && len(parts) <= len(data) {
			var p []byte
			if p, err = s.Next(); err == nil {
				parts = append(parts, bytes.Clone(p))
			}
		}
		if errors.Is(err, io.EOF) {
			err = nil
		} else if err == nil {
			t.Fatalf("more parts (%d) than input bytes", len(parts))
		}
		if err != nil {
			var ce *CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CSVError", err)
			}
			if ce.Line < 1 || ce.Column < 1 {
				t.Fatalf("error position line %d column %d", ce.Line, ce.Column)
			}
			if o.valid && o.fits {
				t.Fatalf("valid input %q (part size %d) rejected: %v", data, maxPart, err)
			}
			return
		}
		if !o.valid {
			t.Fatalf("invalid input %q accepted", data)
		}
		if !o.fits {
			t.Fatalf("input %q with a record too large for %d bytes accepted", data, maxPart)
		}
		header := body[:o.header]
		if !bytes.Equal(s.Header(), header) && !(noHeader && s.Header() == nil) {
			t.Fatalf("Header() = %q, want %q", s.Header(), header)
		}
		var got [][]string
		for i, p := range parts {
			if len(p) > maxPart {
				t.Fatalf("part %d has %d bytes > %d", i, len(p), maxPart)
			}
			if !bytes.HasPrefix(p, header) {
				t.Fatalf("part %d %q does not start with the header %q", i, p, header)
			}
			recs := parseCSV(t, p)
			if !noHeader {
				recs = recs[1:]
			}
			if len(recs) == 0 {
				t.Fatalf("part %d %q holds no record", i, p)
			}
			got = append(got, recs...)
		}
		if !slices.EqualFunc(got, o.records, slices.Equal) {
			t.Fatalf("records %q, want %q", got, o.records)
		}
		if s.Records() != int64(len(o.records)) {
			t.Fatalf("Records() = %d, want %d", s.Records(), len(o.records))
		}
		if s.Bytes() != int64(len(data)) {
			t.Fatalf("Bytes() = %d, want %d", s.Bytes(), len(data))
		}
		if len(parts) == 0 {
			return
		}
		joined := rejoin(parts, header)
		if !bytes.Equal(joined, body) && !subsequenceDroppingLineBreaks(joined, body) {
			t.Fatalf("parts rejoin to %q, want %q", joined, body)
		}
	}
}
