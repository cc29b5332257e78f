package datacloud

import (
	"bytes"
	"fmt"
	"io"
	"sync"
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

// csvBufPool recycles part buffers between splitters (one per file): a Lambda invocation
// splitting many files would otherwise allocate, zero and grow a buffer of up to a part's size
// for each of them.
var csvBufPool sync.Pool // of *[]byte

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Scanner states.
const (
	csvOutside   = iota // outside quotes: in an unquoted field or at the start of a field
	csvQuoted           // inside a quoted field
	csvQuoteSeen        // just after a '"' inside a quoted field: escaped quote or closing quote
	csvQuoteCR          // after a closing quote and a '\r': only '\n' or EOF may follow
)

// CSVSplitter cuts an RFC 4180 CSV stream into parts of at most maxPartBytes bytes for bulk
// uploads. Each part starts with the header row (unless NoHeader) followed by whole records,
// byte for byte as they appear in the input: quoted fields may hold commas, doubled quotes, CR
// and LF; line endings are preserved, including a missing final newline. Parts are as full as
// the record boundaries allow.
//
// Memory is constant: one part buffer (grown up to maxPartBytes, recycled between splitters)
// that is reused for every part; nothing is allocated per record. The scanner searches whole
// runs of bytes outside quotes at once (bytes.IndexByte), so an unquoted record costs one
// search for its line end.
//
// Input rules:
//   - a UTF-8 byte order mark at the start is dropped, so the first field name matches the
//     object's field name;
//   - the input must be valid UTF-8;
//   - a quote may only open a field; inside a quoted field a quote is doubled; a closing quote
//     is followed by a comma, a line ending or the end of the input (as encoding/csv without
//     LazyQuotes); a lone CR outside quotes is field data, as in encoding/csv;
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

	// buf[:hdrLen] is the header, then the records of the current part. It holds at most
	// maxPart+2 bytes: the extra bytes tell a record that ends exactly at the part size from
	// one that goes on, and a blank line from a record. Only buf[:maxPart] is scanned.
	buf        []byte
	hdrLen     int
	needHeader bool   // the header row has not ended yet
	header     []byte // owned copy for Header()
	committed  int    // end of the last complete record (or blank line) in buf
	validated  int    // buf[:validated] is known to be valid UTF-8
	baseLine   int    // line number of buf[hdrLen]

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
		r:          r,
		maxPart:    maxPartBytes,
		noHeader:   cfg.noHeader,
		needHeader: !cfg.noHeader,
		baseLine:   1,
	}
	s.buf = csvGetBuffer(min(s.bufLimit(), csvMinBuffer))
	if err := s.start(); err != nil {
		s.fail(err)
		return nil, err
	}
	return s, nil
}

// bufLimit is the largest the buffer gets: a part and two bytes more (room for a BOM at least).
func (s *CSVSplitter) bufLimit() int { return max(s.maxPart+2, len(utf8BOM)) }

func csvGetBuffer(size int) []byte {
	if p, ok := csvBufPool.Get().(*[]byte); ok && cap(*p) >= size {
		return (*p)[:0]
	}
	return make([]byte, 0, size)
}

// fail records a sticky error and recycles the buffer: no part is valid after an error.
func (s *CSVSplitter) fail(err error) {
	s.err = err
	s.release()
}

func (s *CSVSplitter) release() {
	if s.buf != nil {
		b := s.buf[:0]
		csvBufPool.Put(&b)
		s.buf = nil
	}
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
	if len(s.buf) == 0 {
		return &CSVError{Line: 1, Column: 1, Msg: "empty file"}
	}
	for s.needHeader {
		if err := s.scan(); err != nil {
			return err
		}
		switch {
		case !s.needHeader:
		case s.atEOF():
			if err := s.finishEOF(); err != nil {
				return err
			}
		case len(s.buf) > s.maxPart:
			if err := s.checkUTF8(len(s.buf)); err != nil {
				return err
			}
			return &CSVError{Line: 1, Column: 1, Msg: fmt.Sprintf("header row is larger than the part size of %d bytes", s.maxPart)}
		default:
			if err := s.fill(); err != nil {
				return err
			}
		}
	}
	return s.checkUTF8(s.hdrLen)
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
		s.release()
		return nil, io.EOF
	}
	if s.carry {
		s.dropTo(s.committed)
		s.carry = false
	}
	part, err := s.next()
	if err == io.EOF {
		s.release()
		return nil, err
	}
	if err != nil {
		s.fail(err)
		return nil, err
	}
	return part, nil
}

func (s *CSVSplitter) next() ([]byte, error) {
	for {
		if err := s.scan(); err != nil {
			return nil, err
		}
		switch {
		case s.atEOF():
			if err := s.finishEOF(); err != nil {
				return nil, err
			}
			s.done = true
			if s.partRecords == 0 {
				return nil, io.EOF
			}
			if err := s.checkUTF8(s.committed); err != nil {
				return nil, err
			}
			return s.emit(), nil
		case len(s.buf) > s.maxPart && (s.eof || len(s.buf) == s.bufLimit()):
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

// atEOF reports whether all input is in the buffer and scanned.
func (s *CSVSplitter) atEOF() bool { return s.eof && len(s.buf) <= s.maxPart }

// full handles a full buffer whose pending record does not fit: it returns the current part,
// makes room by dropping blank lines that have no record to travel with, or reports a record
// too large.
func (s *CSVSplitter) full() ([]byte, error) {
	if s.partRecords > 0 {
		if err := s.checkUTF8(s.committed); err != nil {
			return nil, err
		}
		s.carry = true
		return s.emit(), nil
	}
	if s.committed > s.hdrLen {
		s.dropTo(s.committed)
		return nil, nil
	}
	// A blank line in the extra bytes has no record to travel with.
	switch rest := s.buf[s.recStart:]; {
	case rest[0] == '\n' || s.eof && string(rest) == "\r":
		s.dropTo(s.recStart + 1)
		return nil, nil
	case bytes.HasPrefix(rest, []byte("\r\n")):
		s.dropTo(s.recStart + 2)
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

// dropTo moves buf[from:] to just behind the header, adjusting the positions; the bytes before
// it (a returned part, or blank lines) are gone.
func (s *CSVSplitter) dropTo(from int) {
	d := from - s.hdrLen
	if d == 0 {
		return
	}
	s.baseLine += bytes.Count(s.buf[s.hdrLen:from], []byte{'\n'})
	n := copy(s.buf[s.hdrLen:], s.buf[from:])
	s.buf = s.buf[:s.hdrLen+n]
	s.committed = s.hdrLen
	s.validated = max(s.validated-d, s.hdrLen)
	if s.pos < from { // a dropped blank line was being scanned
		s.recStart, s.pos, s.state = from, from, csvOutside
	}
	s.recStart -= d
	s.pos -= d
	s.quoteStart -= d
}

// fill reads more input into the buffer, growing it up to bufLimit.
func (s *CSVSplitter) fill() error {
	if s.eof {
		return nil
	}
	limit := s.bufLimit()
	if len(s.buf) == cap(s.buf) {
		nb := make([]byte, len(s.buf), min(2*cap(s.buf), limit))
		copy(nb, s.buf)
		s.buf = nb
	}
	end := min(cap(s.buf), len(s.buf)+csvReadChunk, limit)
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
