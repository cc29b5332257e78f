package lambdarun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// maxResponseBytes caps what Invoke reads of an answer; Lambda's own limit is 6 MB.
const maxResponseBytes = 64 << 20

// logSyncTimeout bounds the wait for an invoke's log lines after its answer.
const logSyncTimeout = 10 * time.Second

// Function error kinds for failures the emulator reports without an errorType body.
const (
	// ErrorTimeout is a function that ran past its timeout ("Task timed out after …").
	ErrorTimeout = "Sandbox.Timedout"
	// ErrorRuntimeExit is a bootstrap that exited (for example at init) before answering.
	ErrorRuntimeExit = "Runtime.ExitError"
)

var (
	timedOutRE   = regexp.MustCompile(`^Task timed out after [0-9.]+ seconds$`)
	doneFailedRE = regexp.MustCompile(`Invoke DONE failed: ([A-Za-z.]+)`)
)

// Result is the outcome of one invoke.
type Result struct {
	// StatusCode is the emulator's HTTP status (200 also for handler errors, as on Lambda's
	// Invoke API; 502 when the runtime exited).
	StatusCode int
	// Payload is the body the function answered (its error document for a handler error).
	Payload []byte
	// FunctionError is empty on success; otherwise the X-Amz-Function-Error header, the
	// errorType of an error document, ErrorTimeout or ErrorRuntimeExit.
	FunctionError string
	// ErrorMessage is the errorMessage of an error document (or the emulator's text).
	ErrorMessage string
	// Logs holds the lines printed during this invoke (bootstrap output, START/END/REPORT
	// and the emulator's own log), newline-separated.
	Logs string
	// Duration is the wall time of the HTTP round trip.
	Duration time.Duration
	// InitDuration is the INIT REPORT duration when this invoke (re)initialised the bootstrap.
	InitDuration time.Duration
}

// errorDocument is what a Lambda runtime answers for a handler error.
type errorDocument struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

// Invoke sends payload to the function and waits for its answer and its log lines. An error
// means the invoke could not be made or read; a function failure is reported in the Result.
func (r *Runtime) Invoke(ctx context.Context, payload []byte) (Result, error) {
	r.invokeMu.Lock()
	defer r.invokeMu.Unlock()
	select {
	case <-r.exited:
		return Result{}, fmt.Errorf("lambdarun: invoke: aws-lambda-rie has exited: %v", r.waitErr)
	default:
	}
	r.seq++
	id := requestID()
	from := r.logs.mark()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		r.endpoint+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return Result{}, fmt.Errorf("lambdarun: invoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amzn-RequestId", id)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("lambdarun: invoke: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	resp.Body.Close()
	res := Result{StatusCode: resp.StatusCode, Payload: body, Duration: time.Since(start)}
	if err != nil {
		return res, fmt.Errorf("lambdarun: invoke: read answer: %w", err)
	}
	if serr := r.logs.sync(r.pipes, fmt.Sprintf("%s-%d", id, r.seq), logSyncTimeout); serr != nil {
		return res, serr
	}
	lines := r.logs.since(from)
	res.Logs = strings.Join(lines, "\n")
	res.InitDuration, _ = r.logs.initSince(from)
	classify(&res, resp.Header.Get("X-Amz-Function-Error"), lines)
	return res, nil
}

// classify fills FunctionError and ErrorMessage.
func classify(res *Result, header string, lines []string) {
	var doc errorDocument
	isDoc := mayBeErrorDocument(res.Payload) && json.Unmarshal(res.Payload, &doc) == nil &&
		doc.ErrorType != "" && doc.ErrorMessage != ""
	if isDoc {
		res.ErrorMessage = doc.ErrorMessage
	}
	switch {
	case header != "":
		res.FunctionError = header
		if isDoc {
			res.FunctionError = doc.ErrorType
		}
	case isDoc:
		res.FunctionError = doc.ErrorType
	case res.StatusCode == http.StatusOK && timedOutRE.Match(bytes.TrimSpace(res.Payload)):
		res.FunctionError = ErrorTimeout
		res.ErrorMessage = string(bytes.TrimSpace(res.Payload))
	case res.StatusCode != http.StatusOK:
		res.FunctionError = ErrorRuntimeExit
		res.ErrorMessage = fmt.Sprintf("aws-lambda-rie answered %d", res.StatusCode)
		for _, l := range lines {
			if m := doneFailedRE.FindStringSubmatch(l); m != nil {
				res.ErrorMessage = fmt.Sprintf("aws-lambda-rie answered %d (%s)", res.StatusCode, m[1])
			}
		}
	}
}

// mayBeErrorDocument reports whether payload is small or is an object whose first key is one
// of an error document's, so that a large answer (querytrigger's run to 6 MB) is not decoded
// whole just to learn that it is not an error.
func mayBeErrorDocument(payload []byte) bool {
	if len(payload) <= 64<<10 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	key, err := dec.Token()
	return err == nil && (key == "errorMessage" || key == "errorType")
}

// Err returns the function error as a Go error, or nil on success.
func (res Result) Err() error {
	if res.FunctionError == "" {
		return nil
	}
	return fmt.Errorf("lambdarun: function error %s: %s", res.FunctionError, res.ErrorMessage)
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
