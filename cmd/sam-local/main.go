// Command sam-local runs this project's Lambda functions on a laptop without Docker, the way
// `sam local` would: the real bootstrap under the Lambda Runtime Interface Emulator, configured
// from template.yaml and an env.json in SAM's format.
//
//	sam-local invoke <LogicalId> [--event FILE|-] [--env-vars env.json] [--parameter-overrides K=V ...]
//	sam-local generate-event s3|sqs|eventbridge|schedule|http [flags]
//	sam-local start-api [--port N]
//	sam-local up
//	sam-local demo
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: sam-local <command> [flags]

commands:
  invoke <LogicalId>   build the function and invoke it once under the Runtime Interface Emulator
  generate-event KIND  print a sample event: s3, sqs, eventbridge, schedule, http
  start-api            serve the template's HttpApi routes on 127.0.0.1
  up                   run the embedded AWS stack and the Data Cloud emulator until interrupted
  demo                 the whole flow end to end, then exit
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sam-local:", err)
		os.Exit(1)
	}
}

// functionError is an invocation that ran but failed (its error document went to stdout).
type functionError struct{ msg string }

func (e *functionError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "invoke":
		return cmdInvoke(ctx, args[1:], stdin, stdout, stderr)
	case "start-api":
		return cmdStartAPI(ctx, args[1:], stdout, stderr)
	case "up":
		return cmdUp(ctx, args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "generate-event":
		return cmdGenerateEvent(args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
