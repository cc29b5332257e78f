package querysvc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// MaxBodyBytes is the largest request body accepted (contract §5).
const MaxBodyBytes = 64 << 10

// Routes.
const (
	routeQuery    = "POST /query"
	routeMetadata = "GET /metadata"
)

// request is one decoded invocation.
type request struct {
	apiGateway bool // answer as an API Gateway response; else as a direct invocation
	route      string
	query      map[string]string // query string parameters (metadata)
	body       []byte            // the raw request body (POST /query)
}

// probe tells an API Gateway event from a direct invocation.
type probe struct {
	RequestContext *struct {
		HTTP struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
	RouteKey string `json:"routeKey"`
}

// decodeEvent turns the raw event into a request, or an error answer.
func decodeEvent(event []byte) (request, *apiError) {
	var p probe
	if err := json.Unmarshal(event, &p); err == nil && p.RequestContext != nil && (p.RequestContext.HTTP.Method != "" || p.RouteKey != "") {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(event, &ev); err != nil {
			return request{apiGateway: true}, errf(http.StatusBadRequest, codeInvalidRequest, "the API Gateway event could not be decoded")
		}
		return decodeAPIGateway(ev)
	}
	// Direct invocation: the event is the request body itself.
	return request{route: routeQuery, body: event}, nil
}

func decodeAPIGateway(ev events.APIGatewayV2HTTPRequest) (request, *apiError) {
	r := request{apiGateway: true, query: ev.QueryStringParameters, route: ev.RouteKey}
	if r.route != routeQuery && r.route != routeMetadata {
		r.route = strings.ToUpper(ev.RequestContext.HTTP.Method) + " " + cleanPath(ev.RawPath, ev.RequestContext.Stage)
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded && len(body) > 0 {
		// Decoding first lets the size check apply to the real body.
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ev.Body))
		if err != nil {
			return r, errf(http.StatusBadRequest, codeInvalidRequest, "the body is marked isBase64Encoded but is not valid base64")
		}
		body = dec
	}
	r.body = body
	return r, nil
}

// cleanPath removes a stage prefix ("/prod/query" → "/query") and a trailing slash.
func cleanPath(raw, stage string) string {
	p := raw
	if p == "" {
		p = "/"
	}
	if stage != "" && stage != "$default" {
		if rest, ok := strings.CutPrefix(p, "/"+stage); ok && (rest == "" || rest[0] == '/') {
			p = rest
		}
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	if p == "" {
		p = "/"
	}
	return p
}

// queryRequest is POST /query's body.
type queryRequest struct {
	SQL    string `json:"sql"`
	Cursor string `json:"cursor"`
}

// parseQuery validates the body of a query request.
func parseQuery(body []byte) (queryRequest, *apiError) {
	if len(body) > MaxBodyBytes {
		return queryRequest{}, errf(http.StatusBadRequest, codeBodyTooLarge, "the request body is over 64 KiB (65536 bytes)")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return queryRequest{}, errf(http.StatusBadRequest, codeMissingSQL, `the request body is empty: send {"sql": "SELECT ..."}`)
	}
	var q queryRequest
	if err := json.Unmarshal(body, &q); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return queryRequest{}, errf(http.StatusBadRequest, codeInvalidRequest, `"%s" must be a string`, typ.Field)
		}
		return queryRequest{}, errf(http.StatusBadRequest, codeInvalidJSON, `the request body is not a JSON object like {"sql": "SELECT ..."}`)
	}
	if strings.TrimSpace(q.Cursor) != "" {
		q.SQL = "" // a continuation needs only the cursor; any sql is ignored
		return q, nil
	}
	if strings.TrimSpace(q.SQL) == "" {
		return queryRequest{}, errf(http.StatusBadRequest, codeMissingSQL, `"sql" is missing or empty`)
	}
	return q, nil
}
