package querysvc

import (
	"encoding/json"
	"net/http"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// column is one entry of an answer's "columns".
type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// answer is POST /query's 200 body.
type answer struct {
	Columns  []column          `json:"columns"`
	Rows     []json.RawMessage `json:"rows"`
	RowCount int               `json:"rowCount"`
	QueryID  string            `json:"queryId"`
	Done     bool              `json:"done"`
	Cursor   string            `json:"cursor,omitempty"`
}

// page is one fetched batch or V1 page, ready to be cut to the budget.
type page struct {
	columns   []column
	queryID   string
	rows      []json.RawMessage
	cursorAll string             // cursor when every row is answered; "" when the result ends here
	cursorAt  func(k int) string // cursor when only the first k rows are answered
}

// encodeRows turns positional rows into objects keyed by column name, in column order.
func encodeRows(cols []datacloud.Column, rows [][]any) ([]json.RawMessage, error) {
	names := make([][]byte, len(cols))
	for i, c := range cols {
		n, err := marshal(c.Name)
		if err != nil {
			return nil, err
		}
		names[i] = n
	}
	out := make([]json.RawMessage, len(rows))
	var buf []byte
	for r, row := range rows {
		buf = append(buf[:0], '{')
		for i := range cols {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, names[i]...)
			buf = append(buf, ':')
			var v any
			if i < len(row) {
				v = row[i]
			}
			b, err := marshal(v)
			if err != nil {
				return nil, err
			}
			buf = append(buf, b...)
		}
		buf = append(buf, '}')
		out[r] = append(json.RawMessage(nil), buf...)
	}
	return out, nil
}

// render encodes the answer holding the first k rows of p with the given cursor.
func (s *Service) render(sh shape, p page, k int, cur string) ([]byte, error) {
	body, err := marshal(answer{Columns: p.columns, Rows: p.rows[:k], RowCount: k, QueryID: p.queryID,
		Done: cur == "", Cursor: cur})
	if err != nil {
		return nil, err
	}
	return sh.wrap(statusOK, body, 0)
}

// fit answers as many rows of p as the budget allows, measuring the exact encoded size.
// It returns the payload and the number of rows in it. Sizes are first computed from the
// frame (the answer without rows) and each row's cost, which is exact because JSON string
// escaping is per character; the final payload is then measured to confirm, so a batch many
// times the budget is never encoded whole.
func (s *Service) fit(sh shape, p page) ([]byte, int, *apiError) {
	costs := make([]int, len(p.rows))
	sum := 0
	for i, r := range p.rows {
		costs[i] = sh.cost(r)
		sum += costs[i]
	}
	commas := max(0, len(p.rows)-1)
	frameAll, err := s.render(sh, p, 0, p.cursorAll)
	if err != nil {
		return nil, 0, encodeFailure()
	}
	if payloadSize(frameAll)+sum+commas <= s.budget {
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

// pageLimit estimates how many rows of this size fit one answer, for the next V1 page. It
// aims at 90% of the room so that the next page usually fits whole (a page that does not
// fit is cut, and its cut rows are fetched again).
func (s *Service) pageLimit(sh shape, p page, overhead int) int {
	if len(p.rows) == 0 {
		return maxV1Limit
	}
	sum := 0
	for _, r := range p.rows {
		sum += sh.cost(r) + 1
	}
	room := s.budget - overhead
	if room <= 0 {
		return 1
	}
	n := int(float64(room) * 0.9 / (float64(sum) / float64(len(p.rows))))
	return max(1, min(n, maxV1Limit))
}

func encodeFailure() *apiError {
	return errf(http.StatusBadGateway, codeUpstream, "the Data Cloud result could not be encoded")
}
