package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wfrun/wfrun/store"
)

// Hawk server-side validation (https://github.com/mozilla/hawk), as the
// Taskcluster clients sign requests. Written here rather than taken from
// github.com/tent/hawk-go (which the Taskcluster Go client uses to sign):
// its server side MACs the decoded path, so a name such as "a%2Fb" that
// Taskcluster clients query-escape never validates; Hawk MACs the raw
// request URI, still %-escaped, which is what r.RequestURI holds.

// HawkSkew is how far a request timestamp may be from the server clock
// (Taskcluster allows 15 minutes).
const HawkSkew = 15 * time.Minute

// Sentinel errors of Hawk authentication; each is a 401.
var (
	ErrHawkMalformed = errors.New("malformed Hawk Authorization header")
	ErrHawkUnknownID = errors.New("unknown Hawk client id")
	ErrHawkBadMAC    = errors.New("bad Hawk MAC")
	ErrHawkStale     = errors.New("stale Hawk timestamp")
	ErrHawkReplay    = errors.New("replayed Hawk nonce")
	ErrHawkHash      = errors.New("Hawk payload hash does not match the body")
	ErrHawkExt       = errors.New("invalid Hawk ext")
)

type hawkHeader struct {
	id, ts, nonce, mac, hash, ext, app, dlg string
}

// parseHawk reads `Hawk id="…", ts="…", nonce="…", mac="…"[, hash, ext]`.
func parseHawk(h string) (hawkHeader, error) {
	var out hawkHeader
	rest, ok := strings.CutPrefix(h, "Hawk ")
	if !ok {
		return out, ErrHawkMalformed
	}
	seen := map[string]bool{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 || len(rest) < eq+2 || rest[eq+1] != '"' {
			return out, ErrHawkMalformed
		}
		key := strings.TrimSpace(rest[:eq])
		end := strings.IndexByte(rest[eq+2:], '"')
		if end < 0 {
			return out, ErrHawkMalformed
		}
		val := rest[eq+2 : eq+2+end]
		if strings.ContainsAny(val, "\\") || seen[key] {
			return out, ErrHawkMalformed
		}
		seen[key] = true
		switch key {
		case "id":
			out.id = val
		case "ts":
			out.ts = val
		case "nonce":
			out.nonce = val
		case "mac":
			out.mac = val
		case "hash":
			out.hash = val
		case "ext":
			out.ext = val
		case "app":
			out.app = val
		case "dlg":
			out.dlg = val
		default:
			return out, ErrHawkMalformed
		}
		rest = strings.TrimSpace(rest[eq+2+end+1:])
		rest = strings.TrimSpace(strings.TrimPrefix(rest, ","))
	}
	if out.id == "" || out.ts == "" || out.nonce == "" || out.mac == "" {
		return out, ErrHawkMalformed
	}
	return out, nil
}

// requestHostPort is the host and port a client signed: the Host header,
// with the scheme's default port when it names none.
func requestHostPort(r *http.Request) (string, string) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	return host, port
}

func hawkNormalized(h hawkHeader, r *http.Request) string {
	host, port := requestHostPort(r)
	var b strings.Builder
	b.WriteString("hawk.1.header\n")
	for _, s := range []string{h.ts, h.nonce, r.Method, r.RequestURI, host, port, h.hash, h.ext} {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	if h.app != "" {
		b.WriteString(h.app + "\n" + h.dlg + "\n")
	}
	return b.String()
}

// hawkPayloadHash is Hawk's payload hash of body with the request's media type.
func hawkPayloadHash(contentType string, body []byte) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	sum := sha256.New()
	sum.Write([]byte("hawk.1.payload\n" + strings.ToLower(mt) + "\n"))
	sum.Write(body)
	sum.Write([]byte("\n"))
	return base64.StdEncoding.EncodeToString(sum.Sum(nil))
}

// nonceCache remembers (id, nonce, ts) seen within the skew window, so a
// captured request cannot be replayed while its timestamp is still accepted.
// It is per process: serve processes sharing a Redis each keep their own.
type nonceCache struct {
	mu      sync.Mutex
	seen    map[string]int64 // key → unix expiry
	inserts int
}

func (c *nonceCache) firstUse(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int64{}
	}
	if exp, ok := c.seen[key]; ok && exp > now.Unix() {
		return false
	}
	c.seen[key] = now.Add(2 * HawkSkew).Unix()
	if c.inserts++; c.inserts%1024 == 0 {
		for k, exp := range c.seen {
			if exp <= now.Unix() {
				delete(c.seen, k)
			}
		}
	}
	return true
}

// hawkExt is the ext Taskcluster clients send: restricted scopes, and a
// certificate for temporary credentials.
type hawkExt struct {
	Certificate      json.RawMessage `json:"certificate"`
	AuthorizedScopes *[]string       `json:"authorizedScopes"`
}

// authenticateHawk validates r's Hawk header against the configured
// Taskcluster clients and returns the caller's principal. body is the
// request body already read (for a payload hash). Temporary credentials
// (a certificate in ext, signed by a configured client) and
// authorizedScopes are taken as Taskcluster's auth service takes them
// (tempcreds.go).
func (s *Server) authenticateHawk(r *http.Request, header string, body []byte) (store.Principal, error) {
	h, err := parseHawk(header)
	if err != nil {
		return store.Principal{}, err
	}
	now := s.now()
	p, key, ext, err := s.hawkCredentials(h.id, h.ext, now)
	if err != nil {
		return store.Principal{}, err
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(hawkNormalized(h, r)))
	got, err := base64.StdEncoding.DecodeString(h.mac)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return store.Principal{}, ErrHawkBadMAC
	}
	// The MAC is good: the timestamp and nonce are the client's own.
	ts, err := strconv.ParseInt(h.ts, 10, 64)
	if err != nil {
		return store.Principal{}, ErrHawkMalformed
	}
	if d := now.Sub(time.Unix(ts, 0)); d > HawkSkew || d < -HawkSkew {
		return store.Principal{}, fmt.Errorf("%w: %s off the server clock (allowed ±%s)", ErrHawkStale, d.Round(time.Second), HawkSkew)
	}
	if !s.nonceFirstUse(r.Context(), h.id+"\x00"+h.nonce+"\x00"+h.ts, now) {
		return store.Principal{}, ErrHawkReplay
	}
	if h.hash != "" && !hmac.Equal([]byte(h.hash), []byte(hawkPayloadHash(r.Header.Get("Content-Type"), body))) {
		return store.Principal{}, ErrHawkHash
	}
	return narrowToAuthorized(p, ext)
}

// hawkCredentials resolves the credential id (a Hawk id) and its ext to
// the principal before authorizedScopes, and the key its MACs use: a
// configured client's access token, or the token derived for temporary
// credentials. A named temporary credential is signed by another client,
// its certificate's issuer.
func (s *Server) hawkCredentials(id, rawExt string, now time.Time) (store.Principal, string, hawkExt, error) {
	var ext hawkExt
	if rawExt != "" {
		raw, err := base64.StdEncoding.DecodeString(rawExt)
		if err != nil || json.Unmarshal(raw, &ext) != nil {
			return store.Principal{}, "", ext, fmt.Errorf("%w: not base64 JSON", ErrHawkExt)
		}
	}
	issuer, err := certificateIssuer(ext.Certificate, id)
	if err != nil {
		return store.Principal{}, "", ext, err
	}
	idx, ok := s.auth.tc[issuer]
	if !ok {
		return store.Principal{}, "", ext, fmt.Errorf("%w %q", ErrHawkUnknownID, issuer)
	}
	client := s.auth.TaskclusterKeys[idx]
	p, key := client.principal(), client.AccessToken
	if hasCertificate(ext.Certificate) {
		if p, key, err = openCertificate(ext.Certificate, id, issuer, p, key, now); err != nil {
			return store.Principal{}, "", ext, err
		}
	}
	return p, key, ext, nil
}

// narrowToAuthorized applies ext.authorizedScopes: the credentials are
// narrowed to exactly these scopes; asking for one they do not hold is
// refused, as Taskcluster does.
func narrowToAuthorized(p store.Principal, ext hawkExt) (store.Principal, error) {
	if ext.AuthorizedScopes == nil {
		return p, nil
	}
	for _, sc := range *ext.AuthorizedScopes {
		if !validScope(sc) {
			return store.Principal{}, fmt.Errorf("%w: authorizedScopes must be printable ASCII scopes", ErrHawkExt)
		}
		if !p.Satisfies(sc) {
			return store.Principal{}, fmt.Errorf("%w: the credentials do not satisfy authorizedScope %q", ErrHawkExt, sc)
		}
	}
	p.Scopes = append([]string{}, *ext.AuthorizedScopes...)
	return p, nil
}
