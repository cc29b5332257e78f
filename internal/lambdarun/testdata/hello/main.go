// Command hello is a tiny Lambda bootstrap the lambdarun tests run under the RIE: it echoes
// its input, reports environment variables, fails on request and sleeps on request.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// request is what a test sends.
type request struct {
	Echo    string `json:"echo"`
	Env     string `json:"env"`
	Fail    string `json:"fail"`
	SleepMS int    `json:"sleep_ms"`
	Log     string `json:"log"`
}

// response is what the handler answers.
type response struct {
	Echo     string `json:"echo"`
	EnvValue string `json:"env_value,omitempty"`
	// DeadlineMS is how far away the invocation's deadline was when the handler started.
	DeadlineMS int64 `json:"deadline_ms"`
}

// HelloError is a named error type so that Lambda reports it as the errorType.
type HelloError struct{ Msg string }

func (e *HelloError) Error() string { return "hello: " + e.Msg }

func handle(ctx context.Context, req request) (response, error) {
	if req.Log != "" {
		fmt.Println(req.Log)
	}
	if req.Fail != "" {
		return response{}, &HelloError{Msg: req.Fail}
	}
	if req.SleepMS > 0 {
		select {
		case <-time.After(time.Duration(req.SleepMS) * time.Millisecond):
		case <-ctx.Done():
			return response{}, errors.New("hello: deadline reached")
		}
	}
	var deadline int64
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d).Milliseconds()
	}
	resp := response{Echo: req.Echo, DeadlineMS: deadline}
	if req.Env != "" {
		resp.EnvValue = os.Getenv(req.Env)
	}
	return resp, nil
}

func main() {
	if v := os.Getenv("HELLO_REQUIRED"); v == "missing" {
		fmt.Fprintln(os.Stderr, `{"level":"ERROR","msg":"missing required environment variable","variable":"HELLO_REQUIRED"}`)
		os.Exit(1)
	}
	lambda.Start(handle)
}
