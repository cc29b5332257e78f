package datacloud

import (
	"bytes"
	"unicode/utf8"
)

// The CSVSplitter's scanner: record boundaries, RFC 4180 quoting rules, UTF-8 validation and
// error positions.

// scan advances over buf[pos:min(len, maxPart)], committing every record that ends there.
func (s *CSVSplitter) scan() error {
	buf := s.buf[:min(len(s.buf), s.maxPart)]
	n := len(buf)
	p := s.pos
	for p < n {
		switch s.state {
		case csvOutside:
			// The hot path: one search for a quote over everything buffered, then the line
			// ends before it are records (or blank lines).
			seg := buf[p:]
			q := bytes.IndexByte(seg, '"')
			if q >= 0 {
				seg = seg[:q]
			}
			if err := s.commitLines(p, seg); err != nil {
				return err
			}
			if q < 0 {
				p = n
				continue
			}
			at := p + q
			if at != s.recStart && buf[at-1] != ',' {
				return s.failAt(at, `bare " in non-quoted field`)
			}
			s.quoteStart = at
			s.state = csvQuoted
			p = at + 1
		case csvQuoted:
			q := bytes.IndexByte(buf[p:], '"')
			if q < 0 {
				p = n
				continue
			}
			p += q + 1
			s.state = csvQuoteSeen
		case csvQuoteSeen:
			switch buf[p] {
			case '"':
				s.state = csvQuoted
			case ',':
				s.state = csvOutside
			case '\n':
				s.state = csvOutside
				if err := s.commit(p+1, false); err != nil {
					return err
				}
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
			if err := s.commit(p, false); err != nil {
				return err
			}
		}
	}
	s.pos = p
	return nil
}

// commitLines commits the records ended by the line ends in seg, a run of bytes outside quotes
// starting at buffer position p.
func (s *CSVSplitter) commitLines(p int, seg []byte) error {
	first := bytes.IndexByte(seg, '\n')
	if first < 0 {
		return nil
	}
	if err := s.commit(p+first+1, s.isBlank(p+first+1)); err != nil {
		return err
	}
	// One pass over the line ends: a line is blank when it is empty or a lone '\r'.
	records := 0
	i := first + 1
	for {
		j := bytes.IndexByte(seg[i:], '\n')
		if j < 0 {
			break
		}
		if j > 1 || j == 1 && seg[i] != '\r' {
			records++
		}
		i += j + 1
	}
	s.partRecords += records
	s.committed = p + i
	s.recStart = s.committed
	return nil
}

// isBlank reports whether the record from recStart to end (after its '\n') is an empty line.
func (s *CSVSplitter) isBlank(end int) bool {
	size := end - s.recStart
	return size == 1 || size == 2 && s.buf[s.recStart] == '\r'
}

// commit ends the record being scanned at end; the first one is the header row.
func (s *CSVSplitter) commit(end int, blank bool) error {
	if !s.needHeader {
		s.commitPlain(end, blank)
		return nil
	}
	if blank {
		return &CSVError{Line: 1, Column: 1, Msg: "header row is blank"}
	}
	s.needHeader = false
	s.header = bytes.Clone(s.buf[:end])
	s.hdrLen, s.committed, s.recStart = end, end, end
	s.baseLine = 1 + bytes.Count(s.header, []byte{'\n'})
	return nil
}

func (s *CSVSplitter) commitPlain(end int, blank bool) {
	s.committed, s.recStart = end, end
	if !blank {
		s.partRecords++
	}
}

// finishEOF ends the last record at the end of the input, which may lack a line ending.
func (s *CSVSplitter) finishEOF() error {
	n := len(s.buf)
	switch s.state {
	case csvQuoted:
		if err := s.checkUTF8(n); err != nil {
			return err
		}
		line, col := s.lineCol(s.quoteStart)
		return &CSVError{Line: line, Column: col, Msg: "quoted field is not terminated"}
	case csvOutside:
		if s.recStart == n {
			return nil
		}
		// encoding/csv drops a '\r' before EOF, so a lone "\r" is an empty line.
		return s.commit(n, n-s.recStart == 1 && s.buf[s.recStart] == '\r')
	}
	s.state = csvOutside
	return s.commit(n, false)
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
