package datacloudtest

import (
	"compress/gzip"
	"net/http"
	"strings"
)

// gzipWriter compresses a tenant answer when the client accepts gzip, as the real
// gateway does (Postman's saved answers carry content-encoding: gzip). Go's transport
// undoes it transparently unless the caller set Accept-Encoding itself.
type gzipWriter struct {
	http.ResponseWriter
	gz          *gzip.Writer
	compress    bool
	wroteHeader bool
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if enc, _, _ := strings.Cut(strings.TrimSpace(part), ";"); strings.EqualFold(enc, "gzip") {
			return true
		}
	}
	return false
}

func (g *gzipWriter) WriteHeader(code int) {
	if g.wroteHeader {
		return
	}
	g.wroteHeader = true
	if code != http.StatusNoContent && code != http.StatusNotModified && code >= 200 {
		h := g.Header()
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		h.Del("Content-Length")
		g.compress = true
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	if !g.wroteHeader {
		g.WriteHeader(http.StatusOK)
	}
	if !g.compress {
		return g.ResponseWriter.Write(b)
	}
	if g.gz == nil {
		g.gz = gzip.NewWriter(g.ResponseWriter)
	}
	return g.gz.Write(b)
}

// finish flushes the gzip stream; an answer with compression set but no body still gets
// a valid (empty) gzip stream.
func (g *gzipWriter) finish() {
	if g.compress && g.gz == nil {
		g.gz = gzip.NewWriter(g.ResponseWriter)
	}
	if g.gz != nil {
		g.gz.Close() //nolint:errcheck // the client may have gone
	}
}
