package datacloud

import (
	"bytes"
	"fmt"
	"math/bits"
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

// checkFieldCountsMasks is checkFieldCounts on classifier masks (same records, same error):
// the fields of a record are the commas outside quotes between its line ends, counted a block
// at a time. recs passed the scanner, so its quotes are balanced. The bytes after the last line
// end of the last whole block go to checkFieldCounts.
func checkFieldCountsMasks(classify csvClassifier, masks []uint64, recs []byte, firstLine, want int) error {
	var inQuotes uint64
	start := 0                  // the record in progress starts here
	commas, content := 0, false // its commas outside quotes, and whether it has a byte not CR or LF
	batch := len(masks) / masksPerBlock * csvBlock
	for at := 0; at+csvBlock <= len(recs); at += batch {
		end := min(len(recs), at+batch) / csvBlock * csvBlock
		if end <= at {
			break
		}
		classify(masks, recs[at:end])
		for b := at; b < end; b += csvBlock {
			m := masks[(b-at)/csvBlock*masksPerBlock:][:masksPerBlock]
			lf, quote, cr := m[maskLF], m[maskQuote], m[maskCR]
			inside := inQuotes ^ m[maskParity]
			commaOut := m[maskSep] &^ lf &^ quote &^ inside
			other := ^(cr | lf)
			from := uint64(0) // bits of the block before the record in progress
			for ends := lf &^ inside; ends != 0; ends &= ends - 1 {
				e := bits.TrailingZeros64(ends)
				rng := (uint64(1)<<e - 1) &^ from
				commas += bits.OnesCount64(commaOut & rng)
				if content || other&rng != 0 {
					if commas+1 != want {
						line := firstLine + bytes.Count(recs[:start], lfByte)
						return &CSVError{Line: line, Column: 1, Msg: fmt.Sprintf("record has %d fields but the header has %d", commas+1, want)}
					}
				}
				start, commas, content = b+e+1, 0, false
				from = uint64(1)<<(e+1) - 1
				if e == 63 {
					from = ^uint64(0)
				}
			}
			commas += bits.OnesCount64(commaOut &^ from)
			content = content || other&^from != 0
			inQuotes = uint64(int64(inside) >> 63)
		}
	}
	return checkFieldCounts(recs[start:], firstLine+bytes.Count(recs[:start], lfByte), want)
}
