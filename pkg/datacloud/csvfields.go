package datacloud

import (
	"bytes"
	"fmt"
)

// CheckFieldCounts makes the splitter reject a record whose number of fields differs from the
// header's, naming its line. Data Cloud fails a whole bulk job on such a row, so a file that
// shares a job with others must be refused before its first part is uploaded. Only for files
// with a header row; NoHeader splitting ignores it.
func CheckFieldCounts() SplitOption { return func(c *splitConfig) { c.checkFields = true } }

var commaByte = []byte{','}

// recordFields counts the fields of one record (its line ending may be included). The record
// has passed the scanner, so its quotes are balanced and a doubled quote toggles twice.
func recordFields(rec []byte) int {
	if bytes.IndexByte(rec, '"') < 0 {
		return bytes.Count(rec, commaByte) + 1
	}
	fields, quoted := 1, false
	for _, c := range rec {
		switch {
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			fields++
		}
	}
	return fields
}

// checkFieldCounts reports the first record of recs (whole records that start on line
// firstLine) whose field count is not want. Blank lines are not records. Unquoted lines, the
// common case, cost one IndexByte and one Count each.
func checkFieldCounts(recs []byte, firstLine, want int) error {
	line := firstLine
	for len(recs) > 0 {
		start, fields, quoted, i := line, 1, false, 0
		for {
			seg := recs[i:]
			nl := bytes.IndexByte(seg, '\n')
			if nl >= 0 {
				seg = seg[:nl]
			}
			if !quoted && bytes.IndexByte(seg, '"') < 0 {
				fields += bytes.Count(seg, commaByte)
			} else {
				for _, c := range seg {
					switch {
					case c == '"':
						quoted = !quoted
					case c == ',' && !quoted:
						fields++
					}
				}
			}
			if nl < 0 {
				i = len(recs)
				break
			}
			i += nl + 1
			line++
			if !quoted {
				break
			}
		}
		rec := bytes.TrimRight(recs[:i], "\r\n")
		recs = recs[i:]
		if len(rec) == 0 {
			continue
		}
		if fields != want {
			return &CSVError{Line: start, Column: 1, Msg: fmt.Sprintf("record has %d fields but the header has %d", fields, want)}
		}
	}
	return nil
}
