package s3object

import (
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Tag keys and values of the outcome (contract §4.3).
const (
	TagStatus  = "datacloud-status"
	TagJob     = "datacloud-job"
	TagRecords = "datacloud-records"
	TagError   = "datacloud-error"

	StatusIngested = "ingested"
	StatusFailed   = "failed"
	JobStreaming   = "streaming"

	// MaxTags is S3's limit of tags per object; MaxTagValue the longest value in characters.
	MaxTags     = 10
	MaxTagValue = 256
)

// Outcome is what an ingest attempt recorded about one object.
type Outcome struct {
	Failed    bool
	JobIDs    []string // bulk job ids, in order
	Streaming bool     // sent through the streaming API
	Records   int64
	Error     string // reason of a failure; sanitized before it becomes a tag
}

// tags returns the outcome's tags in priority order: if only some fit, the first ones stay.
func (o Outcome) tags() []types.Tag {
	status := StatusIngested
	if o.Failed {
		status = StatusFailed
	}
	out := []types.Tag{tag(TagStatus, status)}
	if o.Failed {
		out = append(out, tag(TagError, SanitizeTagValue(o.Error)))
	}
	out = append(out, tag(TagRecords, strconv.FormatInt(o.Records, 10)))
	if job := JobTagValue(o.JobIDs, o.Streaming); job != "" {
		out = append(out, tag(TagJob, job))
	}
	return out
}

func tag(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

// isOurs reports whether a tag key belongs to the outcome (and is replaced on every write).
func isOurs(key string) bool {
	switch key {
	case TagStatus, TagJob, TagRecords, TagError:
		return true
	}
	return false
}

// MergeTags returns the object's own tags followed by as many of the outcome's tags as fit
// under MaxTags (a stale datacloud-error from an earlier failure disappears on success), and
// how many outcome tags did not fit.
func MergeTags(existing []types.Tag, o Outcome) (merged []types.Tag, dropped int) {
	for _, t := range existing {
		if !isOurs(aws.ToString(t.Key)) {
			merged = append(merged, t)
		}
	}
	ours := o.tags()
	room := max(MaxTags-len(merged), 0)
	if room < len(ours) {
		dropped = len(ours) - room
		ours = ours[:room]
	}
	return append(merged, ours...), dropped
}

// JobTagValue joins job ids with spaces; ids that do not fit in MaxTagValue characters are
// replaced by "+N" (N more). Streaming ingests are tagged "streaming".
func JobTagValue(ids []string, streaming bool) string {
	if len(ids) == 0 {
		if streaming {
			return JobStreaming
		}
		return ""
	}
	var b strings.Builder
	for i, id := range ids {
		sep := ""
		if i > 0 {
			sep = " "
		}
		restAfter := len(ids) - i - 1
		need := b.Len() + len(sep) + len(id)
		if restAfter > 0 {
			need += len(" +") + len(strconv.Itoa(restAfter))
		}
		if need > MaxTagValue {
			more := "+" + strconv.Itoa(len(ids)-i)
			if b.Len() == 0 {
				return more
			}
			return b.String() + " " + more
		}
		b.WriteString(sep)
		b.WriteString(id)
	}
	return b.String()
}

// SanitizeTagValue keeps what S3 allows in a tag value everywhere (ASCII letters, digits,
// spaces and +-=._:/@), turns everything else into a space, collapses runs of spaces and cuts
// the result to MaxTagValue characters.
func SanitizeTagValue(s string) string {
	var b strings.Builder
	space := true // drops leading spaces
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+-=._:/@", r)
		if !ok {
			if !space {
				b.WriteByte(' ')
				space = true
			}
			continue
		}
		b.WriteRune(r)
		space = false
		if b.Len() >= MaxTagValue {
			break
		}
	}
	out := strings.TrimRight(b.String(), " ")
	if len(out) > MaxTagValue {
		out = strings.TrimRight(out[:MaxTagValue], " ")
	}
	return out
}
