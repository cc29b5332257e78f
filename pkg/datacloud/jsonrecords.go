package datacloud

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// RecordError reports malformed JSON input. Line and Column (1-based, in bytes) point at the
// offending byte, or at the start of the offending record.
type RecordError struct {
	Line, Column int
	Msg          string
}

// Error implements error.
func (e *RecordError) Error() string {
	return fmt.Sprintf("datacloud: json: line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// RecordFormat selects how a RecordReader finds records.
type RecordFormat int

const (
	// FormatJSON is a top-level array of records, or an object {"data": [records]}.
	FormatJSON RecordFormat = iota + 1
	// FormatJSONLines is one JSON value per line (JSONL / NDJSON); blank lines are skipped and
	// CRLF line endings accepted.
	FormatJSONLines
)

// DefaultMaxRecordBytes bounds one record so that a malformed or hostile file cannot make the
// reader buffer without limit. It is far above the streaming body limit, so oversized records
// normally reach the Packer and fail there with *RecordTooLargeError.
const DefaultMaxRecordBytes = 16 << 20

// RecordOption configures a RecordReader.
type RecordOption func(*RecordReader)

// WithMaxRecordBytes sets the largest record (as it appears in the input) the reader accepts.
func WithMaxRecordBytes(n int) RecordOption { return func(r *RecordReader) { r.maxRecord = n } }

// Reader states for FormatJSON.
const (
	jsonStart      = iota
	jsonArrayFirst // after '[': a value or ']'
	jsonArrayNext  // after a value: ',' or ']'
	jsonDone
)

// RecordReader streams records out of a .json or .jsonl input without loading it whole: memory
// is bounded by the largest record. Each record is validated (JSON syntax and UTF-8) and
// compacted. A UTF-8 byte order mark at the start is ignored. Input with no records (an empty
// array, {"data": []}, only whitespace, or nothing at all) ends with io.EOF and no error; the
// caller decides whether an empty input is acceptable.
type RecordReader struct {
	br        *bufio.Reader
	format    RecordFormat
	maxRecord int

	line, col int // position of the next unread byte: line (1-based), bytes consumed on it

	state   int
	wrapped bool // {"data": [...]}
	bomDone bool
	stack   []byte       // expected closing brackets while scanning a composite value
	rec     []byte       // the raw record
	out     bytes.Buffer // encoding/json's compaction, when compactRecord declined
	compact []byte       // compactRecord's output, reused
	recLine int
	recCol  int
	valAt   int // offset of the value in rec (JSONL lines may start with blanks)
	records int64
	read    int64
	err     error
}

// NewRecordReader returns a reader of records in the given format.
func NewRecordReader(r io.Reader, format RecordFormat, opts ...RecordOption) *RecordReader {
	rr := &RecordReader{br: bufio.NewReaderSize(r, 64<<10), format: format, maxRecord: DefaultMaxRecordBytes, line: 1}
	for _, o := range opts {
		o(rr)
	}
	return rr
}

// Records returns the number of records returned so far.
func (r *RecordReader) Records() int64 { return r.records }

// Bytes returns the number of input bytes consumed so far.
func (r *RecordReader) Bytes() int64 { return r.read }

// Next returns the next record, compact and validated, which must be a JSON object. The slice
// is valid until the next call to Next; copy it to keep it. At the end of the input Next
// returns io.EOF; malformed input yields *RecordError.
func (r *RecordReader) Next() (json.RawMessage, error) {
	return r.nextKind('{', "record is not a JSON object")
}

// ReadIDs calls fn with each id of a delete file, whose records must be non-empty JSON strings.
// It returns nil at the end of the input, the first *RecordError, or fn's error unchanged.
func ReadIDs(rr *RecordReader, fn func(id string) error) error {
	for {
		raw, err := rr.nextKind('"', "id is not a JSON string")
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var id string
		if err := json.Unmarshal(raw, &id); err != nil { // cannot fail: raw is a valid string
			return rr.errAt(rr.valAt, err.Error())
		}
		if id == "" {
			return rr.errAt(rr.valAt, "id is empty")
		}
		if err := fn(id); err != nil {
			return err
		}
	}
}

func (r *RecordReader) nextKind(first byte, wrongKind string) (json.RawMessage, error) {
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.next()
	if err == nil && rec[0] != first {
		err = r.errAt(r.valAt, wrongKind)
	}
	if err != nil {
		r.err = err
		return nil, err
	}
	r.records++
	return rec, nil
}

func (r *RecordReader) next() (json.RawMessage, error) {
	if !r.bomDone {
		r.bomDone = true
		if b, _ := r.br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
			r.br.Discard(len(utf8BOM))
			r.read += int64(len(utf8BOM))
		}
	}
	if r.format == FormatJSONLines {
		return r.nextLine()
	}
	if r.format != FormatJSON {
		return nil, fmt.Errorf("datacloud: json: unknown record format %d", r.format)
	}
	return r.nextElement()
}

// nextLine reads FormatJSONLines: one value per line.
func (r *RecordReader) nextLine() (json.RawMessage, error) {
	for {
		r.rec = r.rec[:0]
		r.recLine, r.recCol = r.line, 1
		for {
			chunk, err := r.br.ReadSlice('\n')
			r.read += int64(len(chunk))
			r.rec = append(r.rec, chunk...)
			if len(r.rec) > r.maxRecord {
				return nil, r.errAt(0, fmt.Sprintf("record is larger than %d bytes", r.maxRecord))
			}
			if err == nil {
				r.line++
				break
			}
			if err == io.EOF {
				if len(r.rec) == 0 {
					return nil, io.EOF
				}
				break
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				return nil, fmt.Errorf("datacloud: json: read: %w", err)
			}
		}
		start := 0
		for start < len(r.rec) && isJSONSpace(r.rec[start]) {
			start++
		}
		end := len(r.rec)
		for end > start && isJSONSpace(r.rec[end-1]) {
			end--
		}
		if start == end {
			continue // blank line
		}
		return r.finish(start, end)
	}
}

// nextElement reads FormatJSON: the next element of the top-level array.
func (r *RecordReader) nextElement() (json.RawMessage, error) {
	for {
		c, err := r.skipSpace()
		if err != nil {
			return nil, err
		}
		switch r.state {
		case jsonStart:
			switch c {
			case -1:
				r.state = jsonDone
				return nil, io.EOF
			case '[':
				r.consume(1)
				r.state = jsonArrayFirst
			case '{':
				r.consume(1)
				if err := r.readWrapperHead(); err != nil {
					return nil, err
				}
				r.wrapped = true
				r.state = jsonArrayFirst
			default:
				return nil, r.errHere(`expected a JSON array of records or an object {"data": [...]}`)
			}
		case jsonArrayFirst, jsonArrayNext:
			switch {
			case c == ']':
				r.consume(1)
				if err := r.readTail(); err != nil {
					return nil, err
				}
				r.state = jsonDone
				return nil, io.EOF
			case r.state == jsonArrayNext && c == ',':
				r.consume(1)
				c, err := r.skipSpace()
				if err != nil {
					return nil, err
				}
				if c == ']' || c == -1 {
					return nil, r.errHere("expected a record after ','")
				}
				return r.readValue()
			case r.state == jsonArrayNext:
				return nil, r.errHere("expected ',' or ']' after a record")
			case c == -1:
				return nil, r.errHere("unexpected end of input in the array")
			default:
				r.state = jsonArrayNext
				return r.readValue()
			}
		case jsonDone:
			return nil, io.EOF
		}
	}
}

// readWrapperHead reads `"data" :` `[` after the opening brace of {"data": [...]}.
func (r *RecordReader) readWrapperHead() error {
	c, err := r.skipSpace()
	if err != nil {
		return err
	}
	if c != '"' {
		return r.errHere(`expected the key "data"`)
	}
	line, col := r.line, r.col+1
	raw, err := r.readValue()
	if err != nil {
		return err
	}
	var key string
	if json.Unmarshal(raw, &key) != nil || key != "data" {
		return &RecordError{Line: line, Column: col, Msg: `expected the key "data"`}
	}
	if c, err = r.skipSpace(); err != nil {
		return err
	}
	if c != ':' {
		return r.errHere(`expected ':' after "data"`)
	}
	r.consume(1)
	if c, err = r.skipSpace(); err != nil {
		return err
	}
	if c != '[' {
		return r.errHere(`"data" must be an array of records`)
	}
	r.consume(1)
	return nil
}

// readTail checks what follows the closing bracket: '}' for the wrapper, then only whitespace.
func (r *RecordReader) readTail() error {
	c, err := r.skipSpace()
	if err != nil {
		return err
	}
	if r.wrapped {
		if c != '}' {
			return r.errHere(`expected '}' after the "data" array`)
		}
		r.consume(1)
		if c, err = r.skipSpace(); err != nil {
			return err
		}
	}
	if c != -1 {
		return r.errHere("unexpected data after the records")
	}
	return nil
}

// skipSpace skips JSON whitespace and returns the next byte without consuming it, or -1 at EOF.
func (r *RecordReader) skipSpace() (int, error) {
	for {
		buf, err := r.br.Peek(1)
		if len(buf) == 0 {
			if err == io.EOF {
				return -1, nil
			}
			return 0, fmt.Errorf("datacloud: json: read: %w", err)
		}
		buf, _ = r.br.Peek(r.br.Buffered())
		i := 0
		for i < len(buf) && isJSONSpace(buf[i]) {
			i++
		}
		r.track(buf[:i])
		r.br.Discard(i)
		if i < len(buf) {
			return int(buf[i]), nil
		}
	}
}

// consume discards n bytes already peeked (none of them a newline).
func (r *RecordReader) consume(n int) {
	r.br.Discard(n)
	r.col += n
	r.read += int64(n)
}

// track advances the position over consumed bytes.
func (r *RecordReader) track(b []byte) {
	r.read += int64(len(b))
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		r.line += bytes.Count(b[:i+1], []byte{'\n'})
		r.col = len(b) - i - 1
		return
	}
	r.col += len(b)
}

// readValue reads one JSON value starting at the next byte (not whitespace) into r.rec: a
// composite value up to its matching bracket, a string up to its closing quote, anything else
// up to a delimiter. It then validates and compacts it.
func (r *RecordReader) readValue() (json.RawMessage, error) {
	r.rec = r.rec[:0]
	r.recLine, r.recCol = r.line, r.col+1
	r.stack = r.stack[:0]
	inString, escaped, first := false, false, true
	scalar := false
	for {
		buf, err := r.br.Peek(1)
		if len(buf) == 0 {
			if err != io.EOF {
				return nil, fmt.Errorf("datacloud: json: read: %w", err)
			}
			break // truncated: validation reports it
		}
		buf, _ = r.br.Peek(r.br.Buffered())
		end := -1
	scan:
		for i, c := range buf {
			if first {
				first = false
				switch c {
				case '{':
					r.stack = append(r.stack, '}')
				case '[':
					r.stack = append(r.stack, ']')
				case '"':
					inString = true
				default:
					scalar = true
				}
				continue
			}
			switch {
			case inString:
				if escaped {
					escaped = false
				} else if c == '\\' {
					escaped = true
				} else if c == '"' {
					inString = false
					if len(r.stack) == 0 {
						end = i + 1
						break scan
					}
				}
			case scalar:
				if isJSONSpace(c) || c == ',' || c == ']' || c == '}' {
					end = i
					break scan
				}
			case c == '"':
				inString = true
			case c == '{':
				r.stack = append(r.stack, '}')
			case c == '[':
				r.stack = append(r.stack, ']')
			case c == '}' || c == ']':
				if c != r.stack[len(r.stack)-1] {
					end = i + 1 // mismatched: stop here, validation reports it
					break scan
				}
				r.stack = r.stack[:len(r.stack)-1]
				if len(r.stack) == 0 {
					end = i + 1
					break scan
				}
			}
		}
		complete := end >= 0
		if !complete {
			end = len(buf)
		}
		r.rec = append(r.rec, buf[:end]...)
		r.track(buf[:end])
		r.br.Discard(end)
		if len(r.rec) > r.maxRecord {
			return nil, r.errAt(0, fmt.Sprintf("record is larger than %d bytes", r.maxRecord))
		}
		if complete {
			break
		}
	}
	return r.finish(0, len(r.rec))
}

// finish validates r.rec[start:end] and returns it compacted.
func (r *RecordReader) finish(start, end int) (json.RawMessage, error) {
	raw := r.rec[start:end]
	r.valAt = start
	out, ok := compactRecord(r.compact[:0], raw)
	if ok && utf8.Valid(raw) {
		if len(out) > 0 && &out[0] != &raw[0] {
			r.compact = out
		}
		return out, nil
	}
	r.out.Reset()
	if err := json.Compact(&r.out, raw); err != nil {
		// Compact does not report offsets; Unmarshal's validation does.
		var se *json.SyntaxError
		if errors.As(json.Unmarshal(raw, new(json.RawMessage)), &se) {
			return nil, r.errAt(start+max(int(se.Offset)-1, 0), se.Error())
		}
		return nil, r.errAt(start, err.Error())
	}
	if !utf8.Valid(raw) {
		i := 0
		for {
			c, size := utf8.DecodeRune(raw[i:])
			if c == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		return nil, r.errAt(start+i, "invalid UTF-8")
	}
	return r.out.Bytes(), nil
}

// errAt returns a *RecordError at offset k of r.rec.
func (r *RecordReader) errAt(k int, msg string) error {
	k = min(k, len(r.rec))
	seg := r.rec[:k]
	line := r.recLine + bytes.Count(seg, []byte{'\n'})
	col := r.recCol + k
	if i := bytes.LastIndexByte(seg, '\n'); i >= 0 {
		col = k - i
	}
	return &RecordError{Line: line, Column: col, Msg: msg}
}

// errHere returns a *RecordError at the next unread byte.
func (r *RecordReader) errHere(msg string) error {
	return &RecordError{Line: r.line, Column: r.col + 1, Msg: msg}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
