package datacloudtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

var errNoData = errors.New(`body must be a JSON object with a "data" array of records`)

// recordError is a problem with one record of a streaming body.
type recordError struct {
	index int
	msg   string
}

func (e *recordError) Error() string { return fmt.Sprintf("record %d: %s", e.index, e.msg) }

// readStreamingBody reads a streaming body and enforces the size limit.
func (s *Server) readStreamingBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	limit := int64(s.Options().MaxStreamingBytes)
	b, err := io.ReadAll(io.LimitReader(r.Body, limit))
	if err != nil {
		s.springErrorf(w, http.StatusBadRequest, "reading body: %v", err)
		return nil, false
	}
	if int64(len(b)) >= limit {
		s.springErrorf(w, http.StatusBadRequest, "payload too large: the request body must be smaller than %d bytes", limit)
		return nil, false
	}
	return b, true
}

// parseRecords decodes {"data":[{...},...]} keeping each record's field order.
func parseRecords(body []byte) ([][]field, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNoData
	}
	var raws []json.RawMessage
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		var target any = new(json.RawMessage)
		if tok == "data" {
			target, found = &raws, true
		}
		if err := dec.Decode(target); err != nil {
			if tok == "data" {
				return nil, errNoData
			}
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the top-level object")
	}
	if !found || raws == nil {
		return nil, errNoData
	}
	if len(raws) == 0 {
		return nil, errors.New(`"data" holds no records`)
	}
	records := make([][]field, len(raws))
	for i, raw := range raws {
		rec, err := parseRecord(raw)
		if err != nil {
			return nil, &recordError{index: i, msg: err.Error()}
		}
		records[i] = rec
	}
	return records, nil
}

// checkRecordsShape is the sink's check of a streaming body (Options.DiscardIngestedData):
// valid JSON of the shape {"data":[{...},...]} with at least one non-empty object. It skips
// parseRecords' field-by-field decoding, which is far slower than any client, so that a
// benchmark measures the client rather than the emulator.
func checkRecordsShape(body []byte) error {
	var doc struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if len(doc.Data) == 0 {
		return errNoData
	}
	for i, raw := range doc.Data {
		if len(raw) < 2 || raw[0] != '{' || len(bytes.TrimSpace(raw[1:len(raw)-1])) == 0 {
			return &recordError{index: i, msg: "not a JSON object with fields"}
		}
	}
	return nil
}

// parseRecord decodes one flat JSON object in field order (a repeated key counts once,
// at its first place, with its last value, as JSON decoders do).
func parseRecord(raw json.RawMessage) ([]field, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errors.New("not a JSON object")
	}
	if len(m) == 0 {
		return nil, errors.New("record has no fields")
	}
	rec := make([]field, 0, len(m))
	for _, name := range objectKeys(raw) {
		v, ok := m[name]
		if !ok {
			continue // already taken
		}
		delete(m, name)
		switch v.(type) {
		case map[string]any, []any:
			return nil, fmt.Errorf("field %q: nested objects and arrays are not supported", name)
		}
		if !identRE.MatchString(name) {
			return nil, fmt.Errorf("invalid field name %q", name)
		}
		rec = append(rec, field{name: name, value: v})
	}
	if len(m) > 0 {
		// The scanner missed a key the decoder saw: refuse rather than drop a field.
		return nil, errors.New("record could not be read field by field")
	}
	return rec, nil
}

// objectKeys returns the top-level keys of a well-formed JSON object in order. It scans
// bytes instead of using json.Decoder.Token, which costs most of a streaming request.
func objectKeys(raw []byte) []string {
	var keys []string
	depth := 0
	for i := 0; i < len(raw); {
		switch raw[i] {
		case '{', '[':
			depth++
			i++
		case '}', ']':
			depth--
			i++
		case '"':
			end := stringEnd(raw, i)
			j := end
			for j < len(raw) && (raw[j] == ' ' || raw[j] == '\t' || raw[j] == '\n' || raw[j] == '\r') {
				j++
			}
			if depth == 1 && j < len(raw) && raw[j] == ':' {
				keys = append(keys, unquote(raw[i:end]))
			}
			i = end
		default:
			i++
		}
	}
	return keys
}

// stringEnd returns the index just past the JSON string starting at raw[start] ('"').
func stringEnd(raw []byte, start int) int {
	for j := start + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(raw)
}

// unquote decodes a JSON string token; plain ASCII needs no decoder (invalid UTF-8 and
// escapes do, to match the keys the decoder produced).
func unquote(q []byte) string {
	plain := true
	for _, c := range q {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(q[1 : len(q)-1])
	}
	var s string
	json.Unmarshal(q, &s) //nolint:errcheck // q comes from a document the decoder accepted
	return s
}

func (s *Server) handleStreamUpsert(w http.ResponseWriter, r *http.Request, _ *token) {
	body, ok := s.readStreamingBody(w, r)
	if !ok {
		return
	}
	if s.Options().DiscardIngestedData {
		if err := checkRecordsShape(body); err != nil {
			s.springError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]bool{"accepted": true})
		return
	}
	records, err := parseRecords(body)
	if err != nil {
		s.springError(w, http.StatusBadRequest, err.Error())
		return
	}
	source, obj := r.PathValue("source"), r.PathValue("object")
	s.mu.Lock()
	err = s.upsertLocked(source, obj, records)
	s.mu.Unlock()
	if err != nil {
		s.springError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"accepted": true})
}

func (s *Server) handleStreamDelete(w http.ResponseWriter, r *http.Request, _ *token) {
	var ids []string
	for _, v := range r.URL.Query()["ids"] {
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
	}
	body, ok := s.readStreamingBody(w, r)
	if !ok {
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var b struct{ IDs []json.Number }
		if err := json.Unmarshal(body, &b); err != nil {
			s.springErrorf(w, http.StatusBadRequest, `body must be {"ids":[...]}: %v`, err)
			return
		}
		for _, id := range b.IDs {
			ids = append(ids, id.String())
		}
	}
	maxIDs := s.Options().MaxDeleteIDs
	switch {
	case len(ids) == 0:
		s.springError(w, http.StatusBadRequest, "no ids: pass ?ids=id1,id2 or a body {\"ids\":[...]}")
		return
	case len(ids) > maxIDs:
		s.springErrorf(w, http.StatusBadRequest, "too many ids: %d, at most %d per request", len(ids), maxIDs)
		return
	}
	s.mu.Lock()
	err := s.deleteLocked(r.PathValue("source"), r.PathValue("object"), ids)
	s.mu.Unlock()
	if err != nil {
		s.springError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"accepted": true})
}

// validationEntry is one failed record in a validation report.
type validationEntry struct {
	RecordIndex int      `json:"recordIndex"`
	Errors      []string `json:"errors"`
}

func (s *Server) handleStreamTest(w http.ResponseWriter, r *http.Request, _ *token) {
	body, ok := s.readStreamingBody(w, r)
	if !ok {
		return
	}
	var raws struct{ Data []json.RawMessage }
	if err := json.Unmarshal(body, &raws); err != nil || raws.Data == nil {
		s.springError(w, http.StatusBadRequest, errNoData.Error())
		return
	}
	var report []validationEntry
	for i, raw := range raws.Data {
		if _, err := parseRecord(raw); err != nil {
			report = append(report, validationEntry{RecordIndex: i, Errors: []string{err.Error()}})
		}
	}
	if len(report) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"timestamp": timestampMicros(s.now()), "accepted": false, "validationReport": report,
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"accepted": true})
}
