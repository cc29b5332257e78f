package datacloudtest

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultTokenTTL             = 2 * time.Hour
	DefaultQueryBatchRows       = 50_000
	DefaultMaxStreamingBytes    = 200_000
	DefaultMaxUploadBytes       = 150_000_000
	DefaultMaxUploadsPerJob     = 100
	DefaultMaxDeleteIDs         = 200
	DefaultMaxAssertionLifetime = 3 * time.Minute
	// MaxQueryV1Limit is the largest limit query v1 accepts.
	MaxQueryV1Limit = 49_999
	// batchIDLifetime is how long a v2 nextBatchId stays usable.
	batchIDLifetime = time.Hour
)

// ObjectSpec configures one ingested object.
type ObjectSpec struct {
	// PrimaryKey is the field upserts and deletes match on; empty means the first field
	// of the first record (or the first CSV column) that created the table.
	PrimaryKey string
	// Category is the metadata entityCategory: Profile, Engagement or Related (default Profile).
	Category string
}

// Options configures a Server. Zero values pick the defaults above.
type Options struct {
	Clock func() time.Time // defaults to time.Now
	Seed  uint64           // seeds ids and tokens; 0 means 1

	TokenTTL time.Duration // lifetime of core and Data Cloud tokens (expires_in)
	// MaxAssertionLifetime is how far ahead an assertion's exp may lie.
	MaxAssertionLifetime time.Duration

	QueryBatchRows  int  // v2 rows per batch
	QueryBatchBytes int  // v2 cap on the JSON size of a batch's rows; 0 = none
	EmptyFinalBatch bool // v2: answer done:false on the last rows, then an empty done:true batch

	MaxStreamingBytes int   // streaming bodies must be smaller than this
	MaxDeleteIDs      int   // ids per streaming delete
	MaxUploadBytes    int64 // bytes per bulk upload
	MaxUploadsPerJob  int   // uploads per bulk job
	// JobProcessingDelay is how long (on the clock) a closed job stays InProgress; 0 applies
	// the data while closing.
	JobProcessingDelay time.Duration
	// DiscardIngestedData makes the emulator a sink for benchmarks of large files: bulk
	// uploads are read, counted and size-checked but not kept (closed jobs complete with no
	// data applied), and streaming bodies are checked for their shape ({"data":[{...}]}, valid
	// JSON) but not decoded field by field nor stored.
	DiscardIngestedData bool
	// StreamingRequestsPerSecond, when above 0, enforces Data Cloud's documented limit on
	// Ingestion API requests (250 a second across all object endpoints): the streaming
	// upsert, delete and actions/test routes together accept at most this many requests in
	// any one second on the clock (a sliding window over the accepted ones); the next answers
	// 429 with the body recorded for throttling and no Retry-After (none was ever recorded).
	// 0, the default, enforces nothing.
	StreamingRequestsPerSecond int

	Objects map[string]ObjectSpec // per object name
}

// Server is the emulator. Build it with New; it is an http.Handler.
type Server struct {
	mu      sync.Mutex
	opts    Options
	clock   func() time.Time
	rng     *rand.Rand
	mux     *http.ServeMux
	db      *sql.DB
	orgID   string
	apps    map[string]*App // by client id
	users   map[string]string
	core    map[string]*token
	tenant  map[string]*token
	secrets []string
	jobs    map[string]*job
	jobSeq  []string // job ids in creation order
	objects map[string]*object
	batches map[string]*cursor
	faults  []*faultState
	reqs    []RequestLog
	rate    rateWindow
	ingest  slidingWindow // accepted streaming requests, when they are limited
}

// New returns an emulator with no registered app.
func New(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	setDefault(&opts.TokenTTL, DefaultTokenTTL)
	setDefault(&opts.MaxAssertionLifetime, DefaultMaxAssertionLifetime)
	setDefault(&opts.QueryBatchRows, DefaultQueryBatchRows)
	setDefault(&opts.MaxStreamingBytes, DefaultMaxStreamingBytes)
	setDefault(&opts.MaxDeleteIDs, DefaultMaxDeleteIDs)
	setDefault(&opts.MaxUploadBytes, DefaultMaxUploadBytes)
	setDefault(&opts.MaxUploadsPerJob, DefaultMaxUploadsPerJob)
	opts.StreamingRequestsPerSecond = max(opts.StreamingRequestsPerSecond, 0)
	db, err := openStore()
	if err != nil {
		// The in-memory driver is linked in; failing here is a broken build, not bad input.
		panic(fmt.Sprintf("datacloudtest: open sqlite: %v", err))
	}
	s := &Server{
		opts:    opts,
		clock:   opts.Clock,
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		db:      db,
		apps:    map[string]*App{},
		users:   map[string]string{},
		core:    map[string]*token{},
		tenant:  map[string]*token{},
		jobs:    map[string]*job{},
		objects: map[string]*object{},
		batches: map[string]*cursor{},
	}
	s.ingest = slidingWindow{starts: make([]time.Time, opts.StreamingRequestsPerSecond)}
	s.orgID = s.sfID("00D")
	s.mux = s.routes()
	return s
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /services/oauth2/token", s.handleLogin)
	m.HandleFunc("GET /services/oauth2/userinfo", s.handleUserInfo)
	m.HandleFunc("POST /services/oauth2/revoke", s.handleRevoke)
	m.HandleFunc("POST /services/a360/token", s.handleExchange)

	m.HandleFunc("POST /api/v1/ingest/sources/{source}/{object}", s.tenantAPI(s.streamingLimit(s.handleStreamUpsert)))
	m.HandleFunc("DELETE /api/v1/ingest/sources/{source}/{object}", s.tenantAPI(s.streamingLimit(s.handleStreamDelete)))
	m.HandleFunc("POST /api/v1/ingest/sources/{source}/{object}/actions/test", s.tenantAPI(s.streamingLimit(s.handleStreamTest)))

	m.HandleFunc("POST /api/v1/ingest/jobs", s.tenantAPI(s.handleCreateJob))
	m.HandleFunc("GET /api/v1/ingest/jobs", s.tenantAPI(s.handleListJobs))
	m.HandleFunc("GET /api/v1/ingest/jobs/{id}", s.tenantAPI(s.handleGetJob))
	m.HandleFunc("PATCH /api/v1/ingest/jobs/{id}", s.tenantAPI(s.handlePatchJob))
	m.HandleFunc("DELETE /api/v1/ingest/jobs/{id}", s.tenantAPI(s.handleDeleteJob))
	m.HandleFunc("PUT /api/v1/ingest/jobs/{id}/batches", s.tenantAPI(s.handleUpload))

	m.HandleFunc("POST /api/v1/query", s.tenantAPI(s.handleQueryV1))
	m.HandleFunc("POST /api/v2/query", s.tenantAPI(s.handleQueryV2))
	m.HandleFunc("GET /api/v2/query/{batch}", s.tenantAPI(s.handleNextBatch))

	m.HandleFunc("GET /api/v1/metadata", s.tenantAPI(s.handleMetadata))
	m.HandleFunc("GET /api/v1/metadata/{$}", s.tenantAPI(s.handleMetadata))

	// Everything else: Spring's 405 or 404 (after the token check, as the gateway does).
	m.HandleFunc("/", s.tenantAPI(func(w http.ResponseWriter, r *http.Request, _ *token) {
		if allow := allowedMethods(m, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.springErrorf(w, http.StatusMethodNotAllowed, "Request method '%s' is not supported", r.Method)
			return
		}
		s.springError(w, http.StatusNotFound, "Not Found")
	}))
	return m
}

// allowedMethods lists the methods that have a route for r's path.
func allowedMethods(m *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := m.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, method)
		}
	}
	return allow
}

// ServeHTTP records the request, applies injected faults, then routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	body := &countingBody{rc: r.Body}
	r.Body = body
	logged := false
	rec.logRequest = func() {
		if logged {
			return
		}
		logged = true
		s.mu.Lock()
		s.reqs = append(s.reqs, RequestLog{
			Method: r.Method, Path: r.URL.Path, Status: rec.status(), BodyBytes: body.n,
		})
		s.mu.Unlock()
	}
	defer rec.logRequest()
	if s.applyFault(rec, r) {
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/") && acceptsGzip(r) {
		gz := &gzipWriter{ResponseWriter: rec}
		defer gz.finish()
		s.mux.ServeHTTP(gz, r)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// now reads the clock; callers may hold s.mu or not.
func (s *Server) now() time.Time {
	s.mu.Lock()
	c := s.clock
	s.mu.Unlock()
	return c().UTC()
}

// nowLocked reads the clock with s.mu held.
func (s *Server) nowLocked() time.Time { return s.clock().UTC() }

// SetClock replaces the clock (for example a fake one advanced by the test).
func (s *Server) SetClock(clock func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = clock
}

// SetStreamingRequestsPerSecond changes Options.StreamingRequestsPerSecond (0 or less: no
// limit) and forgets the requests counted so far.
func (s *Server) SetStreamingRequestsPerSecond(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.StreamingRequestsPerSecond = max(n, 0)
	s.ingest = slidingWindow{starts: make([]time.Time, s.opts.StreamingRequestsPerSecond)}
}

// Options returns the effective options (defaults filled in).
func (s *Server) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// Close releases the SQLite store.
func (s *Server) Close() error { return s.db.Close() }

// RequestLog is one served request. It never holds a token, a query string or a body.
type RequestLog struct {
	Method    string
	Path      string
	Status    int
	BodyBytes int64 // request body bytes read by the emulator
}

// Requests returns the requests served so far, oldest first.
func (s *Server) Requests() []RequestLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RequestLog(nil), s.reqs...)
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	reset bool // a fault closed the connection: logged as status 0
	// logRequest records the request once; a reset logs before closing the connection.
	logRequest func()
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) status() int {
	if r.reset {
		return 0
	}
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// Unwrap lets http.ResponseController reach Hijack on the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type countingBody struct {
	rc interface {
		Read([]byte) (int, error)
		Close() error
	}
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error { return c.rc.Close() }
