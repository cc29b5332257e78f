package datacloud

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// jsonScanner validates JSON and reports where values are, without decoding them: what
// RawBatch needs to pass Data Cloud's values on as they came.
type jsonScanner struct {
	b     []byte
	i     int
	depth int
	ws    int  // whitespace bytes skipped so far
	dirty bool // the last string held invalid UTF-8
}

// maxScanDepth bounds nesting, as encoding/json does.
const maxScanDepth = 10000

// plain marks the bytes a string may hold without a closer look.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

var errScanEnd = errors.New("unexpected end of JSON input")

func (s *jsonScanner) errorf(format string, a ...any) error {
	return fmt.Errorf("offset %d: "+format, append([]any{s.i}, a...)...)
}

// skipWS skips JSON whitespace.
func (s *jsonScanner) skipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
			s.ws++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace.
func (s *jsonScanner) peek() (byte, error) {
	s.skipWS()
	if s.i >= len(s.b) {
		return 0, errScanEnd
	}
	return s.b[s.i], nil
}

// expect consumes c after whitespace.
func (s *jsonScanner) expect(c byte) error {
	got, err := s.peek()
	if err != nil {
		return err
	}
	if got != c {
		return s.errorf("want %q, found %q", c, got)
	}
	s.i++
	return nil
}

// value skips one value starting at s.i (no leading whitespace) and returns its end.
// dirty reports a string with invalid UTF-8 anywhere in it.
func (s *jsonScanner) value() (end int, err error) {
	if s.i >= len(s.b) {
		return 0, errScanEnd
	}
	switch c := s.b[s.i]; {
	case c == '"':
		err = s.str()
	case c == '[':
		err = s.container('[', ']')
	case c == '{':
		err = s.container('{', '}')
	case c == 't':
		err = s.literal("true")
	case c == 'f':
		err = s.literal("false")
	case c == 'n':
		err = s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		err = s.number()
	default:
		err = s.errorf("invalid character %q looking for a value", c)
	}
	return s.i, err
}

func (s *jsonScanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.errorf("invalid literal, want %s", lit)
	}
	s.i += len(lit)
	return nil
}

// str skips a string, checking escapes, control characters and UTF-8.
func (s *jsonScanner) str() error {
	start := s.i
	s.i++
	high := false
	for {
		for s.i < len(s.b) && plain[s.b[s.i]] {
			s.i++
		}
		if s.i >= len(s.b) {
			return errScanEnd
		}
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			if high && !utf8.Valid(s.b[start:s.i]) {
				s.dirty = true
			}
			return nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return errScanEnd
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if len(s.b)-s.i < 6 {
					return errScanEnd
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHexDigit(h) {
						return s.errorf("invalid \\u escape")
					}
				}
				s.i += 6
			default:
				return s.errorf("invalid escape \\%c", s.b[s.i+1])
			}
		case c < 0x20:
			return s.errorf("control character %#x in string", c)
		default: // c >= 0x80
			high = true
			s.i++
		}
	}
}

func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number skips a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return s.errorf("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.errorf("invalid number: no digits after the decimal point")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.errorf("invalid number: no digits in the exponent")
		}
	}
	return nil
}

func (s *jsonScanner) digits() int {
	from := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - from
}

// container skips an array or an object.
func (s *jsonScanner) container(open, closing byte) error {
	return s.list(closing, func() error {
		if open == '{' {
			if _, err := s.key(); err != nil {
				return err
			}
		}
		_, err := s.value()
		return err
	})
}

// key skips an object key and its colon, up to the value, and returns where the key (a
// string starting at s.i) ends.
func (s *jsonScanner) key() (end int, err error) {
	if s.b[s.i] != '"' {
		return 0, s.errorf("want an object key, found %q", s.b[s.i])
	}
	if err := s.str(); err != nil {
		return 0, err
	}
	end = s.i
	if err := s.expect(':'); err != nil {
		return 0, err
	}
	_, err = s.peek()
	return end, err
}

// list scans the members of an array or object whose opening byte is at s.i; member
// scans one member, from its first byte.
func (s *jsonScanner) list(closing byte, member func() error) error {
	if s.depth++; s.depth > maxScanDepth {
		return s.errorf("nested too deeply")
	}
	defer func() { s.depth-- }()
	s.i++
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c == closing {
		s.i++
		return nil
	}
	for {
		if err := member(); err != nil {
			return err
		}
		if c, err = s.peek(); err != nil {
			return err
		}
		s.i++
		switch c {
		case closing:
			return nil
		case ',':
			if _, err := s.peek(); err != nil {
				return err
			}
		default:
			return s.errorf("want ',' or %q, found %q", closing, c)
		}
	}
}
