package localstack

import (
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/johannesboyne/gofakes3"
)

// S3's object tagging limits.
const (
	maxTags        = 10
	maxTagKeyLen   = 128
	maxTagValueLen = 256
	s3XMLNamespace = "http://s3.amazonaws.com/doc/2006-03-01/"
)

// Tag is one object tag.
type Tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  []Tag    `xml:"TagSet>Tag"`
}

// taggedS3 adds object tagging (GET/PUT/DELETE ?tagging, x-amz-tagging on PUT, the tag count
// on GET/HEAD) in front of gofakes3, which has none. Tags belong to a bucket and key; a new
// PUT of the key replaces them, as a new object version starts with its own tags. Version ids
// on tagging requests are ignored: the current object is always meant.
type taggedS3 struct {
	next    http.Handler
	backend gofakes3.Backend

	mu   sync.Mutex
	tags map[string][]Tag // bucket + "\x00" + key
}

func newTaggedS3(next http.Handler, backend gofakes3.Backend) *taggedS3 {
	return &taggedS3{next: next, backend: backend, tags: map[string][]Tag{}}
}

func tagKey(bucket, key string) string { return bucket + "\x00" + key }

// splitPath returns the bucket and key of a path-style request.
func splitPath(p string) (bucket, key string) {
	bucket, key, _ = strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return bucket, key
}

func (s *taggedS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key := splitPath(r.URL.Path)
	q := r.URL.Query()
	if key == "" {
		s.next.ServeHTTP(w, r)
		return
	}
	if _, ok := q["tagging"]; ok {
		s.serveTagging(w, r, bucket, key)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		// gofakes3 ignores If-Match on reads; a resumed ranged read relies on it.
		if im := r.Header.Get("If-Match"); im != "" && im != "*" {
			obj, err := s.backend.HeadObject(bucket, key)
			if err == nil && strings.Trim(im, `"`) != hex.EncodeToString(obj.Hash) {
				writeS3Error(w, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
				return
			}
		}
		if n := len(s.get(bucket, key)); n > 0 {
			w.Header().Set("x-amz-tagging-count", strconv.Itoa(n))
		}
		s.next.ServeHTTP(w, r)
	case http.MethodPut:
		if q.Has("partNumber") {
			s.next.ServeHTTP(w, r)
			return
		}
		tags, err := s.newObjectTags(r, bucket)
		if err != nil {
			writeS3Error(w, http.StatusBadRequest, "InvalidTag", err.Error())
			return
		}
		if s.serveRecorded(w, r) {
			s.set(bucket, key, tags)
		}
	case http.MethodPost:
		if !q.Has("uploadId") {
			s.next.ServeHTTP(w, r)
			return
		}
		// Completing a multipart upload creates a new object without tags.
		if s.serveRecorded(w, r) {
			s.set(bucket, key, nil)
		}
	case http.MethodDelete:
		if s.serveRecorded(w, r) && !q.Has("uploadId") {
			s.set(bucket, key, nil)
		}
	default:
		s.next.ServeHTTP(w, r)
	}
}

// newObjectTags returns the tags a PUT gives its new object: x-amz-tagging, or for a copy the
// source's tags unless the directive is REPLACE.
func (s *taggedS3) newObjectTags(r *http.Request, bucket string) ([]Tag, error) {
	if src := r.Header.Get("x-amz-copy-source"); src != "" && !strings.EqualFold(r.Header.Get("x-amz-tagging-directive"), "REPLACE") {
		src, _ = url.PathUnescape(src)
		src, _, _ = strings.Cut(src, "?versionId=")
		sb, sk := splitPath("/" + strings.TrimPrefix(src, "/"))
		return s.get(sb, sk), nil
	}
	h := r.Header.Get("x-amz-tagging")
	if h == "" {
		return nil, nil
	}
	vals, err := url.ParseQuery(h)
	if err != nil {
		return nil, fmt.Errorf("x-amz-tagging is not a URL-encoded query: %v", err)
	}
	var tags []Tag
	for k, vs := range vals {
		for _, v := range vs {
			tags = append(tags, Tag{Key: k, Value: v})
		}
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags, validateTags(tags)
}

// serveRecorded passes the request on and reports whether it succeeded (2xx).
func (s *taggedS3) serveRecorded(w http.ResponseWriter, r *http.Request) bool {
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.next.ServeHTTP(rec, r)
	return rec.status/100 == 2
}

func (s *taggedS3) get(bucket, key string) []Tag {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Tag(nil), s.tags[tagKey(bucket, key)]...)
}

func (s *taggedS3) set(bucket, key string, tags []Tag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(tags) == 0 {
		delete(s.tags, tagKey(bucket, key))
		return
	}
	s.tags[tagKey(bucket, key)] = append([]Tag(nil), tags...)
}

func (s *taggedS3) serveTagging(w http.ResponseWriter, r *http.Request, bucket, key string) {
	if ok, err := s.backend.BucketExists(bucket); err != nil || !ok {
		writeS3Error(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		return
	}
	if _, err := s.backend.HeadObject(bucket, key); err != nil {
		writeS3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	if v := r.URL.Query().Get("versionId"); v != "" {
		w.Header().Set("x-amz-version-id", v)
	}
	switch r.Method {
	case http.MethodGet:
		out := tagging{Xmlns: s3XMLNamespace, TagSet: s.get(bucket, key)}
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, xml.Header)
		_ = xml.NewEncoder(w).Encode(out)
	case http.MethodPut:
		var in tagging
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = xml.Unmarshal(body, &in)
		}
		if err != nil {
			writeS3Error(w, http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
			return
		}
		if err := validateTags(in.TagSet); err != nil {
			writeS3Error(w, http.StatusBadRequest, "InvalidTag", err.Error())
			return
		}
		s.set(bucket, key, in.TagSet)
		w.WriteHeader(http.StatusOK)
	case http.MethodDelete:
		s.set(bucket, key, nil)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeS3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
}

// validateTags applies S3's rules, with its error messages.
func validateTags(tags []Tag) error {
	if len(tags) > maxTags {
		return errors.New("Object tags cannot be greater than 10")
	}
	seen := map[string]bool{}
	for _, t := range tags {
		switch {
		case t.Key == "" || len(t.Key) > maxTagKeyLen:
			return errors.New("The TagKey you have provided is invalid")
		case len(t.Value) > maxTagValueLen:
			return errors.New("The TagValue you have provided is invalid")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return errors.New("Your TagKey cannot be prefixed with aws:")
		case seen[t.Key]:
			return errors.New("Cannot provide multiple Tags with the same key")
		}
		seen[t.Key] = true
	}
	return nil
}

func writeS3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}{Code: code, Message: msg})
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming responses streaming.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
