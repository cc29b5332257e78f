package querysvc

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// Column is one entry of an answer's "columns": the name and Data Cloud's type name.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Answer is POST /query's 200 body as a caller of the function reads it (contract §5), rows
// decoded to maps; the local demo and the end-to-end tests decode answers into it.
type Answer struct {
	Columns  []Column         `json:"columns"`
	Rows     []map[string]any `json:"rows"`
	RowCount int              `json:"rowCount"`
	QueryID  string           `json:"queryId"`
	Done     bool             `json:"done"`
	Cursor   string           `json:"cursor"`
}

// answer is POST /query's 200 body.
type answer struct {
	Columns  []Column          `json:"columns"`
	Rows     []json.RawMessage `json:"rows"`
	RowCount int               `json:"rowCount"`
	QueryID  string            `json:"queryId"`
	Done     bool              `json:"done"`
	Cursor   string            `json:"cursor,omitempty"`
}

// page is one fetched batch or V1 page, ready to be cut to the budget.
type page struct {
	columns   []Column
	queryID   string
	rows      []json.RawMessage
	costs     []int              // what each row adds to the invocation result (shape.cost)
	cursorAll string             // cursor when every row is answered; "" when the result ends here
	cursorAt  func(k int) string // cursor when only the first k rows are answered
}

// rowKeys are the encoded `"name":` prefixes of b's columns.
func rowKeys(b *datacloud.RawBatch) [][]byte {
	keys := make([][]byte, len(b.Columns))
	for i, c := range b.Columns {
		k, _ := marshal(c.Name) // a string: cannot fail
		keys[i] = append(k, ':')
	}
	return keys
}

// rowCosts is what each of the first n rows of b adds to an answer (shape.cost of the row
// rowsJSON makes), computed from the values without building the rows: escaping is per
// character, so a row's cost is the sum of its parts'.
func rowCosts(sh shape, b *datacloud.RawBatch, n int) []int {
	fixed := 2 + max(0, len(b.Columns)-1) // braces and commas
	for _, k := range rowKeys(b) {
		fixed += sh.cost(k)
	}
	costs := make([]int, n)
	for r := range n {
		c := fixed
		for col := range b.Columns {
			c += sh.cost(b.Value(r, col))
		}
		costs[r] = c
	}
	return costs
}

// rowsJSON turns the first n rows of b into objects keyed by column name, in column order,
// in buf when it is large enough (else in one new allocation). Values are Data Cloud's own
// JSON text (compact and valid, see datacloud.RawBatch), so they are copied, not decoded and
// encoded again. It returns the rows and the buffer holding them.
func rowsJSON(b *datacloud.RawBatch, n int, buf []byte) ([]json.RawMessage, []byte) {
	keys := rowKeys(b)
	size := 0
	for _, k := range keys {
		size += len(k) + 1 // the comma, or the closing brace
	}
	size = n * (size + 1)
	for r := range n {
		for c := range b.Columns {
			size += len(b.Value(r, c))
		}
	}
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	buf = buf[:0]
	out := make([]json.RawMessage, n)
	for r := range n {
		start := len(buf)
		buf = append(buf, '{')
		for c := range b.Columns {
			if c > 0 {
				buf = append(buf, ',')
			}
			buf = append(append(buf, keys[c]...), b.Value(r, c)...)
		}
		buf = append(buf, '}')
		out[r] = json.RawMessage(buf[start:len(buf):len(buf)])
	}
	return out, buf
}

// fitting is how many rows with these costs, from the first, fit one answer beside overhead.
func (s *Service) fitting(costs []int, overhead int) int {
	room, k := s.budget-overhead, 0
	for _, c := range costs {
		if room -= c + 1; room < -1 { // -1: the first row has no comma
			break
		}
		k++
	}
	return k
}

// render encodes the answer holding the first k rows of p with the given cursor, in one
// allocation of its exact size. The result is what encoding/json makes of answer (wrapped by
// sh.wrap), but the rows, which encodeRows made compact, are appended as they are instead of
// being re-validated and re-compacted, and through API Gateway they are escaped straight into
// the body string.
func (s *Service) render(sh shape, p page, k int, cur string) ([]byte, error) {
	rows := p.rows[:k]
	head, tail, err := answerFrame(p.columns, rows == nil, k, p.queryID, cur)
	if err != nil {
		return nil, err
	}
	var pre, suf []byte
	if sh.apiGateway {
		if pre, suf, err = envelope(statusOK, 0); err != nil {
			return nil, err
		}
	}
	size := len(pre) + sh.cost(head) + sh.cost(tail) + len(suf) + max(0, len(rows)-1)
	for _, r := range rows {
		size += sh.cost(r)
	}
	out := make([]byte, 0, size)
	out = append(out, pre...)
	out = sh.appendBody(out, head)
	for i, r := range rows {
		if i > 0 {
			out = append(out, ',')
		}
		out = sh.appendBody(out, r)
	}
	out = sh.appendBody(out, tail)
	return append(out, suf...), nil
}

// answerFrame is an encoded answer without its rows: everything before the first row and
// everything after the last, in answer's field order. A nil rows slice encodes as null, as
// encoding/json has it.
func answerFrame(cols []Column, nilRows bool, rowCount int, queryID, cur string) (head, tail []byte, err error) {
	c, err := marshal(cols)
	if err != nil {
		return nil, nil, err
	}
	q, err := marshal(queryID)
	if err != nil {
		return nil, nil, err
	}
	head = append(append([]byte(`{"columns":`), c...), `,"rows":`...)
	if nilRows {
		head = append(head, "null"...)
	} else {
		head = append(head, '[')
		tail = append(tail, ']')
	}
	tail = strconv.AppendInt(append(tail, `,"rowCount":`...), int64(rowCount), 10)
	tail = append(append(tail, `,"queryId":`...), q...)
	tail = strconv.AppendBool(append(tail, `,"done":`...), cur == "")
	if cur != "" {
		cq, err := marshal(cur)
		if err != nil {
			return nil, nil, err
		}
		tail = append(append(tail, `,"cursor":`...), cq...)
	}
	return head, append(tail, '}'), nil
}

// fit answers as many rows of p as the budget allows, measuring the exact encoded size.
// It returns the payload and the number of rows in it. Sizes are first computed from the
// frame (the answer without rows) and each row's cost, which is exact because JSON string
// escaping is per character; the final payload is then measured to confirm, so a batch many
// times the budget is never encoded whole.
func (s *Service) fit(sh shape, p page) ([]byte, int, *apiError) {
	costs := p.costs // all rows read; p.rows holds only those that can fit
	sum := 0
	for _, c := range costs {
		sum += c
	}
	commas := max(0, len(costs)-1)
	frameAll, err := s.render(sh, p, 0, p.cursorAll)
	if err != nil {
		return nil, 0, encodeFailure()
	}
	if len(p.rows) == len(costs) && payloadSize(frameAll)+sum+commas <= s.budget {
		all, err := s.render(sh, p, len(p.rows), p.cursorAll)
		if err != nil {
			return nil, 0, encodeFailure()
		}
		if payloadSize(all) <= s.budget {
			return all, len(p.rows), nil
		}
	}
	// Estimate with the longest cursor this page can get, then correct by measuring.
	frame, err := s.render(sh, p, 0, p.cursorAt(len(p.rows)))
	if err != nil {
		return nil, 0, encodeFailure()
	}
	total, k := payloadSize(frame), 0
	for i := range p.rows {
		add := costs[i]
		if i > 0 {
			add++ // the comma
		}
		if total+add > s.budget {
			break
		}
		total += add
		k++
	}
	for k > 0 {
		out, err := s.render(sh, p, k, p.cursorAt(k))
		if err != nil {
			return nil, 0, encodeFailure()
		}
		over := payloadSize(out) - s.budget
		if over <= 0 {
			return out, k, nil
		}
		for over > 0 && k > 0 { // drop rows from the end until the overshoot is gone
			k--
			over -= costs[k] + 1
		}
	}
	return nil, 0, errf(http.StatusBadGateway, codeResponseTooLarge,
		"a single result row is larger than the response limit of %d bytes", s.budget)
}

// pageLimit estimates how many rows of this size fit one answer, for the next legacy V1
// page. It aims at 90% of the room so that the next page usually fits whole (a page that
// does not fit is cut, and its cut rows are fetched again).
func (s *Service) pageLimit(p page, overhead int) int {
	if len(p.costs) == 0 {
		return maxV1Limit
	}
	sum := 0
	for _, c := range p.costs {
		sum += c + 1
	}
	room := s.budget - overhead
	if room <= 0 {
		return 1
	}
	n := int(float64(room) * 0.9 / (float64(sum) / float64(len(p.costs))))
	return max(1, min(n, maxV1Limit))
}

// rowsThatFit is the V1 page size for a batch remainder, whose rows were seen already: as
// many as fit one answer beside overhead, at least one so that a page always makes progress
// (fit reports a row too large).
func (s *Service) rowsThatFit(costs []int, overhead int) int {
	return max(1, min(s.fitting(costs, overhead), maxV1Limit))
}

func encodeFailure() *apiError {
	return errf(http.StatusBadGateway, codeUpstream, "the Data Cloud result could not be encoded")
}
