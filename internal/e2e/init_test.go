package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// TestInitFailures checks contract §1: a missing or malformed required variable fails the
// function at init with a log line naming the variable.
func TestInitFailures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		w := newWorld(t, be, datacloudtest.Options{})
		tests := []struct {
			fn, variable string
			without      bool   // drop the variable
			value        string // or set it to this
		}{
			{"tokenrefresh", "DATACLOUD_TOKEN_SECRET", true, ""},
			{"tokenrefresh", "DATACLOUD_CREDENTIALS_SECRET", true, ""},
			{"tokenrefresh", "DATACLOUD_REFRESH_MARGIN", false, "soon"},
			{"s3ingest", "DATACLOUD_TOKEN_SECRET", true, ""},
			{"s3ingest", "INGEST_BULK_PART_BYTES", false, "lots"},
			{"s3ingest", "INGEST_STREAMING_PAYLOAD_BYTES", false, "5000000"},
			{"querytrigger", "DATACLOUD_TOKEN_SECRET", true, ""},
			{"querytrigger", "LOG_LEVEL", false, "loud"},
		}
		for _, tc := range tests {
			t.Run(tc.fn+" "+tc.variable, func(t *testing.T) {
				o := fnOptions{}
				if tc.without {
					o.Without = []string{tc.variable}
				} else {
					o.Env = []string{tc.variable + "=" + tc.value}
				}
				f := w.start(tc.fn, o)
				res := f.invoke(`{}`)
				if res.FunctionError != lambdarun.ErrorRuntimeExit {
					t.Fatalf("function error %q, want the init to fail (%s)\n%s", res.FunctionError, lambdarun.ErrorRuntimeExit, res.Logs)
				}
				if !initErrorNames(res.Logs, tc.variable) {
					t.Errorf("no JSON error line naming %s in the logs:\n%s", tc.variable, res.Logs)
				}
			})
		}
	})
}

// initErrorNames reports whether logs hold a JSON log line at level ERROR whose text names
// the variable.
func initErrorNames(logs, variable string) bool {
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["level"] != "ERROR" {
			continue
		}
		if strings.Contains(line, variable) {
			return true
		}
	}
	return false
}
