package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dcbridge/datacloud-lambda/internal/lambdarun"
	"github.com/dcbridge/datacloud-lambda/internal/templatecheck"
)

// maxAPIBody is API Gateway's request payload limit.
const maxAPIBody = 10 << 20

// invoker runs one invocation of a function (a *lambdarun.Runtime).
type invoker interface {
	Invoke(ctx context.Context, payload []byte) (lambdarun.Result, error)
}

// apiHandler serves HttpApi routes the way API Gateway does with payload format 2.0: each
// request becomes an event for the route's function, and its answer becomes the response.
// IAM authorization is not checked locally; events carry a fixed IAM caller.
type apiHandler struct {
	routes map[string]invoker // "METHOD /path"
	log    io.Writer
	now    func() time.Time
}

func newAPIHandler(routes []templatecheck.Route, fns map[string]invoker, log io.Writer) (*apiHandler, error) {
	h := &apiHandler{routes: map[string]invoker{}, log: log, now: time.Now}
	for _, r := range routes {
		fn, ok := fns[r.Function]
		if !ok {
			return nil, fmt.Errorf("route %s %s: function %s is not running", r.Method, r.Path, r.Function)
		}
		h.routes[r.Method+" "+r.Path] = fn
	}
	return h, nil
}

// textual reports whether API Gateway passes a body of this content type as text.
func textual(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "" || strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml") ||
		mt == "application/json" || mt == "application/xml" || mt == "application/javascript" ||
		mt == "application/x-www-form-urlencoded"
}

func writeAPIMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (h *apiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fn, ok := h.routes[r.Method+" "+r.URL.Path]
	if !ok {
		writeAPIMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
	if err != nil {
		writeAPIMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > maxAPIBody {
		writeAPIMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	headers := map[string]string{}
	for k, vs := range r.Header {
		if strings.EqualFold(k, "Cookie") {
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	ev := httpEvent(r.Method, r.URL.Path, r.URL.RawQuery, "", headers, h.now())
	ev.Headers = headers
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ev.RequestContext.HTTP.SourceIP = ip
	}
	for _, c := range r.Cookies() {
		ev.Cookies = append(ev.Cookies, c.Name+"="+c.Value)
	}
	if len(body) > 0 {
		if textual(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		writeAPIMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	res, err := fn.Invoke(r.Context(), payload)
	if err != nil || res.FunctionError != "" {
		fmt.Fprintf(h.log, "%s %s: function failed: %v %s %s\n", r.Method, r.URL.Path, err, res.FunctionError, res.ErrorMessage)
		writeAPIMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	if err := writeLambdaResponse(w, res.Payload); err != nil {
		fmt.Fprintf(h.log, "%s %s: %v\n", r.Method, r.URL.Path, err)
		writeAPIMessage(w, http.StatusInternalServerError, "Internal Server Error")
	}
}

// writeLambdaResponse turns a function's answer into the HTTP response, as payload format 2.0
// does: an object with statusCode is a response; anything else is a 200 JSON body.
func writeLambdaResponse(w http.ResponseWriter, payload []byte) error {
	var probe map[string]json.RawMessage
	if json.Unmarshal(payload, &probe) != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		_, err := w.Write(payload)
		return err
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(payload, &resp); err != nil {
		return fmt.Errorf("malformed Lambda proxy response: %w", err)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return fmt.Errorf("malformed Lambda proxy response: body is not base64: %w", err)
		}
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	status := resp.StatusCode
	if status < 100 || status > 599 {
		return fmt.Errorf("malformed Lambda proxy response: statusCode %d", status)
	}
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// startAPIFunctions builds and starts every function that serves a route.
func startAPIFunctions(ctx context.Context, p *project, host func(string) (string, bool), buildDir string, logs io.Writer) (map[string]invoker, func(), error) {
	fns := map[string]invoker{}
	var rts []*lambdarun.Runtime
	stop := func() {
		for _, rt := range rts {
			_ = rt.Close()
		}
	}
	var ids []string
	for _, r := range p.tmpl.Routes() {
		if _, seen := fns[r.Function]; !seen {
			fns[r.Function] = nil
			ids = append(ids, r.Function)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		lf, err := p.function(id, host, nil)
		if err != nil {
			stop()
			return nil, nil, err
		}
		rt, err := startFunction(ctx, lf, buildDir, logs)
		if err != nil {
			stop()
			return nil, nil, err
		}
		rts = append(rts, rt)
		fns[id] = rt
	}
	return fns, stop, nil
}

// serveAPI listens on addr (loopback) and serves h until ctx is done.
func serveAPI(ctx context.Context, addr string, h http.Handler) (string, <-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return "http://" + ln.Addr().String(), done, nil
}

// cmdStartAPI implements `sam-local start-api [--port N]`.
func cmdStartAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("start-api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	port := fs.Int("port", 3000, "loopback port")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	p, err := c.load(rest)
	if err != nil {
		return fmt.Errorf("start-api: %w", err)
	}
	buildDir, err := os.MkdirTemp("", "sam-local-api-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(buildDir)
	fns, stop, err := startAPIFunctions(ctx, p, os.LookupEnv, buildDir, stderr)
	if err != nil {
		return fmt.Errorf("start-api: %w", err)
	}
	defer stop()
	h, err := newAPIHandler(p.tmpl.Routes(), fns, stderr)
	if err != nil {
		return fmt.Errorf("start-api: %w", err)
	}
	url, done, err := serveAPI(ctx, fmt.Sprintf("127.0.0.1:%d", *port), h)
	if err != nil {
		return fmt.Errorf("start-api: %w", err)
	}
	for _, r := range p.tmpl.Routes() {
		fmt.Fprintf(stdout, "Mounted %s %s%s -> %s\n", r.Method, url, r.Path, r.Function)
	}
	fmt.Fprintln(stdout, "Serving until interrupted (IAM auth is not checked locally)")
	return <-done
}
