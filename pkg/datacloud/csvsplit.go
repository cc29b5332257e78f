package datacloud

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"
)

// CSVError reports malformed CSV input. Line and Column are 1-based; Column counts bytes
// from the start of the physical line (a UTF-8 BOM at the start of the file is not counted).
type CSVError struct {
	Line, Column int
	Msg          string
}

// Error implements error.
func (e *CSVError) Error() string {
	return fmt.Sprintf("datacloud: csv: line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// SplitOption configures a CSVSplitter.
type SplitOption func(*splitConfig)

type splitConfig struct {
	noHeader bool
}

// NoHeader makes the splitter treat the first row as data and start parts without a header.
// Data Cloud's bulk delete CSVs have no header row.
func NoHeader() SplitOption { return func(c *splitConfig) { c.noHeader = true } }

// csvReadChunk bounds each Read so that freshly read bytes are scanned and validated while
// they are still in the CPU cache.
const csvReadChunk = 128 << 10

// csvMinBuffer is the initial part buffer; it grows geometrically up to maxPartBytes, so a
// small file never costs a full-sized part buffer.
const csvMinBuffer = 64 << 10

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Scanner states within the record being scanned.
const (
	csvFieldStart = iota // at the first byte of a field
	csvUnquoted          // inside an unquoted field
	csvQuoted            // inside a quoted field
	csvQuoteSeen         // just after a '"' inside a quoted field: escaped quote or closing quote
	csvQuoteCR           // after a closing quote and a '\r': only '\n' or EOF may follow
)

// CSVSplitter cuts an RFC 4180 CSV stream into parts of at most maxPartBytes bytes for bulk
// uploads. Each part starts with the header row (unless NoHeader) followed by whole records,
// byte for byte as they appear in the input: quoted fields may hold commas, doubled quotes, CR
// and LF; line endings are preserved, including a missing final newline. Parts are as full as
// the record boundaries allow.
//
// Memory is constant: one part buffer (grown up to maxPartBytes) that is reused for every part;
// nothing is allocated per record.
//
// Input rules:
//   - a UTF-8 byte order mark at the start is dropped, so the first field name matches the
//     object's field name;
//   - the input must be valid UTF-8;
//   - a quote may only open a field; inside a quoted field a quote is doubled; a closing quote
//     is followed by a comma, a line ending or the end of the input (as encoding/csv without
//     LazyQuotes);
//   - blank lines (an empty line between records) are not records: they travel with the
//     preceding record when it has room in the part, and are dropped only when they would leave
//     a part without any record (trailing blank lines that do not fit, a header followed only by
//     blank lines);
//   - in header mode the first line must not be blank;
//   - a header row plus any single record must fit in maxPartBytes.
//
// Violations are reported as *CSVError naming the line and column; read errors of the
// underlying reader are returned wrapped.
type CSVSplitter struct {
	r        io.Reader
	maxPart  int
	noHeader bool

	buf       []byte // buf[:hdrLen] is the header; then the records of the current part
	hdrLen    int
	header    []byte // owned copy for Header()
	committed int    // end of the last complete record (or blank line) in buf
	validated int    // buf[:validated] is known to be valid UTF-8
	baseLine  int    // line number of buf[hdrLen]

	// the record being scanned
	recStart   int
	pos        int
	state      int
	quoteStart int

	partRecords int   // non-blank records in buf[hdrLen:committed]
	records     int64 // records in parts returned so far
	bytesRead   int64

	carry bool // the previous part was returned: move buf[committed:] behind the header first
	eof   bool
	done  bool
	err   error
}

// NewCSVSplitter reads the header row (unless NoHeader) and returns a splitter yielding parts of
// at most maxPartBytes. Malformed or empty input is reported as *CSVError, here or from Next.
func NewCSVSplitter(r io.Reader, maxPartBytes int, opts ...SplitOption) (*CSVSplitter, error) {
	if maxPartBytes <= 0 {
		return nil, fmt.Errorf("datacloud: csv: part size must be positive, got %d", maxPartBytes)
	}
	var cfg splitConfig
	for _, o := range opts {
		o(&cfg)
	}
	s := &CSVSplitter{
		r:        r,
		maxPart:  maxPartBytes,
		noHeader: cfg.noHeader,
		buf:      make([]byte, 0, min(maxPartBytes+1, csvMinBuffer)+len(utf8BOM)),
		baseLine: 1,
	}
	if err := s.start(); err != nil {
		s.err = err
		return nil, err
	}
	return s, nil
}

// start strips a BOM, rejects empty input and reads the header row.
func (s *CSVSplitter) start() error {
	for len(s.buf) < len(utf8BOM) && !s.eof {
		if err := s.fill(); err != nil {
			return err
		}
	}
	if bytes.HasPrefix(s.buf, utf8BOM) {
		s.buf = s.buf[:copy(s.buf, s.buf[len(utf8BOM):])]
	}
	for len(s.buf) == 0 && !s.eof {
		if err := s.fill(); err != nil {
			return err
		}
	}
	if len(s.buf) == 0 && s.eof {
		return &CSVError{Line: 1, Column: 1, Msg: "empty file"}
	}
	if s.noHeader {
		return nil
	}
	for {
		end, blank, more, err := s.scan()
		if err != nil {
			return err
		}
		if !more {
			if end < 0 { // impossible: the input is not empty
				return &CSVError{Line: 1, Column: 1, Msg: "empty file"}
			}
			if blank {
				return &CSVError{Line: 1, Column: 1, Msg: "header row is blank"}
			}
			if end > s.maxPart {
				return s.headerTooLarge()
			}
			if err := s.checkUTF8(end); err != nil {
				return err
			}
			s.hdrLen, s.committed, s.validated, s.recStart, s.pos = end, end, end, end, end
			s.state = csvFieldStart
			s.header = bytes.Clone(s.buf[:end])
			s.baseLine = 1 + bytes.Count(s.header, []byte{'\n'})
			return nil
		}
		if len(s.buf) > s.maxPart {
			return s.headerTooLarge()
		}
		if err := s.fill(); err != nil {
			return err
		}
	}
}

func (s *CSVSplitter) headerTooLarge() error {
	if err := s.checkUTF8(len(s.buf)); err != nil {
		return err
	}
	return &CSVError{Line: 1, Column: 1, Msg: fmt.Sprintf("header row is larger than the part size of %d bytes", s.maxPart)}
}

// Header returns the header row as it starts every part, line ending included and BOM
// removed; nil with NoHeader.
func (s *CSVSplitter) Header() []byte { return s.header }

// Records returns the number of data records in the parts returned so far.
func (s *CSVSplitter) Records() int64 { return s.records }

// Bytes returns the number of input bytes read so far.
func (s *CSVSplitter) Bytes() int64 { return s.bytesRead }

// Next returns the next part: the header followed by whole records, at most maxPartBytes long.
// The slice is valid until the next call. At the end of the input Next returns io.EOF; an input
// with a header and no records yields no part.
func (s *CSVSplitter) Next() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.done {
		return nil, io.EOF
	}
	if s.carry {
		s.baseLine += bytes.Count(s.buf[s.hdrLen:s.committed], []byte{'\n'})
		s.shiftDown(s.committed)
		s.carry = false
	}
	part, err := s.next()
	if err != nil {
		s.err = err
		return nil, err
	}
	return part, nil
}

func (s *CSVSplitter) next() ([]byte, error) {
	for {
		end, blank, more, err := s.scan()
		if err != nil {
			return nil, err
		}
		switch {
		case !more && end > s.maxPart:
			// A complete record (or blank line) that does not fit in this part: rescan it once
			// it has moved behind the header.
			s.pos, s.state = s.recStart, csvFieldStart
			if blank && s.partRecords == 0 {
				s.committed = end // nothing to travel with: drop it with the blank lines before it
			}
			if part, err := s.full(); part != nil || err != nil {
				return part, err
			}
		case !more && end >= 0:
			s.committed, s.recStart, s.pos, s.state = end, end, end, csvFieldStart
			if !blank {
				s.partRecords++
			}
		case !more: // end of input, no record pending
			s.done = true
			if s.partRecords == 0 {
				return nil, io.EOF
			}
			if err := s.checkUTF8(s.committed); err != nil {
				return nil, err
			}
			return s.emit(), nil
		case len(s.buf) > s.maxPart:
			if part, err := s.full(); part != nil || err != nil {
				return part, err
			}
		default:
			if err := s.fill(); err != nil {
				return nil, err
			}
			if err := s.checkUTF8(s.committed); err != nil {
				return nil, err
			}
		}
	}
}

// full handles a full buffer with a record that does not fit: it returns the current part, makes
// room by dropping blank lines that have no record to travel with, or reports a record too large.
func (s *CSVSplitter) full() ([]byte, error) {
	if s.partRecords > 0 {
		if err := s.checkUTF8(s.committed); err != nil {
			return nil, err
		}
		s.carry = true
		return s.emit(), nil
	}
	if s.committed > s.hdrLen {
		s.baseLine += bytes.Count(s.buf[s.hdrLen:s.committed], []byte{'\n'})
		s.shiftDown(s.committed)
		return nil, nil
	}
	if err := s.checkUTF8(len(s.buf)); err != nil {
		return nil, err
	}
	line, col := s.lineCol(s.recStart)
	msg := fmt.Sprintf("record is larger than the part size of %d bytes", s.maxPart)
	if !s.noHeader {
		msg = fmt.Sprintf("record does not fit in a part of %d bytes with the %d-byte header", s.maxPart, s.hdrLen)
	}
	return nil, &CSVError{Line: line, Column: col, Msg: msg}
}

func (s *CSVSplitter) emit() []byte {
	s.records += int64(s.partRecords)
	s.partRecords = 0
	return s.buf[:s.committed]
}

// shiftDown moves buf[from:] to just behind the header, adjusting the scan positions. The
// buffer has one byte more than maxPart: reading it tells a record that ends exactly at the
// part size from one that continues.
func (s *CSVSplitter) shiftDown(from int) {
	d := from - s.hdrLen
	if d == 0 {
		return
	}
	n := copy(s.buf[s.hdrLen:], s.buf[from:])
	s.buf = s.buf[:s.hdrLen+n]
	s.committed = s.hdrLen
	s.validated = max(s.validated-d, s.hdrLen)
	// Dropped blank lines may include the position being rescanned.
	s.recStart = max(s.recStart-d, s.hdrLen)
	s.pos = max(s.pos-d, s.hdrLen)
	s.quoteStart -= d
}

// fill reads more input into the buffer, growing it up to maxPart.
func (s *CSVSplitter) fill() error {
	if s.eof {
		return nil
	}
	if len(s.buf) == cap(s.buf) {
		nb := make([]byte, len(s.buf), max(min(2*cap(s.buf), s.maxPart+1), len(s.buf)+1))
		copy(nb, s.buf)
		s.buf = nb
	}
	end := min(cap(s.buf), len(s.buf)+csvReadChunk)
	for range 100 {
		n, err := s.r.Read(s.buf[len(s.buf):end])
		s.buf = s.buf[:len(s.buf)+n]
		s.bytesRead += int64(n)
		if err == io.EOF {
			s.eof = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("datacloud: csv: read: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
	return fmt.Errorf("datacloud: csv: read: %w", io.ErrNoProgress)
}

// scan advances the record being scanned over the buffered bytes. It returns the end of the
// record (after its line ending) with more=false when the record completed, end=-1 and
// more=false at the end of the input with no record pending, or more=true when it needs more
// input. blank reports an empty line.
func (s *CSVSplitter) scan() (end int, blank bool, more bool, err error) {
	buf := s.buf
	n := len(buf)
	p := s.pos
	for {
		switch s.state {
		case csvFieldStart:
			if p >= n {
				s.pos = p
				if !s.eof {
					return 0, false, true, nil
				}
				if p == s.recStart {
					return -1, false, false, nil
				}
				return n, false, false, nil // "a,<EOF>": last field empty
			}
			if buf[p] == '"' {
				s.quoteStart = p
				s.state = csvQuoted
				p++
				continue
			}
			s.state = csvUnquoted
		case csvUnquoted:
			// The hot path: one SIMD search for the line end and one for a quote in the line.
			seg := buf[p:n]
			nl := bytes.IndexByte(seg, '\n')
			line := seg
			if nl >= 0 {
				line = seg[:nl]
			}
			if q := bytes.IndexByte(line, '"'); q >= 0 {
				at := p + q
				if at != s.recStart && buf[at-1] != ',' {
					return 0, false, false, s.failAt(at, `bare " in non-quoted field`)
				}
				s.quoteStart = at
				s.state = csvQuoted
				p = at + 1
				continue
			}
			if nl < 0 {
				s.pos = n
				if !s.eof {
					return 0, false, true, nil
				}
				if n == s.recStart {
					return -1, false, false, nil
				}
				return n, n-s.recStart == 1 && buf[s.recStart] == '\r', false, nil
			}
			end := p + nl + 1
			size := end - s.recStart
			blank := size == 1 || (size == 2 && buf[s.recStart] == '\r')
			return end, blank, false, nil
		case csvQuoted:
			q := bytes.IndexByte(buf[p:n], '"')
			if q < 0 {
				s.pos = n
				if !s.eof {
					return 0, false, true, nil
				}
				if err := s.checkUTF8(n); err != nil {
					return 0, false, false, err
				}
				line, col := s.lineCol(s.quoteStart)
				return 0, false, false, &CSVError{Line: line, Column: col, Msg: "quoted field is not terminated"}
			}
			p += q + 1
			s.state = csvQuoteSeen
		case csvQuoteSeen, csvQuoteCR:
			if p >= n {
				s.pos = p
				if !s.eof {
					return 0, false, true, nil
				}
				return n, false, false, nil
			}
			c := buf[p]
			if s.state == csvQuoteCR {
				if c == '\n' {
					return p + 1, false, false, nil
				}
				return 0, false, false, s.failAt(p-2, `extraneous or missing " in quoted field`)
			}
			switch c {
			case '"':
				s.state = csvQuoted
			case ',':
				s.state = csvFieldStart
			case '\n':
				return p + 1, false, false, nil
			case '\r':
				s.state = csvQuoteCR
			default:
				return 0, false, false, s.failAt(p-1, `extraneous or missing " in quoted field`)
			}
			p++
		}
	}
}

// failAt reports a syntax error at buffer position at, unless invalid UTF-8 comes first.
func (s *CSVSplitter) failAt(at int, msg string) error {
	if err := s.checkUTF8(at); err != nil {
		return err
	}
	line, col := s.lineCol(at)
	return &CSVError{Line: line, Column: col, Msg: msg}
}

// checkUTF8 validates buf[validated:upTo]. Callers pass record boundaries (or error positions),
// so a multi-byte character is never split.
func (s *CSVSplitter) checkUTF8(upTo int) error {
	if upTo <= s.validated {
		return nil
	}
	chunk := s.buf[s.validated:upTo]
	if utf8.Valid(chunk) {
		s.validated = upTo
		return nil
	}
	i := 0
	for i < len(chunk) {
		if chunk[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(chunk[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	line, col := s.lineCol(s.validated + i)
	return &CSVError{Line: line, Column: col, Msg: "invalid UTF-8"}
}

// lineCol converts a buffer position to a 1-based line and byte column. The data region
// buf[hdrLen:] always starts at the beginning of a line.
func (s *CSVSplitter) lineCol(p int) (line, col int) {
	start, line := s.hdrLen, s.baseLine
	if p < s.hdrLen {
		start, line = 0, 1
	}
	seg := s.buf[start:p]
	line += bytes.Count(seg, []byte{'\n'})
	if i := bytes.LastIndexByte(seg, '\n'); i >= 0 {
		return line, len(seg) - i
	}
	return line, len(seg) + 1
}
