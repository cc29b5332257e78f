package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// commonFlags are the flags invoke and start-api share.
type commonFlags struct {
	template, envVars string
	overrides         stringList
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.template, "template", "template.yaml", "SAM template")
	fs.StringVar(&c.envVars, "env-vars", "", "env.json in SAM's format (Parameters, then one object per function)")
	fs.Var(&c.overrides, "parameter-overrides", "template parameters, Key=Value (repeatable; several per argument)")
}

// load reads the template and env.json; rest holds trailing Key=Value arguments, which
// continue --parameter-overrides as SAM's CLI allows.
func (c *commonFlags) load(rest []string) (*project, error) {
	ov, err := parseOverrides(append(append([]string{}, c.overrides...), rest...))
	if err != nil {
		return nil, err
	}
	return loadProject(c.template, c.envVars, ov)
}

// splitID takes the positional logical id from the front of args, if it is there.
func splitID(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// parseInterleaved parses flags that may come after positional arguments (as SAM's CLI
// allows) and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// cmdInvoke implements `sam-local invoke <LogicalId> [--event FILE|-] [--env-vars FILE]
// [--parameter-overrides K=V ...] [--template FILE]`: the response goes to stdout, the
// function's logs to stderr, and a function error makes the command fail.
func cmdInvoke(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	id, args := splitID(args)
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	event := fs.String("event", "", "event file, or - for stdin (default: {})")
	fs.StringVar(event, "e", "", "shorthand for --event")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if id == "" && len(rest) > 0 && !strings.Contains(rest[0], "=") {
		id, rest = rest[0], rest[1:]
	}
	if id == "" {
		return errors.New("invoke: want a function logical id, e.g. invoke S3IngestFunction")
	}
	p, err := c.load(rest)
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	payload, err := readEvent(*event, stdin)
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	lf, err := p.function(id, os.LookupEnv, nil)
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	buildDir, err := os.MkdirTemp("", "sam-local-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(buildDir)
	fmt.Fprintf(stderr, "Building %s from %s\n", id, lf.Package)
	rt, err := startFunction(ctx, lf, buildDir, stderr)
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	defer rt.Close()
	fmt.Fprintf(stderr, "Invoking %s (timeout %s, memory %d MB)\n", id, lf.Timeout, lf.MemoryMB)
	res, err := rt.Invoke(ctx, payload)
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	out := res.Payload
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	if _, err := stdout.Write(out); err != nil {
		return err
	}
	if res.FunctionError != "" {
		return &functionError{msg: fmt.Sprintf("%s failed: %s: %s", id, res.FunctionError, res.ErrorMessage)}
	}
	return nil
}

func readEvent(name string, stdin io.Reader) ([]byte, error) {
	switch name {
	case "":
		return []byte("{}"), nil
	case "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read event from stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read event: %w", err)
	}
	return b, nil
}
