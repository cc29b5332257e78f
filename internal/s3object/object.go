// Package s3object is the S3 side of ingestion: it streams one object version (resuming a
// broken body with a ranged GET), records the outcome as tags merged with the object's own,
// and holds the claim marker that makes an object version ingest at most once.
//
// The S3 operations it needs are declared here as narrow interfaces, so tests can run
// against moto_server through the real SDK, or wrap it to inject faults.
package s3object

import (
	"errors"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Object names one version of an S3 object. ETag is the entity tag with or without quotes;
// VersionID is empty for unversioned buckets.
type Object struct {
	Bucket    string
	Key       string
	ETag      string
	VersionID string
}

// bareETag strips the quotes S3 puts around an ETag; notifications carry it bare.
func bareETag(etag string) string {
	return strings.Trim(etag, `"`)
}

// quotedETag is the form If-Match and If-None-Match expect.
func quotedETag(etag string) string {
	if etag == "" {
		return ""
	}
	return `"` + bareETag(etag) + `"`
}

// SameETag reports whether two ETags name the same content, ignoring quoting.
func SameETag(a, b string) bool {
	return bareETag(a) == bareETag(b)
}

// httpStatus returns the HTTP status code of an SDK error, or 0.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

// IsPreconditionFailed reports whether err is S3's answer to a failed conditional request
// (If-Match / If-None-Match): 412, or 409 ConditionalRequestConflict for a concurrent write.
func IsPreconditionFailed(err error) bool {
	switch httpStatus(err) {
	case http.StatusPreconditionFailed:
		return true
	case http.StatusConflict:
		var ae smithy.APIError
		return errors.As(err, &ae) && ae.ErrorCode() == "ConditionalRequestConflict"
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed"
}

// IsNotFound reports whether err says the object (or version) does not exist.
func IsNotFound(err error) bool {
	if httpStatus(err) == http.StatusNotFound {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchVersion":
			return true
		}
	}
	return false
}
