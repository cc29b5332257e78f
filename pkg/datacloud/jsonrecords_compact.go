package datacloud

// compactRecord validates and compacts one JSON value in a single pass, for the common case of
// RecordReader.finish: encoding/json's Compact walks a state machine with a function call per
// byte, which made it the largest cost of streaming JSON Lines (docs/performance.md).
//
// It is conservative: ok is true only when src is one valid JSON value (as encoding/json
// defines it) and out is exactly what json.Compact writes for it, src without the whitespace
// outside strings (src itself when it has none). Whenever ok is false the caller falls back to
// encoding/json, which reports the error with its offset; values nested deeper than 64 levels
// always go that way. UTF-8 is not checked here (RecordReader.finish checks it separately).
func compactRecord(dst, src []byte) (out []byte, ok bool) {
	var (
		stack  [64]byte // expected closers: '}' or ']'
		depth  int
		i      int
		copied int  // src[:copied] has been written to dst (once spaced)
		spaced bool // whitespace was dropped: the result is dst
	)
	// skip passes whitespace; when it drops some, what came before goes to dst first.
	skip := func() {
		j := i
		for j < len(src) && isJSONSpace(src[j]) {
			j++
		}
		if j > i {
			if !spaced {
				dst = dst[:0]
				spaced = true
			}
			dst = append(dst, src[copied:i]...)
			copied = j
			i = j
		}
	}
	// member scans `"key" :` before a value of an object.
	member := func() bool {
		if skip(); i >= len(src) || src[i] != '"' || !scanString(src, &i) {
			return false
		}
		if skip(); i >= len(src) || src[i] != ':' {
			return false
		}
		i++
		return true
	}
	for {
		// A value starts here.
		skip()
		if i >= len(src) {
			return nil, false
		}
		switch c := src[i]; {
		case c == '{' || c == '[':
			if depth == len(stack) {
				return nil, false
			}
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			i++
			if skip(); i < len(src) && src[i] == closer { // empty object or array
				i++
				break
			}
			stack[depth] = closer
			depth++
			if c == '{' && !member() {
				return nil, false
			}
			continue
		case c == '"':
			if !scanString(src, &i) {
				return nil, false
			}
		case c == '-' || c >= '0' && c <= '9':
			if !scanNumber(src, &i) {
				return nil, false
			}
		case c == 't' || c == 'f' || c == 'n':
			if !scanLiteral(src, &i) {
				return nil, false
			}
		default:
			return nil, false
		}
		// A value ended: close the containers it ends, or go on to the next element.
		for {
			skip()
			if depth == 0 {
				if i != len(src) {
					return nil, false // data after the value
				}
				if !spaced {
					return src, true
				}
				return append(dst, src[copied:]...), true
			}
			if i >= len(src) {
				return nil, false
			}
			if src[i] == stack[depth-1] {
				depth--
				i++
				continue
			}
			if src[i] != ',' {
				return nil, false
			}
			i++
			if stack[depth-1] == '}' && !member() {
				return nil, false
			}
			break
		}
	}
}

// scanString scans a string starting at the quote src[*i]: no control characters, only the
// escapes JSON defines.
func scanString(src []byte, i *int) bool {
	j := *i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case c == '"':
			*i = j + 1
			return true
		case c == '\\':
			if j+1 >= len(src) {
				return false
			}
			switch src[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(src) {
					return false
				}
				for _, h := range src[j+2 : j+6] {
					if !isJSONHex(h) {
						return false
					}
				}
				j += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			j++
		}
	}
	return false
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at src[*i].
func scanNumber(src []byte, i *int) bool {
	j := *i
	if src[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(src) && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		return j - k
	}
	switch {
	case j < len(src) && src[j] == '0':
		j++
	case digits() == 0:
		return false
	}
	if j < len(src) && src[j] == '.' {
		j++
		if digits() == 0 {
			return false
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		j++
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if digits() == 0 {
			return false
		}
	}
	*i = j
	return true
}

// scanLiteral scans true, false or null at src[*i].
func scanLiteral(src []byte, i *int) bool {
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(src)-*i >= len(lit) && string(src[*i:*i+len(lit)]) == lit {
			*i += len(lit)
			return true
		}
	}
	return false
}

func isJSONHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
