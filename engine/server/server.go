package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store"
)

// DefaultMaxBody caps request bodies (Taskcluster's limit is 10 MB; secret
// values are at most store.MaxValueSize anyway).
const DefaultMaxBody = 10 << 20

// Server serves the HTTP APIs. Build it with New; it is safe for concurrent use.
type Server struct {
	secrets store.Store
	auth    *AuthConfig
	log     *slog.Logger
	masker  *masking.Masker
	// logMasker masks what the server logs: it knows every value masker
	// knows and every value the server's runs registered (see New).
	logMasker *masking.Masker
	now       func() time.Time
	maxBody   int64
	nonces    nonceCache
	metrics   *metrics
	registry  *prometheus.Registry
	mux       *http.ServeMux
	started   time.Time

	takeover     time.Duration
	conductorDir string
	engineOpts   []engine.Option
	conductor    *conductor // nil without WithConductor
	shared       redis.UniversalClient
}

// Option configures New.
type Option func(*Server)

// WithAuth turns authentication on with c (nil leaves it off: every caller
// is the local principal).
func WithAuth(c *AuthConfig) Option { return func(s *Server) { s.auth = c } }

// WithLogger sets where request logs go (default: JSON on stderr). Every
// record passes through the server's masker first.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithClock sets the clock (tests: Hawk skew, token expiry).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithMaxBody caps request bodies in bytes (default DefaultMaxBody).
func WithMaxBody(n int64) Option { return func(s *Server) { s.maxBody = n } }

// New returns a Server over the secret store st (the unrestricted store:
// every request narrows it to the caller's principal with store.WithAccess).
func New(st store.Store, opts ...Option) (*Server, error) {
	if st == nil {
		return nil, errors.New("server: nil secret store")
	}
	s := &Server{secrets: st, now: time.Now, maxBody: DefaultMaxBody, started: time.Now()}
	for _, o := range opts {
		o(s)
	}
	// Two maskers, for two audiences.
	//
	// Logs (the slog handler, the access log line) mask with logMasker:
	// every value the process learned — the server's own (masker's,
	// passed on by WithAlso) and every value a run of its engine
	// registered (engine.WithProcessMasker: `${workflow.secrets.X}`,
	// `_secrets` leaves, UPDATE_SECRET, HTTP auth, values restored on
	// resume, child runs). A client puts any text in a path, a worker id or
	// a query, and the log must not keep a value a run read, whoever's run
	// it was; no client reads the log, so masking it with everything tells
	// no client anything.
	//
	// Answers (error messages and other text echoed to a client) mask with
	// masker: the values the server itself handled (its credentials, the
	// values of the Orkes secrets API), as before. Masking a client's echo
	// with the values of every run would make each answer an oracle: send
	// a guess in a path or an id, and a "***" in the answer says that the
	// guess is the value of a secret some run — possibly another
	// principal's — has read. Answers that concern one run the caller may
	// read are masked by that run's own masker (the engine's views); text
	// the caller made up is better not echoed at all (see SkipTask). With
	// auth off there is one principal, who may read every run and secret:
	// what the server keeps of a client's text and shows again (a poll's
	// worker id) is masked with logMasker then (pollMasker).
	s.logMasker = masking.New(masking.WithLogger(nil))
	s.masker = masking.New(masking.WithLogger(nil), masking.WithAlso(s.logMasker))
	if s.auth != nil {
		s.masker.RegisterAll(s.auth.credentials()...)
	}
	if s.log == nil {
		s.log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	s.log = slog.New(newMaskingHandler(s.log.Handler(), s.logMasker))
	s.registry = prometheus.NewRegistry()
	s.metrics = newMetrics(s.registry)
	if err := s.initConductor(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Masker is the server's masker: every secret value and credential the
// server handled is registered with it, and the answers to clients are
// masked with it. A value registered with it is masked in the logs too
// (LogMasker learns it).
func (s *Server) Masker() *masking.Masker { return s.masker }

// LogMasker masks the server's log lines: it knows the values Masker
// knows and every value the server's runs registered. Embedders mask
// their own log lines with it; never what is sent to a client (New says
// why).
func (s *Server) LogMasker() *masking.Masker { return s.logMasker }

// Logger is the server's masked logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// Handler returns the HTTP handler of every API.
func (s *Server) Handler() http.Handler { return s.instrument(s.mux) }

func (s *Server) routes() {
	m := http.NewServeMux()
	s.mux = m
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /health", s.healthz)
	m.Handle("GET /metrics", s.metricsHandler())
	m.HandleFunc("POST /api/token", s.token)
	s.orkesRoutes(m)
	s.taskclusterRoutes(m)
	if s.conductor != nil {
		s.conductorRoutes(m)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The method and path are the client's text: a value the server
		// knows as a secret is masked (the whole text, as sent back).
		conductorError(w, r, http.StatusNotFound, s.masker.MaskString(fmt.Sprintf("no API at %s %s", r.Method, r.URL.Path)))
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"healthy": true, "uptimeSeconds": int64(s.now().Sub(s.started).Seconds())})
}

// readBody reads the whole request body within the size limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, fmt.Errorf("%w: request body is larger than %d bytes", errTooLarge, s.maxBody)
	}
	return b, err
}

var errTooLarge = errors.New("request too large")

// writeJSON writes v as application/json with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // `$<…>` stays readable
	b := []byte(`{"status":500,"message":"response encoding failed"}`)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
	} else {
		b = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	writeRaw(w, status, "application/json", b)
}

func writeRaw(w http.ResponseWriter, status int, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeText answers text/plain (workflow ids, task ids, secret values).
func writeText(w http.ResponseWriter, status int, text string) {
	writeRaw(w, status, "text/plain;charset=UTF-8", []byte(text))
}

// writeEmpty answers status with no body (Content-Length: 0: the JS SDK
// reads a body without length as a stream).
func writeEmpty(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// conductorError writes Conductor's error shape.
func conductorError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	conductorErrorRetryable(w, r, status, msg, status >= 500)
}

// conductorErrorRetryable is conductorError saying whether the request
// may succeed if sent again: Conductor's ErrorResponse marks a
// TransientException retryable, and only that (a 500 for an exception it
// maps to no status, such as TerminateWorkflowException, is not).
func conductorErrorRetryable(w http.ResponseWriter, r *http.Request, status int, msg string, retryable bool) {
	writeJSON(w, status, map[string]any{
		"status": status, "message": maskAnswer(r, msg), "instance": hostname, "retryable": retryable,
	})
}

var hostname = func() string {
	h, err := os.Hostname()
	if err != nil {
		return "wfrun"
	}
	return h
}()
