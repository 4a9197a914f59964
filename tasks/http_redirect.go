package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// maxRedirects is how many redirects one call follows (net/http's default).
const maxRedirects = 10

// errCrossHostBody stops a 307/308 that would resend the body elsewhere.
var errCrossHostBody = errors.New("redirect to another host would resend the request body; refused")

// redirectPolicy decides which redirects an HTTP task follows: the same
// scheme, host and port as the task's URI always (unless disabled); the
// hosts of the task's followRedirects list too, stripped of everything
// that may carry a secret.
type redirectPolicy struct {
	origin   *url.URL
	disabled bool
	hosts    []string // lower case, "host" or "host:port"
}

// newRedirectPolicy reads followRedirects: absent or null (same origin
// only), false (none), true (same origin only: another host must be named),
// or a list of host names.
func newRedirectPolicy(origin *url.URL, raw json.RawMessage) (*redirectPolicy, error) {
	p := &redirectPolicy{origin: origin}
	if rawNull(raw) {
		return p, nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		p.disabled = !b
		return p, nil
	}
	var hosts []string
	if err := json.Unmarshal(raw, &hosts); err != nil {
		return nil, errors.New("must be false, true or a list of host names allowed as redirect targets")
	}
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || strings.ContainsAny(h, "/?#@ ") {
			return nil, fmt.Errorf("%q is not a host name (want host or host:port)", h)
		}
		p.hosts = append(p.hosts, h)
	}
	return p, nil
}

// redirectClient is a copy of a client that follows redirects to the same
// origin only (followRedirects absent or null) through its timed transport
// (timedTransports), and what it was copied from.
type redirectClient struct {
	base      *http.Client
	transport http.RoundTripper
	jar       http.CookieJar
	timeout   time.Duration
	client    *http.Client
	timed     bool // client.Transport applies the timeouts at the connection
}

// sameOriginClient returns client with checkSameOrigin as its CheckRedirect
// and its transport's timed equivalent, and whether that applies the
// timeouts at the connection. The copy is made once and reused while calls
// use the same client with the same settings (its own CheckRedirect is
// replaced in any case), instead of a copy and a policy per call.
func (t *HTTPTask) sameOriginClient(client *http.Client) (*http.Client, bool) {
	if rc := t.sameOrigin.Load(); rc != nil && rc.base == client && samePointer(rc.transport, client.Transport) &&
		samePointer(rc.jar, client.Jar) && rc.timeout == client.Timeout {
		return rc.client, rc.timed
	}
	c := *client
	c.CheckRedirect = checkSameOrigin
	var timed bool
	c.Transport, timed = t.opts.transports.get(client.Transport)
	t.sameOrigin.Store(&redirectClient{base: client, transport: client.Transport, jar: client.Jar, timeout: client.Timeout, client: &c, timed: timed})
	return &c, timed
}

// samePointer reports whether a and b hold the same pointer (or are both
// nil). Other dynamic types count as different: comparing them could panic
// (a func, a struct holding a map).
func samePointer(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return reflect.TypeOf(a).Kind() == reflect.Pointer && a == b
}

// checkSameOrigin is the default policy's CheckRedirect: the origin is the
// first request's URL (via[0], the task's URI).
func checkSameOrigin(req *http.Request, via []*http.Request) error {
	p := redirectPolicy{origin: via[0].URL}
	return p.check(req, via)
}

func (p *redirectPolicy) check(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if p.disabled {
		return http.ErrUseLastResponse
	}
	if sameOrigin(req.URL, p.origin) {
		return nil
	}
	if !p.allowed(req.URL) {
		// Not followed: the task sees the 3xx response.
		return http.ErrUseLastResponse
	}
	if req.GetBody != nil || (req.Body != nil && req.Body != http.NoBody) {
		return errCrossHostBody
	}
	// Another host: none of the task's headers go there, not even Accept
	// or User-Agent — each may be built from the task's input (accept, a
	// headers entry), which may hold a secret, and net/http forwards all
	// but a few. The client sends its own defaults instead.
	for k := range req.Header {
		req.Header.Del(k)
	}
	return nil
}

// originJar is a client's cookie Jar for a call that may be redirected to
// a host of its followRedirects list: it gives cookies only to requests to
// the task's origin. http.Client adds the jar's cookies to each hop after
// CheckRedirect (which strips the task's own Cookie header), and a jar
// scopes cookies by host and domain, not by port or scheme (RFC 6265): the
// session the origin set on its redirecting response would go to the same
// host on another port, or to a sibling of a Domain cookie. What the hops'
// responses set is still stored.
type originJar struct {
	jar    http.CookieJar
	policy *redirectPolicy
}

func (j originJar) SetCookies(u *url.URL, cookies []*http.Cookie) { j.jar.SetCookies(u, cookies) }

func (j originJar) Cookies(u *url.URL) []*http.Cookie {
	if !sameOrigin(u, j.policy.origin) {
		return nil
	}
	return j.jar.Cookies(u)
}

func (p *redirectPolicy) allowed(u *url.URL) bool {
	if p.origin.Scheme == "https" && u.Scheme != "https" {
		return false // never downgrade
	}
	host := strings.ToLower(u.Hostname())
	hostPort := strings.ToLower(u.Host)
	for _, h := range p.hosts {
		if h == host || h == hostPort {
			return true
		}
	}
	return false
}

// sameOrigin compares scheme, host and port (default ports made explicit).
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}
