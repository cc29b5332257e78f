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
	noHeader    bool
	checkFields bool
	sizeHint    int64
	// classify replaces csvClassifySIMD when classifySet (tests: nil walks the bytes).
	classify    csvClassifier
	classifySet bool
}

// SizeHint tells the splitter how large the input is (an S3 object's size, say), so that its
// part buffer is allocated once at the size it will need instead of growing by doubling: the
// outgrown buffers of a large file would otherwise stay resident as garbage until the next
// collection. A wrong hint costs nothing but that; 0 or less means unknown.
func SizeHint(n int64) SplitOption { return func(c *splitConfig) { c.sizeHint = n } }

// NoHeader makes the splitter treat the first row as data and start parts without a header.
// Data Cloud's bulk delete CSVs have no header row.
func NoHeader() SplitOption { return func(c *splitConfig) { c.noHeader = true } }

// csvReadChunk is the most one Read asks for. Reads go straight into the part buffer (the only
// copy of the data) and are scanned right after, while they are still in the L2 cache: 128 KiB
// measured faster than 256 KiB and 1 MiB reads (BenchmarkCSVSplitter, 8 MiB parts).
const csvReadChunk = 128 << 10

// csvScanWindow is how much the scanner checks per pass: each window is validated as UTF-8 and
// then walked while it is in the L1/L2 cache.
const csvScanWindow = 64 << 10

// csvMinBuffer is the initial part buffer; it grows geometrically up to maxPartBytes, so a
// small file never costs a full-sized part buffer.
const csvMinBuffer = 64 << 10

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
// Memory is constant: one part buffer (grown up to maxPartBytes, kept for the next splitter)
// that the input is read into directly and that is reused for every part; nothing is allocated
// per record. The scanner works per window of input. On CPUs with AVX2 (amd64) or NEON and
// PMULL (arm64, such as Lambda's Graviton) it classifies the data 64 bytes at a time into bit
// masks (line feeds, quotes, CRs, separators, quote parity) and runs the quoting rules, record
// and line counts on the masks, a few dozen word operations per 64 bytes whatever the data
// holds (csvmask.go). Elsewhere it validates UTF-8 as a whole (ASCII 64
// bytes at a time), makes one search per line end outside quotes (to tell blank lines) and one
// per quote, and counts the line ends inside a quoted field with one bytes.Count; both give the
// same parts and errors (FuzzCSVScanners). Because every quoted field holds an even number of
// quotes, a position is inside quotes exactly when an odd number of quotes precede it, so the
// cut point is found by searching backwards from the part limit, quote by quote, for the last
// line end outside quotes.
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
	// headerFields is the header's field count when records are checked against it (0: not).
	headerFields int
	checkFields  bool

	// buf[:hdrLen] is the header, then the data of the current part and up to two bytes read
	// ahead. It holds at most maxPart+2 bytes: the extra bytes tell whether more input follows
	// a full part, and let a blank line be recognised (and dropped) when a header fills a part.
	// Only buf[:maxPart] is scanned.
	buf        []byte
	hdrLen     int
	needHeader bool   // the header row has not ended yet
	header     []byte // owned copy for Header()
	baseLine   int    // line number of buf[hdrLen]

	// Scanner state over buf[hdrLen:pos] (buf[:pos] while the header is read).
	pos        int
	state      int
	quoteStart int // the opening quote of the quoted field being scanned
	inCounted  int // line ends inside the current quoted field are counted up to here
	validated  int // buf[:validated] is valid UTF-8
	recordEnds int // line ends outside quotes in buf[hdrLen:pos] that end a record (not a blank line)
	lineFeeds  int // '\n' bytes in buf[hdrLen:pos] (inside quotes: up to inCounted)

	records   int64 // records in parts returned so far
	bytesRead int64

	// classify, when not nil, classifies the data region's bytes for walkMasks into masks.
	classify csvClassifier
	masks    [csvMaskBatch * masksPerBlock]uint64

	carry int // the previous part was buf[:carry]: move buf[carry:] behind the header first
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
		r:           r,
		maxPart:     maxPartBytes,
		noHeader:    cfg.noHeader,
		needHeader:  !cfg.noHeader,
		checkFields: cfg.checkFields && !cfg.noHeader,
		baseLine:    1,
		classify:    csvClassifySIMD,
	}
	if cfg.classifySet {
		s.classify = cfg.classify
	}
	initial := csvMinBuffer
	if cfg.sizeHint > int64(initial) {
		initial = int(min(cfg.sizeHint+int64(len(utf8BOM)), int64(s.bufLimit())))
	}
	s.buf = csvGetBuffer(min(s.bufLimit(), initial))
	if err := s.start(); err != nil {
		s.fail(err)
		return nil, err
	}
	return s, nil
}

// bufLimit is the largest the buffer gets: a part and two bytes more (room for a BOM at least).
func (s *CSVSplitter) bufLimit() int { return max(s.maxPart+2, len(utf8BOM)) }

// csvSpare keeps the buffer of the last finished splitter for the next one: a Lambda
// invocation splitting many files one after another would otherwise allocate, zero and fault
// in a buffer of up to a part's size for each of them. Unlike a sync.Pool it survives garbage
// collections; it holds at most one idle buffer.
var csvSpare struct {
	sync.Mutex
	buf []byte
}

func csvGetBuffer(size int) []byte {
	csvSpare.Lock()
	b := csvSpare.buf
	csvSpare.buf = nil
	csvSpare.Unlock()
	if cap(b) >= size {
		return b[:0]
	}
	return make([]byte, 0, size)
}

func csvPutBuffer(b []byte) {
	csvSpare.Lock()
	if cap(b) > cap(csvSpare.buf) {
		csvSpare.buf = b[:0]
	}
	csvSpare.Unlock()
}

// fail records a sticky error and recycles the buffer: no part is valid after an error.
func (s *CSVSplitter) fail(err error) {
	s.err = err
	s.release()
}

func (s *CSVSplitter) release() {
	if s.buf != nil {
		csvPutBuffer(s.buf)
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
		if err := s.scan(min(len(s.buf), s.maxPart)); err != nil {
			return err
		}
		switch {
		case !s.needHeader:
		case s.atEOF():
			if err := s.finishEOF(); err != nil {
				return err
			}
		case len(s.buf) > s.maxPart:
			if err := s.validate(len(s.buf), s.eof); err != nil {
				return err
			}
			return &CSVError{Line: 1, Column: 1, Msg: fmt.Sprintf("header row is larger than the part size of %d bytes", s.maxPart)}
		default:
			if err := s.fill(); err != nil {
				return err
			}
		}
	}
	return nil
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
	if s.carry > 0 {
		s.dropTo(s.carry)
		s.carry = 0
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
		if err := s.scan(min(len(s.buf), s.maxPart)); err != nil {
			return nil, err
		}
		switch {
		case s.atEOF():
			if err := s.finishEOF(); err != nil {
				return nil, err
			}
			s.done = true
			if s.partRecords() == 0 {
				return nil, io.EOF
			}
			return s.emit(len(s.buf))
		case len(s.buf) > s.maxPart && (s.eof || len(s.buf) == s.bufLimit()):
			if part, err := s.full(); part != nil || err != nil {
				return part, err
			}
		default:
			if err := s.fill(); err != nil {
				return nil, err
			}
		}
	}
}

// atEOF reports whether all input is in the buffer and scanned.
func (s *CSVSplitter) atEOF() bool { return s.eof && len(s.buf) <= s.maxPart }

// partRecords is the number of records in the scanned data: line ends outside quotes that do
// not end a blank line.
func (s *CSVSplitter) partRecords() int { return s.recordEnds }

// full handles a full buffer, scanned up to maxPart: it returns the records up to the last line
// end outside quotes as a part, drops blank lines that have no record to travel with, or
// reports a record too large.
func (s *CSVSplitter) full() ([]byte, error) {
	cut := s.lastLineEnd(s.maxPart)
	if s.partRecords() > 0 {
		s.carry = cut
		return s.emit(cut)
	}
	if cut > s.hdrLen {
		s.dropTo(cut)
		return nil, nil
	}
	// A blank line in the read-ahead bytes has no record to travel with.
	switch rest := s.buf[s.hdrLen:]; {
	case rest[0] == '\n' || s.eof && string(rest) == "\r":
		s.dropTo(s.hdrLen + 1)
		return nil, nil
	case bytes.HasPrefix(rest, []byte("\r\n")):
		s.dropTo(s.hdrLen + 2)
		return nil, nil
	}
	if err := s.validate(len(s.buf), s.eof); err != nil {
		return nil, err
	}
	line, col := s.lineCol(s.hdrLen)
	msg := fmt.Sprintf("record is larger than the part size of %d bytes", s.maxPart)
	if !s.noHeader {
		msg = fmt.Sprintf("record does not fit in a part of %d bytes with the %d-byte header", s.maxPart, s.hdrLen)
	}
	return nil, &CSVError{Line: line, Column: col, Msg: msg}
}

// emit returns buf[:end] as a part; end is a record boundary and no record ends after it in
// the scanned bytes.
func (s *CSVSplitter) emit(end int) ([]byte, error) {
	if s.checkFields {
		if s.headerFields == 0 {
			s.headerFields = recordFields(bytes.TrimRight(s.header, "\r\n"))
		}
		check := checkFieldCounts
		if s.classify != nil {
			check = func(recs []byte, firstLine, want int) error {
				return checkFieldCountsMasks(s.classify, s.masks[:], recs, firstLine, want)
			}
		}
		if err := check(s.buf[s.hdrLen:end], s.baseLine, s.headerFields); err != nil {
			return nil, err
		}
	}
	s.records += int64(s.partRecords())
	return s.buf[:end], nil
}

// dropTo moves buf[from:] to just behind the header, where it is scanned again from the start
// of a record; the bytes before it (a returned part, or blank lines) are gone. from is a record
// boundary in the scanned bytes, so what is moved is at most a record and the read-ahead.
func (s *CSVSplitter) dropTo(from int) {
	if from <= s.pos {
		s.baseLine += s.lineFeeds - bytes.Count(s.buf[from:s.pos], []byte{'\n'})
	} else { // a blank line in the read-ahead bytes
		s.baseLine += s.lineFeeds + bytes.Count(s.buf[s.pos:from], []byte{'\n'})
	}
	n := copy(s.buf[s.hdrLen:], s.buf[from:])
	s.buf = s.buf[:s.hdrLen+n]
	s.pos, s.state, s.validated = s.hdrLen, csvOutside, s.hdrLen
	s.recordEnds, s.lineFeeds = 0, 0
}

// fill reads more input straight into the buffer, growing it up to bufLimit.
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
