package datacloudtest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// jobOrder parses an orderBy value ("field" or "field ASC|DESC"; default systemModstamp).
func jobOrder(spec string) (func(a, b *job) int, error) {
	name, dir, _ := strings.Cut(strings.TrimSpace(spec), " ")
	dir = strings.ToUpper(strings.TrimSpace(dir))
	if dir != "" && dir != "ASC" && dir != "DESC" {
		return nil, fmt.Errorf("invalid orderBy %q: direction must be ASC or DESC", spec)
	}
	keys := map[string]func(j *job) string{
		"":               func(j *job) string { return timestampMicros(j.SystemModstamp) },
		"systemModstamp": func(j *job) string { return timestampMicros(j.SystemModstamp) },
		"createdDate":    func(j *job) string { return timestampMicros(j.CreatedDate) },
		"id":             func(j *job) string { return j.ID },
		"object":         func(j *job) string { return j.Object },
		"state":          func(j *job) string { return j.State },
		"sourceName":     func(j *job) string { return j.SourceName },
		"operation":      func(j *job) string { return j.Operation },
	}
	key, ok := keys[name]
	if !ok {
		return nil, fmt.Errorf("invalid orderBy field %q", name)
	}
	return func(a, b *job) int {
		c := strings.Compare(key(a), key(b))
		if dir == "DESC" {
			return -c
		}
		return c
	}, nil
}

// advanceJobsLocked moves closed jobs along UploadComplete → InProgress → JobComplete|Failed
// as the clock passes, applying their data when they complete.
func (s *Server) advanceJobsLocked() {
	now := s.nowLocked()
	for _, id := range s.jobSeq {
		j := s.jobs[id]
		if j.State == StateUploadComplete {
			j.State, j.SystemModstamp = StateInProgress, now
		}
		if j.State != StateInProgress || now.Before(j.closedAt.Add(s.opts.JobProcessingDelay)) {
			continue
		}
		if err := s.applyJobLocked(j); err != nil {
			j.State, j.Error = StateFailed, err.Error()
		} else {
			j.State = StateJobComplete
		}
		j.SystemModstamp = now
		j.TotalProcessingTime = now.Sub(j.closedAt).Milliseconds()
	}
}

// applyJobLocked parses every uploaded file first, so a bad file fails the job whole.
func (s *Server) applyJobLocked(j *job) error {
	if j.Operation == "delete" {
		var ids []string
		for i, data := range j.data {
			recs, err := readCSV(data, false)
			if err != nil {
				return fmt.Errorf("file %d: %w", i+1, err)
			}
			for _, rec := range recs {
				if len(rec) > 2 {
					return fmt.Errorf("file %d: a delete CSV has at most 2 columns (id, datetime), got %d", i+1, len(rec))
				}
				ids = append(ids, rec[0])
			}
		}
		return s.deleteLocked(j.SourceName, j.Object, ids)
	}
	var all [][]field
	for i, data := range j.data {
		recs, err := readCSV(data, true)
		if err != nil {
			return fmt.Errorf("file %d: %w", i+1, err)
		}
		header := recs[0]
		for n, h := range header {
			if !identRE.MatchString(h) {
				return fmt.Errorf("file %d: invalid column name %q in header", i+1, header[n])
			}
		}
		for _, rec := range recs[1:] {
			fields := make([]field, len(rec))
			for c, v := range rec {
				fields[c] = field{name: header[c], value: csvValue(v)}
			}
			all = append(all, fields)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return s.upsertLocked(j.SourceName, j.Object, all)
}

// readCSV parses an RFC 4180 file; with header, every record must match the header's width.
func readCSV(data []byte, header bool) ([][]string, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("CSV is not valid UTF-8")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	if !header {
		r.FieldsPerRecord = -1
	}
	var out [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed CSV: %w", err)
		}
		out = append(out, rec)
	}
	if header && len(out) == 0 {
		return nil, errors.New("CSV has no header row")
	}
	return out, nil
}
