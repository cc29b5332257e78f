package datacloud

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// The CSVSplitter's scanner: record counts, RFC 4180 quoting rules, UTF-8 validation, cut
// points and error positions. It works per window of input with whole-buffer searches and
// touches single bytes only next to quotes.

// scan advances the scanner over buf[pos:end] window by window. Each window is first
// validated as UTF-8, then walked: in the data region, with a classifier, as blocks of masks
// (walkMasks; the classifier's ASCII test then spares most of the UTF-8 check) and the
// window's last bytes by walk.
func (s *CSVSplitter) scan(end int) error {
	for s.pos < end {
		w := min(end, s.pos+csvScanWindow)
		masked := 0
		if s.classify != nil && !s.needHeader {
			// One block more than walkMasks walks: it reads the masks of the block after.
			w = min(end, s.pos+csvMaskBatch*csvBlock)
			masked = (w - s.pos) / csvBlock * csvBlock
			// All ASCII: valid, unless validation is behind pos (a character cut off at the end
			// of the last window is checked when the window after it is).
			if masked > 0 && !s.classify(s.masks[:], s.buf[s.pos:s.pos+masked]) && s.validated >= s.pos {
				s.validated = max(s.validated, s.pos+masked)
			}
		}
		limit := w
		bad := s.checkUTF8(w, w == len(s.buf) && s.eof)
		if bad >= 0 {
			// Report whichever error comes first in the input. (The walk may already be past
			// a character that the previous window cut off.)
			if bad <= s.pos {
				return s.utf8Error(bad)
			}
			limit = bad
		}
		if masked > 0 {
			if err := s.walkMasks(s.masks[:masked/csvBlock*masksPerBlock], limit); err != nil {
				return err
			}
		}
		if err := s.walk(limit); err != nil {
			return err
		}
		if bad >= 0 {
			return s.utf8Error(bad)
		}
	}
	return nil
}

// walk runs the quote state machine over buf[pos:end]. Runs of bytes outside quotes and the
// insides of quoted fields are each handled by one search; only the bytes after a quote are
// looked at one by one.
func (s *CSVSplitter) walk(end int) error {
	buf := s.buf[:end]
	p := s.pos
	for p < end {
		switch s.state {
		case csvOutside:
			q := bytes.IndexByte(buf[p:], '"')
			if q < 0 {
				if err := s.outside(p, end); err != nil {
					return err
				}
				p = end
				continue
			}
			at := p + q
			if err := s.outside(p, at); err != nil {
				return err
			}
			// A quote opens a field: at the start of the input, a line or after a comma. A
			// line end just before it is outside quotes, or this quote would not be outside.
			if at > 0 && buf[at-1] != ',' && buf[at-1] != '\n' {
				return s.failAt(at, `bare " in non-quoted field`)
			}
			s.quoteStart, s.inCounted = at, at+1
			s.state = csvQuoted
			p = at + 1
		case csvQuoted:
			q := bytes.IndexByte(buf[p:], '"')
			if q < 0 {
				p = end
				continue
			}
			p += q + 1
			s.state = csvQuoteSeen
		case csvQuoteSeen:
			c := buf[p]
			if c == '"' { // a doubled quote
				s.state = csvQuoted
				p++
				continue
			}
			// p-1 closed the field.
			s.lineFeeds += bytes.Count(buf[s.inCounted:p-1], lfByte)
			switch c {
			case ',':
				s.state = csvOutside
			case '\n':
				s.state = csvOutside
				s.endLine(p + 1)
			case '\r':
				s.state = csvQuoteCR
			default:
				return s.failAt(p-1, `extraneous or missing " in quoted field`)
			}
			p++
		case csvQuoteCR:
			if buf[p] != '\n' {
				return s.failAt(p-2, `extraneous or missing " in quoted field`)
			}
			p++
			s.state = csvOutside
			s.endLine(p)
		}
	}
	// Count the line ends of an open quoted field now: dropTo needs them all up to pos.
	switch {
	case s.state == csvQuoted && s.inCounted < end:
		s.lineFeeds += bytes.Count(buf[s.inCounted:end], lfByte)
		s.inCounted = end
	case s.state == csvQuoteSeen && s.inCounted < p-1:
		s.lineFeeds += bytes.Count(buf[s.inCounted:p-1], lfByte)
		s.inCounted = p - 1
	}
	s.pos = p
	return nil
}

// endLine counts a line end outside quotes just before end, in a line that holds a quote (so
// it is not blank).
func (s *CSVSplitter) endLine(end int) {
	if s.needHeader {
		s.endHeader(end)
		return
	}
	s.recordEnds++
	s.lineFeeds++
}

// endHeader makes buf[:end] the header row.
func (s *CSVSplitter) endHeader(end int) {
	s.needHeader = false
	s.header = bytes.Clone(s.buf[:end])
	s.hdrLen = end
	s.baseLine = 1 + bytes.Count(s.header, []byte{'\n'})
	s.recordEnds, s.lineFeeds = 0, 0
}

// outside counts the line ends in buf[from:to], a run of bytes outside quotes, and the blank
// lines among them. It costs one search per line; a line is blank when it is empty or a lone CR.
func (s *CSVSplitter) outside(from, to int) error {
	buf := s.buf[:to]
	if s.needHeader {
		i := bytes.IndexByte(buf[from:], '\n')
		if i < 0 {
			return nil
		}
		end := from + i + 1
		if end == 1 || end == 2 && buf[0] == '\r' {
			return &CSVError{Line: 1, Column: 1, Msg: "header row is blank"}
		}
		s.endHeader(end)
		from = end
	}
	h := s.hdrLen
	for i := from; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return nil
		}
		e := i + j
		s.lineFeeds++
		// The bytes before a line end outside quotes are outside quotes too, unless one is a
		// closing quote, which matches neither test.
		if !(e == h || buf[e-1] == '\n' || buf[e-1] == '\r' && (e-1 == h || buf[e-2] == '\n')) {
			s.recordEnds++
		}
		i = e + 1
	}
}

// lastLineEnd returns the end of the last line outside quotes in buf[hdrLen:end], or hdrLen if
// there is none; the scanner's state is the one at end. A position is inside quotes exactly
// when an odd number of quotes lie between it and the start of the data, so the search walks
// back quote by quote from end, toggling.
func (s *CSVSplitter) lastLineEnd(end int) int {
	inQuotes := s.state == csvQuoted
	lo := s.hdrLen
	for end > lo {
		q := bytes.LastIndexByte(s.buf[lo:end], '"')
		from := lo + q + 1 // lo when there is no quote
		if !inQuotes {
			if i := bytes.LastIndexByte(s.buf[from:end], '\n'); i >= 0 {
				return from + i + 1
			}
		}
		if q < 0 {
			break
		}
		end = lo + q
		inQuotes = !inQuotes
	}
	return lo
}

// finishEOF ends the last record at the end of the input, which may lack a line ending.
func (s *CSVSplitter) finishEOF() error {
	n := len(s.buf)
	if err := s.validate(n, true); err != nil {
		return err
	}
	switch s.state {
	case csvQuoted:
		line, col := s.lineCol(s.quoteStart)
		return &CSVError{Line: line, Column: col, Msg: "quoted field is not terminated"}
	case csvQuoteSeen:
		s.lineFeeds += bytes.Count(s.buf[s.inCounted:n-1], lfByte)
	}
	start := s.lastLineEnd(n)
	s.state = csvOutside
	s.pos = n
	if start == n {
		return nil
	}
	// encoding/csv drops a '\r' before EOF, so a lone "\r" is an empty line.
	blank := n-start == 1 && s.buf[start] == '\r'
	if s.needHeader {
		if blank {
			return &CSVError{Line: 1, Column: 1, Msg: "header row is blank"}
		}
		s.endHeader(n)
		return nil
	}
	if !blank {
		s.recordEnds++ // the last record ends at EOF instead of a line end
	}
	return nil
}

// failAt reports a syntax error at buffer position at.
func (s *CSVSplitter) failAt(at int, msg string) error {
	line, col := s.lineCol(at)
	return &CSVError{Line: line, Column: col, Msg: msg}
}

// checkUTF8 validates buf[validated:upTo] and returns the position of the first invalid byte,
// or -1. Unless final, a character cut off at upTo is left for the next call.
func (s *CSVSplitter) checkUTF8(upTo int, final bool) int {
	if upTo <= s.validated {
		return -1
	}
	if !final {
		upTo = runeStart(s.buf[:upTo], s.validated)
	}
	chunk := s.buf[s.validated:upTo]
	if csvASCII(chunk) || utf8.Valid(chunk) {
		s.validated = upTo
		return -1
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
	return s.validated + i
}

// validate is checkUTF8 as an error.
func (s *CSVSplitter) validate(upTo int, final bool) error {
	if bad := s.checkUTF8(upTo, final); bad >= 0 {
		return s.utf8Error(bad)
	}
	return nil
}

func (s *CSVSplitter) utf8Error(at int) error {
	line, col := s.lineCol(at)
	return &CSVError{Line: line, Column: col, Msg: "invalid UTF-8"}
}

// csvASCII reports whether b is all ASCII, 64 bytes per step; it is the common case and faster
// than utf8.Valid's fast path.
func csvASCII(b []byte) bool {
	const hi = 0x8080808080808080
	for len(b) >= 64 {
		c := b[:64]
		x := binary.LittleEndian.Uint64(c) | binary.LittleEndian.Uint64(c[8:]) |
			binary.LittleEndian.Uint64(c[16:]) | binary.LittleEndian.Uint64(c[24:]) |
			binary.LittleEndian.Uint64(c[32:]) | binary.LittleEndian.Uint64(c[40:]) |
			binary.LittleEndian.Uint64(c[48:]) | binary.LittleEndian.Uint64(c[56:])
		if x&hi != 0 {
			return false
		}
		b = b[64:]
	}
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// runeStart returns len(b), or the start of a multi-byte character that b cuts off (not before
// lo).
func runeStart(b []byte, lo int) int {
	for i := len(b) - 1; i >= max(lo, len(b)-utf8.UTFMax+1); i-- {
		c := b[i]
		if c < utf8.RuneSelf {
			return len(b)
		}
		if c >= 0xC0 { // a leading byte: is its character complete?
			need := 2
			if c >= 0xF0 {
				need = 4
			} else if c >= 0xE0 {
				need = 3
			}
			if len(b)-i < need {
				return i
			}
			return len(b)
		}
	}
	return len(b)
}

// lineCol converts a buffer position to a 1-based line and byte column. The data region
// buf[hdrLen:] always starts at the beginning of a line.
func (s *CSVSplitter) lineCol(p int) (line, col int) {
	start, line := s.hdrLen, s.baseLine
	if p < s.hdrLen || s.needHeader {
		start, line = 0, 1
	}
	seg := s.buf[start:p]
	line += bytes.Count(seg, []byte{'\n'})
	if i := bytes.LastIndexByte(seg, '\n'); i >= 0 {
		return line, len(seg) - i
	}
	return line, len(seg) + 1
}
