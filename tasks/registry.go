package tasks

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/wfrun/wfrun/tasks/eval"
)

// Task type names of the leaf executors in this package.
const (
	TypeHTTP            = "HTTP"
	TypeHTTPPoll        = "HTTP_POLL"
	TypeInline          = "INLINE"
	TypeJSONJQTransform = "JSON_JQ_TRANSFORM"
)

// AuthFunc applies an HTTP task's "auth" input to an outgoing request (for
// example a bearer token read from a secret). body is the request body
// already encoded, for signers that hash it.
type AuthFunc func(ctx context.Context, req *http.Request, body []byte, auth json.RawMessage, svc *Services) error

// options configure the leaf executors.
type options struct {
	client          *http.Client
	transports      *timedTransports
	evalOpts        []eval.Option
	auth            AuthFunc
	maxResponse     int64
	jqTimeout       time.Duration
	jqMaxResults    int
	minPollInterval time.Duration
}

// Option configures NewDefaultRegistry and Register.
type Option func(*options)

// WithHTTPClient sets the client HTTP and HTTP_POLL use when the request's
// Services carry none. The default is one shared keep-alive client.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithEvalOptions passes options to the evaluators INLINE and HTTP_POLL use
// (timeouts, size limits, masker hook).
func WithEvalOptions(opts ...eval.Option) Option {
	return func(o *options) { o.evalOpts = append(o.evalOpts, opts...) }
}

// WithHTTPAuth replaces the function that applies an HTTP task's "auth"
// input (default ApplyAuth: bearer, basic and aws-sigv4 credentials read
// from secrets). An auth input the function rejects fails the task
// terminally rather than sending an unauthenticated request.
func WithHTTPAuth(fn AuthFunc) Option { return func(o *options) { o.auth = fn } }

// WithMaxResponseBytes bounds the HTTP response body read into the task
// output (default 16 MiB).
func WithMaxResponseBytes(n int64) Option { return func(o *options) { o.maxResponse = n } }

// WithJQLimits bounds one JSON_JQ_TRANSFORM run in time and number of
// results (defaults 5s and 100,000).
func WithJQLimits(timeout time.Duration, maxResults int) Option {
	return func(o *options) { o.jqTimeout, o.jqMaxResults = timeout, maxResults }
}

// WithMinPollInterval sets a floor under HTTP_POLL's pollingInterval
// (default 0: no floor; Orkes enforces 60s on its hosted service).
func WithMinPollInterval(d time.Duration) Option { return func(o *options) { o.minPollInterval = d } }

// connectTimeoutKey carries a call's connect timeout to the dialer of a
// timed transport (timedDial), so one shared transport honours every task's
// connectionTimeOut.
type connectTimeoutKey struct{}

// newDefaultClient returns the shared client: keep-alive on, enough idle
// connections per host for a workflow's parallel branches, and a dialer
// that applies each call's connect and read timeouts (timedDial).
func newDefaultClient() *http.Client {
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	tr.DialContext = timedDial(dialer.DialContext)
	// Redirects are followed as Conductor's RestTemplate does (GET/HEAD);
	// the task reports the final response.
	return &http.Client{Transport: tr}
}

func buildOptions(opts []Option) *options {
	o := &options{
		maxResponse:  16 << 20,
		jqTimeout:    5 * time.Second,
		jqMaxResults: 100_000,
	}
	for _, f := range opts {
		f(o)
	}
	o.transports = newTimedTransports()
	if o.client == nil {
		o.client = newDefaultClient()
		o.transports.adopt(o.client.Transport.(*http.Transport))
	}
	if o.auth == nil {
		o.auth = ApplyAuth
	}
	return o
}

// Register adds the leaf executors (HTTP, HTTP_POLL, INLINE,
// JSON_JQ_TRANSFORM, NOOP) and UPDATE_SECRET to r. They share one HTTP client and
// one compile cache. EXEC is never added here: see RegisterExec.
func Register(r *Registry, opts ...Option) {
	o := buildOptions(opts)
	cache := eval.NewCache(o.evalOpts...)
	h := &HTTPTask{opts: o}
	r.Register(TypeHTTP, h)
	r.Register(TypeHTTPPoll, &HTTPPollTask{http: h, cache: cache})
	r.Register(TypeInline, &InlineTask{cache: cache})
	r.Register(TypeJSONJQTransform, newJQTask(o))
	r.Register(TypeUpdateSecret, NewUpdateSecret())
	r.Register(TypeNoop, Noop{})
}

// NewDefaultRegistry returns a registry holding this package's leaf
// executors.
func NewDefaultRegistry(opts ...Option) *Registry {
	r := NewRegistry()
	Register(r, opts...)
	return r
}
