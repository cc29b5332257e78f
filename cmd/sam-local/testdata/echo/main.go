// Command echo is the bootstrap the sam-local tests run: it answers an HTTP API event with a
// payload 2.0 response describing the request, and any other event with the event and the
// environment variables the tests look at. An event or body containing "fail" fails.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

var envNames = []string{"ECHO_VAR", "OVERRIDDEN", "GLOBAL_VAR", "UNDECLARED", "AWS_REGION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_TIMEOUT"}

func handle(_ context.Context, raw json.RawMessage) (any, error) {
	if strings.Contains(string(raw), "fail") {
		return nil, errors.New("asked to fail")
	}
	env := map[string]string{}
	for _, k := range envNames {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	var probe struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(raw, &probe)
	if probe.Version != "2.0" {
		return map[string]any{"event": raw, "env": env}, nil
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]any{
		"method": ev.RequestContext.HTTP.Method, "path": ev.RawPath, "query": ev.RawQueryString,
		"body": ev.Body, "isBase64Encoded": ev.IsBase64Encoded, "routeKey": ev.RouteKey,
		"iam": ev.RequestContext.Authorizer != nil && ev.RequestContext.Authorizer.IAM != nil,
	})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 201, Headers: map[string]string{"Content-Type": "application/json", "X-Echo": ev.RequestContext.HTTP.Method},
		Cookies: []string{"seen=1"}, Body: string(body),
	}, nil
}

func main() { lambda.Start(handle) }
