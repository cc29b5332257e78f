package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/internal/s3object"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// demo is one run of `sam-local demo`: every step prints what it does and checks its result.
type demo struct {
	out      io.Writer
	logs     io.Writer // function logs (a file unless --verbose)
	local    *localEnv
	proj     *project
	s3       *s3.Client
	rts      map[string]*lambdarun.Runtime
	buildDir string
	step     int
	steps    int
	apiURL   string
	stopAPI  func()

	csvRows, jsonRows int
	objects           []objectInfo
}

// cmdDemo implements `sam-local demo`: the whole flow on this machine, with only Go installed.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	rows := fs.Int("rows", 5000, "CSV rows to land")
	jsonRows := fs.Int("json-rows", 2000, "JSON Lines records to land")
	verbose := fs.Bool("verbose", false, "print the functions' logs instead of keeping them in a file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d := &demo{out: stdout, rts: map[string]*lambdarun.Runtime{}, csvRows: *rows, jsonRows: *jsonRows, steps: 9}
	var err error
	if d.buildDir, err = os.MkdirTemp("", "sam-local-demo-"); err != nil {
		return err
	}
	defer os.RemoveAll(d.buildDir)
	logPath := "stderr"
	if *verbose {
		d.logs = stderr
	} else {
		f, err := os.CreateTemp("", "sam-local-demo-*.log")
		if err != nil {
			return err
		}
		defer f.Close()
		d.logs, logPath = f, f.Name()
	}
	defer d.close()

	steps := []struct {
		name string
		run  func(context.Context) (string, error)
	}{
		{"Find or install the Lambda Runtime Interface Emulator", d.ensureRIE},
		{"Start the embedded stack (S3, Secrets Manager) and the Data Cloud emulator", d.startStack},
		{"Build tokenrefresh and s3ingest and start each under the RIE", func(ctx context.Context) (string, error) { return d.startFunctions(ctx, c) }},
		{"tokenrefresh: scheduled run (JWT bearer + a360 exchange -> token secret)", d.refreshToken},
		{"Land a CSV with multi-line quoted fields and a JSON Lines file in S3", d.landFiles},
		{"s3ingest: the SQS batch S3 notifications produce (bulk job + streaming)", d.ingest},
		{"s3ingest: the same batch again (at most once per object version)", d.ingestAgain},
		{"start-api: build querytrigger, serve the template's HttpApi routes on loopback", d.startAPI},
		{"Query the rows back through the API, following cursors", d.queryBack},
	}
	d.steps = len(steps)
	fmt.Fprintf(stdout, "datacloud-lambda demo: S3 -> Data Cloud -> query, on this machine (function logs: %s)\n\n", logPath)
	for _, s := range steps {
		d.step++
		fmt.Fprintf(stdout, "[%d/%d] %s\n", d.step, d.steps, s.name)
		start := time.Now()
		detail, err := s.run(ctx)
		if err != nil {
			fmt.Fprintf(stdout, "      FAILED after %s: %v\n", since(start), err)
			if !*verbose {
				fmt.Fprintf(stdout, "      function logs: %s\n", logPath)
			}
			return fmt.Errorf("demo step %d failed", d.step)
		}
		for _, line := range strings.Split(strings.TrimRight(detail, "\n"), "\n") {
			if line != "" {
				fmt.Fprintf(stdout, "      %s\n", line)
			}
		}
		fmt.Fprintf(stdout, "      ok (%s)\n", since(start))
	}
	fmt.Fprintln(stdout, "\nDemo complete: every step succeeded. Shutting down.")
	return nil
}

func since(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }

func (d *demo) close() {
	if d.stopAPI != nil {
		d.stopAPI()
	}
	for _, rt := range d.rts {
		_ = rt.Close()
	}
	if d.local != nil {
		_ = d.local.Close()
	}
}

// progress prints a line every few seconds until the returned stop is called, so a long
// step shows it is alive.
func (d *demo) progress(what string) (stop func()) {
	done := make(chan struct{})
	start := time.Now()
	go func() {
		t := time.NewTicker(3 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(d.out, "      ... %s (%s)\n", what, since(start))
			}
		}
	}()
	return func() { close(done) }
}

func (d *demo) ensureRIE(ctx context.Context) (string, error) {
	if p, err := lambdarun.FindRIE(); err == nil {
		return "using " + p, nil
	} else if !errors.Is(err, lambdarun.ErrRIENotFound) {
		return "", err
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	stop := d.progress("go install " + lambdarun.RIEModule)
	defer stop()
	cmd := exec.CommandContext(ctx, goTool, "install", lambdarun.RIEModule)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s: %w\n%s", lambdarun.RIEModule, err, out.String())
	}
	p, err := lambdarun.FindRIE()
	if err != nil {
		return "", err
	}
	return "installed " + p, nil
}

func (d *demo) startStack(ctx context.Context) (string, error) {
	// Small query batches, so that reading the rows back has to follow cursors.
	l, err := startLocal(ctx, "", "", datacloudtest.Options{QueryBatchRows: 1000, StreamingRequestsPerSecond: datacloud.MaxStreamingRequestsPerSecond})
	if err != nil {
		return "", err
	}
	d.local = l
	st := l.Stack
	d.s3 = s3.NewFromConfig(aws.Config{
		Region:      st.Region,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(st.URL)
		o.UsePathStyle = true
	})
	return fmt.Sprintf("AWS endpoint %s, Data Cloud emulator %s\nbucket %s, secrets %s and %s (connected app with a fresh RSA key pair)",
		st.URL, st.DataCloudURL, localBucket, localTokenSecret, localCredsSecret), nil
}

func (d *demo) startFunctions(ctx context.Context, c commonFlags) (string, error) {
	p, err := loadProject(c.template, "", nil)
	if err != nil {
		return "", err
	}
	p.envFile = d.local.envFile()
	d.proj = p
	var lines []string
	for _, id := range []string{"TokenRefreshFunction", "S3IngestFunction"} {
		start := time.Now()
		lf, err := p.function(id, d.local.hostEnv, nil)
		if err != nil {
			return "", err
		}
		stop := d.progress("building " + id)
		rt, err := startFunction(ctx, lf, d.buildDir, d.logs)
		stop()
		if err != nil {
			return "", err
		}
		d.rts[id] = rt
		lines = append(lines, fmt.Sprintf("%-21s %s (built and started in %s)", id, strings.TrimPrefix(lf.Package, p.dir+"/"), since(start)))
	}
	return strings.Join(lines, "\n"), nil
}

// invoke runs one invocation and fails on a function error.
func (d *demo) invoke(ctx context.Context, id string, event []byte) ([]byte, error) {
	stop := d.progress(id + " running")
	res, err := d.rts[id].Invoke(ctx, event)
	stop()
	if err != nil {
		return nil, err
	}
	if res.FunctionError != "" {
		return nil, fmt.Errorf("%s failed: %s: %s", id, res.FunctionError, res.ErrorMessage)
	}
	return res.Payload, nil
}

func (d *demo) refreshToken(ctx context.Context) (string, error) {
	ev, err := marshalEvent(scheduleEvent(time.Now()))
	if err != nil {
		return "", err
	}
	out, err := d.invoke(ctx, "TokenRefreshFunction", ev)
	if err != nil {
		return "", err
	}
	var res struct {
		Refreshed   bool   `json:"refreshed"`
		ExpiresAt   string `json:"expires_at"`
		InstanceURL string `json:"instance_url"`
	}
	if err := json.Unmarshal(out, &res); err != nil || !res.Refreshed {
		return "", fmt.Errorf("want {\"refreshed\": true, ...}, got %s", out)
	}
	// The secret now holds a token; check its shape without printing it.
	var tok map[string]string
	raw, _ := d.local.Stack.SecretValue(localTokenSecret)
	if err := json.Unmarshal([]byte(raw), &tok); err != nil || tok["access_token"] == "" || tok["instance_url"] != res.InstanceURL {
		return "", errors.New("the token secret does not hold the new token")
	}
	return fmt.Sprintf("answer: refreshed=%v expires_at=%s instance_url=%s\ntoken secret updated (value not shown)", res.Refreshed, res.ExpiresAt, res.InstanceURL), nil
}

func (d *demo) put(ctx context.Context, key string, body []byte) (objectInfo, error) {
	out, err := d.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(localBucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		return objectInfo{}, fmt.Errorf("put s3://%s/%s: %w", localBucket, key, err)
	}
	return objectInfo{Bucket: localBucket, Key: key, ETag: strings.Trim(aws.ToString(out.ETag), `"`),
		VersionID: aws.ToString(out.VersionId), Size: int64(len(body)), Time: time.Now()}, nil
}

func (d *demo) landFiles(ctx context.Context) (string, error) {
	csvBody := demoCSV(d.csvRows)
	jsonBody := demoJSONLines(d.jsonRows)
	day := time.Now().UTC().Format("2006/01/02")
	csvObj, err := d.put(ctx, "ingest/demo_api/Contact/"+day+"/contacts export.csv", csvBody)
	if err != nil {
		return "", err
	}
	jsonObj, err := d.put(ctx, "ingest/demo_api/SalesOrder/"+day+"/orders.jsonl", jsonBody)
	if err != nil {
		return "", err
	}
	d.objects = []objectInfo{csvObj, jsonObj}
	return fmt.Sprintf("s3://%s/%s  %d rows, %d bytes, version %s (every 7th row has a quoted field with a newline, comma and quotes)\ns3://%s/%s  %d records, %d bytes, version %s",
		localBucket, csvObj.Key, d.csvRows, csvObj.Size, csvObj.VersionID, localBucket, jsonObj.Key, d.jsonRows, jsonObj.Size, jsonObj.VersionID), nil
}

func (d *demo) ingestEvent(ctx context.Context) (string, error) {
	ev, err := sqsS3Event(d.objects...)
	if err != nil {
		return "", err
	}
	payload, err := marshalEvent(ev)
	if err != nil {
		return "", err
	}
	out, err := d.invoke(ctx, "S3IngestFunction", payload)
	if err != nil {
		return "", err
	}
	var res struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return "", fmt.Errorf("answer is not an SQS batch response: %s", out)
	}
	if len(res.BatchItemFailures) > 0 {
		return "", fmt.Errorf("batch item failures: %s", out)
	}
	return string(bytes.TrimSpace(out)), nil
}

func (d *demo) tags(ctx context.Context, key string) (map[string]string, error) {
	return s3object.NewTagger(d.s3).Tags(ctx, s3object.Object{Bucket: localBucket, Key: key})
}

func (d *demo) ingest(ctx context.Context) (string, error) {
	answer, err := d.ingestEvent(ctx)
	if err != nil {
		return "", err
	}
	lines := []string{"answer: " + answer}
	want := map[string]int{d.objects[0].Key: d.csvRows, d.objects[1].Key: d.jsonRows}
	for _, o := range d.objects {
		tags, err := d.tags(ctx, o.Key)
		if err != nil {
			return "", err
		}
		if tags["datacloud-status"] != "ingested" || tags["datacloud-records"] != fmt.Sprint(want[o.Key]) {
			return "", fmt.Errorf("%s: outcome tags %v, want datacloud-status=ingested datacloud-records=%d", o.Key, tags, want[o.Key])
		}
		lines = append(lines, fmt.Sprintf("%s: datacloud-status=%s datacloud-records=%s datacloud-job=%s",
			filepath.Base(o.Key), tags["datacloud-status"], tags["datacloud-records"], tags["datacloud-job"]))
	}
	var jobs []string
	for _, j := range d.local.Stack.DataCloud.Jobs() {
		jobs = append(jobs, fmt.Sprintf("%s %s %s.%s", j.ID, j.State, j.SourceName, j.Object))
	}
	lines = append(lines, "bulk jobs in Data Cloud: "+strings.Join(jobs, "; "))
	return strings.Join(lines, "\n"), nil
}

func (d *demo) ingestAgain(ctx context.Context) (string, error) {
	jobsBefore := len(d.local.Stack.DataCloud.Jobs())
	reqsBefore := len(d.local.Stack.DataCloud.Requests())
	if _, err := d.ingestEvent(ctx); err != nil {
		return "", err
	}
	if n := len(d.local.Stack.DataCloud.Jobs()); n != jobsBefore {
		return "", fmt.Errorf("a duplicate event created %d new bulk job(s)", n-jobsBefore)
	}
	var ingestCalls int
	for _, r := range d.local.Stack.DataCloud.Requests()[reqsBefore:] {
		if strings.HasPrefix(r.Path, "/api/v1/ingest/") {
			ingestCalls++
		}
	}
	if ingestCalls > 0 {
		return "", fmt.Errorf("a duplicate event made %d ingestion call(s)", ingestCalls)
	}
	return "no new job and no ingestion call: the claim markers say both versions are already ingested", nil
}

func (d *demo) startAPI(ctx context.Context) (string, error) {
	stop := d.progress("building the API's functions")
	fns, stopFns, err := startAPIFunctions(ctx, d.proj, d.local.hostEnv, d.buildDir, d.logs)
	stop()
	if err != nil {
		return "", err
	}
	d.stopAPI = stopFns
	h, err := newAPIHandler(d.proj.tmpl.Routes(), fns, d.logs)
	if err != nil {
		return "", err
	}
	url, _, err := serveAPI(ctx, "127.0.0.1:0", h)
	if err != nil {
		return "", err
	}
	d.apiURL = url
	var lines []string
	for _, r := range d.proj.tmpl.Routes() {
		lines = append(lines, fmt.Sprintf("%s %s%s -> %s", r.Method, url, r.Path, r.Function))
	}
	return strings.Join(lines, "\n"), nil
}
