package datacloud

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCSVSplitterCheckFieldCounts(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		maxPart  int
		wantErr  string // "" means the whole input splits cleanly
		wantLine int
		records  int64
	}{
		{name: "consistent", input: "a,b,c\n1,2,3\n4,5,6\n", maxPart: 64, records: 2},
		{name: "quoted commas and newlines are one field", input: "a,b\n\"x,y\",\"two\nlines, and \"\"q\"\"\"\r\n3,4", maxPart: 64, records: 2},
		{name: "blank lines are not records", input: "a,b\n1,2\n\n\r\n3,4\n", maxPart: 64, records: 2},
		{name: "too few fields", input: "a,b,c\n1,2,3\n4,5\n", maxPart: 64, wantErr: "record has 2 fields but the header has 3", wantLine: 3},
		{name: "too many fields", input: "a,b\n1,2\n3,4,5\n", maxPart: 64, wantErr: "record has 3 fields but the header has 2", wantLine: 3},
		{name: "line counted past a multi-line field", input: "a,b\n\"1\n\n\",2\n3\n", maxPart: 64, wantErr: "record has 1 fields", wantLine: 5},
		{name: "ragged row in a later part", input: "id,v\n1,a\n2,b\n3,c\n4\n", maxPart: 10, wantErr: "record has 1 fields", wantLine: 5},
		{name: "quoted header", input: "\"a,b\",c\nx,y\n", maxPart: 64, records: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewCSVSplitter(iotest.OneByteReader(bytes.NewReader([]byte(tc.input))), tc.maxPart, CheckFieldCounts())
			if err != nil {
				t.Fatal(err)
			}
			for err == nil {
				_, err = s.Next()
			}
			if tc.wantErr == "" {
				if err != io.EOF {
					t.Fatalf("err = %v, want a clean split", err)
				}
				if s.Records() != tc.records {
					t.Errorf("records = %d, want %d", s.Records(), tc.records)
				}
				return
			}
			var ce *CSVError
			if !errors.As(err, &ce) || !bytes.Contains([]byte(ce.Msg), []byte(tc.wantErr)) || ce.Line != tc.wantLine {
				t.Fatalf("err = %v, want line %d %q", err, tc.wantLine, tc.wantErr)
			}
		})
	}
}

func TestCSVSplitterFieldCountsOffByDefault(t *testing.T) {
	for _, opts := range [][]SplitOption{nil, {NoHeader(), CheckFieldCounts()}} {
		s, err := NewCSVSplitter(bytes.NewReader([]byte("a,b\n1\n1,2,3\n")), 64, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Next(); err != nil {
			t.Fatalf("opts %d: ragged rows rejected without CheckFieldCounts in header mode: %v", len(opts), err)
		}
	}
}

func TestCSVSplitterSizeHintSizesTheBufferOnce(t *testing.T) {
	csvSpare.Lock()
	csvSpare.buf = nil
	csvSpare.Unlock()
	input := []byte("id,v\n" + strings.Repeat("1,abcdefgh\n", 20000)) // about 220 KB
	s, err := NewCSVSplitter(bytes.NewReader(input), 1<<20, SizeHint(int64(len(input))))
	if err != nil {
		t.Fatal(err)
	}
	if got := cap(s.buf); got < len(input) || got > 1<<20+2 {
		t.Fatalf("initial buffer capacity %d, want the hinted %d (capped by the part size)", got, len(input))
	}
	part, err := s.Next()
	if err != nil || !bytes.Equal(part, input) {
		t.Fatalf("part of %d bytes, err %v; want the whole input", len(part), err)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Fatalf("err = %v, want EOF", err)
	}
	csvSpare.Lock()
	csvSpare.buf = nil
	csvSpare.Unlock()
	big, err := NewCSVSplitter(bytes.NewReader(input), 1000, SizeHint(1<<40))
	if err != nil {
		t.Fatal(err)
	}
	if got := cap(big.buf); got != 1002 {
		t.Fatalf("a hint larger than a part allocated %d bytes, want the part's 1002", got)
	}
}
