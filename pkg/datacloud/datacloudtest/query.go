package datacloudtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

var (
	orderByRE = regexp.MustCompile(`(?i)^\s*[A-Za-z_][A-Za-z0-9_]*(\s+(ASC|DESC))?(\s*,\s*[A-Za-z_][A-Za-z0-9_]*(\s+(ASC|DESC))?)*\s*$`)
	// readOnlySQL lets comments precede SELECT/WITH; PRAGMA query_only
	// enforces read-only access anyway, this only gives writes a clear message.
	readOnlySQL  = regexp.MustCompile(`(?is)^(\s|--[^\n]*(\n|$)|/\*.*?\*/)*(SELECT|WITH)\b`)
	typeCodes    = map[string]int{typeVarchar: 12, typeDecimal: 3, typeTimestamp: 93, typeBoolean: 16, typeBigint: -5}
	maxQueryBody = int64(1 << 20)
)

// qcol is a result column.
type qcol struct {
	name string
	typ  string
}

// cursor is the state behind a v2 nextBatchId.
type cursor struct {
	queryID string
	cols    []qcol
	rows    [][]any
	created time.Time
}

type colMeta struct {
	Type         string `json:"type"`
	PlaceInOrder int    `json:"placeInOrder"`
	TypeCode     int    `json:"typeCode"`
}

// queryBody is the v1/v2 answer; Data is rows as objects (v1) or arrays (v2).
type queryBody struct {
	Data        any                `json:"data"`
	StartTime   string             `json:"startTime"`
	EndTime     string             `json:"endTime"`
	RowCount    int                `json:"rowCount"`
	QueryID     string             `json:"queryId"`
	NextBatchID string             `json:"nextBatchId,omitempty"`
	Done        bool               `json:"done"`
	Metadata    map[string]colMeta `json:"metadata"`
}

func metadataOf(cols []qcol) map[string]colMeta {
	m := make(map[string]colMeta, len(cols))
	for i, c := range cols {
		m[c.name] = colMeta{Type: c.typ, PlaceInOrder: i, TypeCode: typeCodes[c.typ]}
	}
	return m
}

// dcType maps a declared SQLite column type (or, for expressions, a value) to Data Cloud's.
func dcType(decl string, sample any) string {
	switch strings.ToUpper(decl) {
	case typeVarchar, "TEXT":
		return typeVarchar
	case typeDecimal, "REAL", "NUMERIC":
		return typeDecimal
	case typeBoolean:
		return typeBoolean
	case typeTimestamp, timestampDecl:
		return typeTimestamp
	case "INTEGER", "INT", typeBigint:
		return typeBigint
	}
	switch sample.(type) {
	case int64:
		return typeBigint
	case float64:
		return typeDecimal
	}
	return typeVarchar
}

// runQueryLocked runs a read-only statement and returns its columns and typed rows.
func (s *Server) runQueryLocked(query string) ([]qcol, [][]any, error) {
	query = strings.TrimRight(strings.TrimSpace(query), "; \t\r\n")
	if !readOnlySQL.MatchString(query) {
		return nil, nil, fmt.Errorf("only SELECT statements are supported")
	}
	if _, err := s.db.Exec("PRAGMA query_only = ON"); err != nil {
		return nil, nil, err
	}
	defer s.db.Exec("PRAGMA query_only = OFF") //nolint:errcheck // restores write access for ingestion
	rows, err := s.db.Query(query)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(types))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	cols := make([]qcol, len(types))
	for i, t := range types {
		var sample any
		for _, r := range out {
			if r[i] != nil {
				sample = r[i]
				break
			}
		}
		cols[i] = qcol{name: t.Name(), typ: dcType(t.DatabaseTypeName(), sample)}
		for _, r := range out {
			r[i] = queryValue(readValue(r[i], cols[i].typ), cols[i].typ)
		}
	}
	return cols, out, nil
}

func (s *Server) queryIDLocked(now time.Time) string {
	return fmt.Sprintf("%s_%05d_%s", now.Format("20060102_150405"), s.rng.IntN(100000), s.randString(5, "abcdefghijklmnopqrstuvwxyz0123456789"))
}

// readSQL reads {"sql": "..."}.
func (s *Server) readSQL(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req struct {
		SQL string `json:"sql"`
	}
	if !s.readJSON(w, r, maxQueryBody, &req) {
		return "", false
	}
	if strings.TrimSpace(req.SQL) == "" {
		s.springError(w, http.StatusBadRequest, `"sql" is required`)
		return "", false
	}
	return req.SQL, true
}

func (s *Server) handleQueryV1(w http.ResponseWriter, r *http.Request, _ *token) {
	q := r.URL.Query()
	limit, offset, ok := s.pageParams(w, q, MaxQueryV1Limit, MaxQueryV1Limit)
	if !ok {
		return
	}
	orderBy := q.Get("orderby")
	if orderBy == "" {
		orderBy = q.Get("orderBy")
	}
	if orderBy != "" && !orderByRE.MatchString(orderBy) {
		s.springErrorf(w, http.StatusBadRequest, "invalid orderby %q: use field [ASC|DESC], ...", orderBy)
		return
	}
	query, ok := s.readSQL(w, r)
	if !ok {
		return
	}
	query = strings.TrimRight(strings.TrimSpace(query), "; \t\r\n")
	if !readOnlySQL.MatchString(query) {
		s.springError(w, http.StatusBadRequest, "query failed: only SELECT statements are supported")
		return
	}
	if orderBy != "" {
		query = "SELECT * FROM (" + query + "\n) ORDER BY " + orderBy
	}
	// Only the page and one row more (which tells whether more remain) leave SQLite, so a
	// client paging through a large result pays for each page, not for the whole result again.
	query = fmt.Sprintf("SELECT * FROM (%s\n) LIMIT %d OFFSET %d", query, limit+1, offset) // newline: a trailing -- comment must not swallow ")"
	s.mu.Lock()
	s.advanceJobsLocked()
	start := s.nowLocked()
	cols, page, err := s.runQueryLocked(query)
	id := s.queryIDLocked(start)
	s.mu.Unlock()
	if err != nil {
		s.springErrorf(w, http.StatusBadRequest, "query failed: %v", err)
		return
	}
	done := len(page) <= limit
	page = page[:min(limit, len(page))]
	data, err := v1Rows(cols, page)
	if err != nil {
		http.Error(w, "datacloudtest: encode response", http.StatusInternalServerError)
		return
	}
	head, err := json.Marshal(queryBody{
		Data: json.RawMessage("[]"), StartTime: timestampMicros(start), EndTime: timestampMicros(s.now()),
		RowCount: len(page), QueryID: id, Done: done, Metadata: metadataOf(cols),
	})
	if err != nil {
		http.Error(w, "datacloudtest: encode response", http.StatusInternalServerError)
		return
	}
	// data is queryBody's first field: splice the rows in for the placeholder, so that a page
	// of tens of thousands of rows is not validated and compacted again.
	rest, ok := bytes.CutPrefix(head, []byte(`{"data":[]`))
	if !ok {
		http.Error(w, "datacloudtest: encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(`{"data":`)) //nolint:errcheck // the client may have gone
	w.Write(data)               //nolint:errcheck
	w.Write(rest)               //nolint:errcheck
}

// v1Rows encodes rows as V1's objects keyed by column name, byte for byte as encoding/json
// encodes a map[string]any of each row (keys sorted, HTML escaped), without building maps.
func v1Rows(cols []qcol, rows [][]any) ([]byte, error) {
	order := make([]int, len(cols))
	keys := make([][]byte, len(cols))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return cols[order[a]].name < cols[order[b]].name })
	for i, c := range order {
		k, err := json.Marshal(cols[c].name)
		if err != nil {
			return nil, err
		}
		keys[i] = append(k, ':')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // escapes HTML, as json.Marshal
	buf.WriteByte('[')
	for r, row := range rows {
		if r > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('{')
		for i, c := range order {
			if i > 0 && cols[c].name == cols[order[i-1]].name {
				continue // a repeated column name: a map keeps one key
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(keys[i])
			if err := enc.Encode(row[lastOf(cols, order, i)]); err != nil {
				return nil, err
			}
			buf.Truncate(buf.Len() - 1) // Encode's newline
		}
		buf.WriteByte('}')
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// lastOf is the column whose value a map would keep for the name at order[i]: the last of
// the columns with that name (a map assignment overwrites).
func lastOf(cols []qcol, order []int, i int) int {
	for i+1 < len(order) && cols[order[i+1]].name == cols[order[i]].name {
		i++
	}
	return order[i]
}

func (s *Server) handleQueryV2(w http.ResponseWriter, r *http.Request, _ *token) {
	query, ok := s.readSQL(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	s.advanceJobsLocked()
	start := s.nowLocked()
	cols, rows, err := s.runQueryLocked(query)
	if err != nil {
		s.mu.Unlock()
		s.springErrorf(w, http.StatusBadRequest, "query failed: %v", err)
		return
	}
	body := s.nextBatchLocked(&cursor{queryID: s.queryIDLocked(start), cols: cols, rows: rows}, start)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleNextBatch(w http.ResponseWriter, r *http.Request, _ *token) {
	id := r.PathValue("batch")
	s.mu.Lock()
	c, ok := s.batches[id]
	now := s.nowLocked()
	delete(s.batches, id) // single use, even when expired
	if !ok || now.Sub(c.created) > batchIDLifetime {
		s.mu.Unlock()
		s.springErrorf(w, http.StatusNotFound, "nextBatchId %s not found: it is unknown, expired or already used", id)
		return
	}
	body := s.nextBatchLocked(c, now)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// nextBatchLocked cuts the next batch off c and registers a nextBatchId for the rest.
func (s *Server) nextBatchLocked(c *cursor, start time.Time) queryBody {
	n := min(len(c.rows), s.opts.QueryBatchRows)
	if capBytes := s.opts.QueryBatchBytes; capBytes > 0 {
		size := 2
		for i := 0; i < n; i++ {
			b, _ := json.Marshal(c.rows[i])
			if size += len(b) + 1; size > capBytes && i > 0 {
				n = i
				break
			}
		}
	}
	batch, rest := c.rows[:n], c.rows[n:]
	body := queryBody{
		Data: batch, StartTime: timestampMicros(start), EndTime: timestampMicros(s.nowLocked()),
		RowCount: len(batch), QueryID: c.queryID, Done: true, Metadata: metadataOf(c.cols),
	}
	if len(batch) == 0 {
		body.Data = [][]any{}
	}
	if len(rest) > 0 || (s.opts.EmptyFinalBatch && len(batch) > 0) {
		id := s.uuid()
		s.batches[id] = &cursor{queryID: c.queryID, cols: c.cols, rows: rest, created: s.nowLocked()}
		body.NextBatchID, body.Done = id, false
	}
	return body
}

// queryValue formats timestamps as the query API does: 2021-02-28T00:00:00.000+00:00.
func queryValue(v any, typ string) any {
	if str, ok := v.(string); ok && typ == typeTimestamp {
		if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
			return t.UTC().Format("2006-01-02T15:04:05.000+00:00")
		}
	}
	return v
}
