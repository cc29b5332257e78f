package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/internal/templatecheck"
)

// project is a template with what a local run needs around it.
type project struct {
	dir      string // the template's directory (holds the Makefile)
	tmpl     *templatecheck.Template
	resolver *templatecheck.Resolver
	// envFile is an env.json in SAM's format: "Parameters" for every function, then one
	// object per logical id. Nil when none was given.
	envFile map[string]map[string]string
}

func loadProject(templatePath, envVarsPath string, overrides map[string]string) (*project, error) {
	tmpl, err := templatecheck.Load(templatePath)
	if err != nil {
		return nil, err
	}
	r, err := tmpl.NewResolver(overrides)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(templatePath)
	if err != nil {
		return nil, err
	}
	p := &project{dir: filepath.Dir(abs), tmpl: tmpl, resolver: r}
	if envVarsPath != "" {
		if p.envFile, err = readEnvFile(envVarsPath); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// readEnvFile reads an env.json; values may be strings, numbers or booleans, as SAM allows.
func readEnvFile(path string) (map[string]map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("env vars: %w", err)
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("env vars %s: want {\"Parameters\": {...}, \"<LogicalId>\": {...}}: %w", path, err)
	}
	out := map[string]map[string]string{}
	for section, vars := range raw {
		out[section] = map[string]string{}
		for k, v := range vars {
			switch x := v.(type) {
			case string:
				out[section][k] = x
			case float64:
				out[section][k] = strconv.FormatFloat(x, 'f', -1, 64)
			case bool:
				out[section][k] = strconv.FormatBool(x)
			default:
				return nil, fmt.Errorf("env vars %s: %s.%s must be a string, number or boolean", path, section, k)
			}
		}
	}
	return out, nil
}

// parseOverrides reads SAM-style parameter overrides: "K=V" pairs (several per argument,
// space-separated) or "ParameterKey=K,ParameterValue=V".
func parseOverrides(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		for _, f := range strings.Fields(a) {
			if rest, ok := strings.CutPrefix(f, "ParameterKey="); ok {
				k, v, found := strings.Cut(rest, ",ParameterValue=")
				if !found {
					return nil, fmt.Errorf("parameter override %q: want ParameterKey=K,ParameterValue=V", f)
				}
				out[k] = v
				continue
			}
			k, v, found := strings.Cut(f, "=")
			if !found || k == "" {
				return nil, fmt.Errorf("parameter override %q: want Key=Value", f)
			}
			out[k] = strings.Trim(v, `"'`)
		}
	}
	return out, nil
}

var makeTarget = regexp.MustCompile(`^build-([A-Za-z0-9]+):`)
var pkgArg = regexp.MustCompile(`(?:^|\s)(\./functions/[A-Za-z0-9_./-]+|\./[A-Za-z0-9_./-]+)\s*$`)

// functionPackage finds a function's Go package: the ./path argument that ends the recipe of
// the Makefile target build-<LogicalId>, which is what `sam build` runs.
func (p *project) functionPackage(id string) (string, error) {
	f, err := os.Open(filepath.Join(p.dir, "Makefile"))
	if err != nil {
		return "", fmt.Errorf("find package of %s: %w", id, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if m := makeTarget.FindStringSubmatch(line); m != nil {
			in = m[1] == id
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "\t") {
			in = false
			continue
		}
		if m := pkgArg.FindStringSubmatch(line); m != nil {
			return filepath.Join(p.dir, m[1]), nil
		}
	}
	return "", fmt.Errorf("find package of %s: the Makefile has no build-%s target ending in a ./package argument", id, id)
}

// hostPassThrough are the host variables a local run hands to the function, as SAM passes
// the caller's AWS credentials and region into its container.
var hostPassThrough = []string{
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_EC2_METADATA_DISABLED", "SSL_CERT_FILE", "TZ",
}

// localFunction is a function ready to run under the RIE.
type localFunction struct {
	ID       string
	Package  string
	Env      []string
	Timeout  time.Duration
	MemoryMB int
}

// function resolves a function's package, environment, timeout and memory. extra holds
// variables set on top of everything (after env.json), such as the embedded stack's endpoint.
func (p *project) function(id string, host func(string) (string, bool), extra map[string]string) (localFunction, error) {
	f, err := p.tmpl.Function(id)
	if err != nil {
		return localFunction{}, err
	}
	pkg, err := p.functionPackage(id)
	if err != nil {
		return localFunction{}, err
	}
	declared, err := p.resolver.Env(f)
	if err != nil {
		return localFunction{}, err
	}
	// SAM's rule: env.json sets only variables the template declares; Parameters first, then
	// the function's own section.
	for _, section := range []string{"Parameters", id} {
		for k, v := range p.envFile[section] {
			if _, ok := f.Env[k]; ok {
				declared[k] = v
			}
		}
	}
	env := map[string]string{}
	for _, k := range hostPassThrough {
		if v, ok := host(k); ok {
			env[k] = v
		}
	}
	for k, v := range declared {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	if env["AWS_REGION"] == "" {
		env["AWS_REGION"] = "us-east-1"
	}
	// A local endpoint accepts any credentials; give the SDK some when the host has none.
	if isLoopbackURL(env["AWS_ENDPOINT_URL"]) && env["AWS_ACCESS_KEY_ID"] == "" && env["AWS_PROFILE"] == "" {
		env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "test", "test"
	}
	lf := localFunction{ID: id, Package: pkg}
	for k, v := range env {
		lf.Env = append(lf.Env, k+"="+v)
	}
	sort.Strings(lf.Env)
	timeout, err := p.intProp(f.Timeout, 3)
	if err != nil {
		return lf, fmt.Errorf("%s Timeout: %w", id, err)
	}
	lf.Timeout = time.Duration(timeout) * time.Second
	if lf.MemoryMB, err = p.intProp(f.MemorySize, 128); err != nil {
		return lf, fmt.Errorf("%s MemorySize: %w", id, err)
	}
	return lf, nil
}

func (p *project) intProp(v any, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	s, _, err := p.resolver.String(v)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

func isLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "127.0.0.1" || h == "localhost" || h == "::1"
}

// startFunction builds a function's bootstrap for the host and starts it under the RIE. Logs
// of the function and the emulator go to logs.
func startFunction(ctx context.Context, lf localFunction, buildDir string, logs io.Writer) (*lambdarun.Runtime, error) {
	boot, err := buildBootstrap(ctx, lf.Package, filepath.Join(buildDir, lf.ID))
	if err != nil {
		return nil, err
	}
	cfg := lambdarun.Config{Bootstrap: boot, Env: lf.Env, Timeout: lf.Timeout, MemoryMB: lf.MemoryMB, FunctionName: lf.ID}
	if logs != nil {
		cfg.Stdout, cfg.Stderr = logs, logs
	}
	return lambdarun.Start(ctx, cfg)
}

// buildMu serialises builds: buildBootstrap changes the process's working directory.
var buildMu sync.Mutex

// buildBootstrap builds the main package in pkgDir for the host. go build needs the module's
// directory as its working directory, so that sam-local works from anywhere (given --template).
func buildBootstrap(ctx context.Context, pkgDir, outDir string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return "", err
	}
	modDir := pkgDir
	for {
		if _, err := os.Stat(filepath.Join(modDir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(modDir)
		if parent == modDir {
			return "", fmt.Errorf("build %s: no go.mod in it or above it", pkgDir)
		}
		modDir = parent
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	if err := os.Chdir(modDir); err != nil {
		return "", err
	}
	defer os.Chdir(wd) //nolint:errcheck // back to where we were; nothing to do if it fails
	rel, err := filepath.Rel(modDir, pkgDir)
	if err != nil {
		return "", err
	}
	return lambdarun.Build(ctx, "./"+filepath.ToSlash(rel), outDir, "", "")
}
