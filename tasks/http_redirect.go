package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
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
	// Another host: none of the task's headers go there (custom headers
	// may hold secrets, and net/http forwards all but a few).
	for k := range req.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Accept", "Accept-Encoding", "Accept-Language", "User-Agent":
		default:
			req.Header.Del(k)
		}
	}
	return nil
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
