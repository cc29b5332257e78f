package querysvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// marshal encodes v as aws-lambda-go's runtime does (no HTML escaping), without the
// trailing newline. Encoding our own payload this way means the runtime re-encodes the
// returned json.RawMessage byte for byte, so the size measured here is the size sent.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// payloadSize is the size of the invocation result the runtime sends for p (it appends a newline).
func payloadSize(p []byte) int { return len(p) + 1 }

// shape is how an answer body travels: inside an API Gateway response, or as the
// invocation result itself.
type shape struct{ apiGateway bool }

// wrap turns an encoded body into the invocation result.
func (s shape) wrap(status int, body []byte, retryAfter int) ([]byte, error) {
	if !s.apiGateway {
		return body, nil
	}
	pre, suf, err := envelope(status, retryAfter)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(pre)+escapedLen(body)+len(suf))
	out = append(out, pre...)
	out = appendEscaped(out, body)
	return append(out, suf...), nil
}

// bodyField is how the empty body string appears in an encoded API Gateway response.
var bodyField = []byte(`"body":""`)

// envelope is the API Gateway response without its body: everything up to and including
// the body string's opening quote, and everything from its closing quote on. The body is
// then escaped straight into the result (see escape.go) instead of being copied into a Go
// string and encoded again. The headers are ours, so bodyField occurs only as the field.
func envelope(status, retryAfter int) (pre, suf []byte, err error) {
	headers := map[string]string{"content-type": "application/json"}
	if retryAfter > 0 {
		headers["retry-after"] = strconv.Itoa(retryAfter)
	}
	p, err := marshal(events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: headers})
	if err != nil {
		return nil, nil, err
	}
	i := bytes.Index(p, bodyField)
	if i < 0 {
		return nil, nil, errors.New("datacloud: encode answer: the API Gateway response has no body field")
	}
	i += len(bodyField) - 1
	return p[:i], p[i:], nil
}

// cost is what len(raw) JSON bytes of the body add to the invocation result: themselves for
// a direct invocation, their escaped form inside the API Gateway body string.
func (s shape) cost(raw []byte) int {
	if !s.apiGateway {
		return len(raw)
	}
	return escapedLen(raw)
}

// costs is cost of every row.
func (s shape) costs(rows []json.RawMessage) []int {
	c := make([]int, len(rows))
	for i, r := range rows {
		c[i] = s.cost(r)
	}
	return c
}

// appendBody appends raw JSON body bytes as they appear in the invocation result.
func (s shape) appendBody(dst, raw []byte) []byte {
	if !s.apiGateway {
		return append(dst, raw...)
	}
	return appendEscaped(dst, raw)
}

// errorBody encodes an error answer; a direct invocation's also carries "status".
func (s shape) errorBody(e *apiError) []byte {
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	body := struct {
		Error  detail `json:"error"`
		Status int    `json:"status,omitempty"`
	}{Error: detail{Code: e.code, Message: e.message}}
	if !s.apiGateway {
		body.Status = e.status
	}
	b, _ := marshal(body) // strings and an int: cannot fail
	return b
}

// errorPayload is the full invocation result for an error.
func (s shape) errorPayload(e *apiError) []byte {
	p, err := s.wrap(e.status, s.errorBody(e), e.retryAfter)
	if err != nil {
		// Unreachable (the body is a plain string); answer something valid regardless.
		return []byte(`{"statusCode":500,"body":"{\"error\":{\"code\":\"internal\",\"message\":\"internal error\"}}"}`)
	}
	return p
}

// statusOK is the status of a successful answer.
const statusOK = http.StatusOK
