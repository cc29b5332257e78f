// Package ingest is the s3ingest function's behaviour (contract §4): it routes object keys to
// Data Cloud sources and objects, decodes the events that announce them, and runs the
// pipeline that streams each object from S3 into a bulk job or the streaming API and records
// the outcome. functions/s3ingest only wires it to the Lambda runtime.
package ingest

import (
	"fmt"
	"strings"
)

// Format is how a landed file is read.
type Format int

// Formats by file extension.
const (
	FormatCSV       Format = iota + 1 // .csv → bulk job
	FormatJSON                        // .json: an array of records or {"data": [...]}
	FormatJSONLines                   // .jsonl / .ndjson: one record per line
)

func (f Format) String() string {
	switch f {
	case FormatCSV:
		return "csv"
	case FormatJSON:
		return "json"
	case FormatJSONLines:
		return "jsonl"
	}
	return "unknown"
}

// Operations.
const (
	OpUpsert = "upsert"
	OpDelete = "delete"
)

// Route is where a landed file goes.
type Route struct {
	Source    string // Ingestion API connector (source API name)
	Object    string // object in the connector's schema
	Operation string // OpUpsert or OpDelete
	Format    Format
	Gzip      bool
}

// BadInputError is a problem with the file itself (its key, its bytes); retrying cannot fix it.
type BadInputError struct {
	Key    string
	Reason string
}

// Error implements error.
func (e *BadInputError) Error() string {
	return "datacloud: bad input: " + e.Reason
}

// Router maps object keys to routes (contract §4.1).
type Router struct {
	// Prefix is INGEST_PREFIX; keys outside it are ignored.
	Prefix string
	// Reserved are key prefixes that are never routed even inside Prefix (the claim markers).
	Reserved []string
}

// Route returns the route of a decoded key. ignored is true (and the error nil) for keys the
// function does not handle: outside the prefix, reserved, or a "folder" key ending in "/".
// A key inside the prefix that does not follow the layout yields a *BadInputError.
func (rt Router) Route(key string) (route Route, ignored bool, err error) {
	for _, p := range rt.Reserved {
		if p != "" && strings.HasPrefix(key, p) {
			return Route{}, true, nil
		}
	}
	if !strings.HasPrefix(key, rt.Prefix) || strings.HasSuffix(key, "/") {
		return Route{}, true, nil
	}
	rest := key[len(rt.Prefix):]
	bad := func(format string, args ...any) (Route, bool, error) {
		return Route{}, false, &BadInputError{Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	layout := fmt.Sprintf("key %q does not follow %s<source>/<object>/[delete/]<file>.<ext>", key, rt.Prefix)
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return bad("%s", layout)
	}
	route.Source, route.Object, route.Operation = parts[0], parts[1], OpUpsert
	file := parts[2]
	if after, ok := strings.CutPrefix(file, "delete/"); ok {
		route.Operation, file = OpDelete, after
		if file == "" {
			return bad("%s", layout)
		}
	}
	name := file[strings.LastIndexByte(file, '/')+1:]
	lower := strings.ToLower(name)
	if base, ok := strings.CutSuffix(lower, ".gz"); ok {
		route.Gzip, lower = true, base
	}
	dot := strings.LastIndexByte(lower, '.')
	if dot < 0 {
		return bad("file %q has no extension (want .csv, .json, .jsonl or .ndjson, optionally .gz)", name)
	}
	switch ext := lower[dot+1:]; ext {
	case "csv":
		route.Format = FormatCSV
	case "json":
		route.Format = FormatJSON
	case "jsonl", "ndjson":
		route.Format = FormatJSONLines
	default:
		return bad("unsupported extension %q of %q (want .csv, .json, .jsonl or .ndjson, optionally .gz)", "."+ext, name)
	}
	return route, false, nil
}
