package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/wfrun/wfrun/store"
)

// Hawk bewits (signed URLs): a Taskcluster client's SignedURL puts
// `bewit=base64url(id\exp\mac\ext)` in a GET URL, valid until exp, so the
// URL alone reads what the signer may read (a secret handed to a browser or
// a tool without credentials). Taskcluster's services take one on any GET.

// ErrHawkBewit: a bewit that does not hold (401).
var ErrHawkBewit = errors.New("invalid bewit")

// bewitParam returns the bewit of r's query, if any.
func bewitParam(r *http.Request) string {
	if !strings.Contains(r.URL.RawQuery, "bewit=") {
		return ""
	}
	return r.URL.Query().Get("bewit")
}

// authenticateBewit validates the bewit of a GET or HEAD request and
// returns the signer's principal (authorizedScopes and temporary
// credentials apply as for a Hawk header). A bewit has no nonce: it may be
// used until it expires, which is what a signed URL is for.
func (s *Server) authenticateBewit(r *http.Request, bewit string) (store.Principal, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return store.Principal{}, fmt.Errorf("%w: a bewit authenticates GET and HEAD requests only", ErrHawkBewit)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(bewit, "="))
	if err != nil {
		return store.Principal{}, fmt.Errorf("%w: not base64url", ErrHawkBewit)
	}
	parts := bytes.SplitN(raw, []byte{'\\'}, 4)
	if len(parts) != 4 || len(parts[0]) == 0 {
		return store.Principal{}, fmt.Errorf("%w: want id\\exp\\mac\\ext", ErrHawkBewit)
	}
	id, expText, macText, ext := string(parts[0]), string(parts[1]), string(parts[2]), string(parts[3])
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil {
		return store.Principal{}, fmt.Errorf("%w: the expiry is not a number", ErrHawkBewit)
	}
	now := s.now()
	if now.Unix() >= exp {
		return store.Principal{}, fmt.Errorf("%w: expired", ErrHawkBewit)
	}
	p, key, parsed, err := s.hawkCredentials(id, ext, now)
	if err != nil {
		return store.Principal{}, err
	}
	host, port := requestHostPort(r)
	normalized := "hawk.1.bewit\n" + expText + "\n\nGET\n" + withoutBewit(r.RequestURI, bewit) + "\n" + host + "\n" + port + "\n\n" + ext + "\n"
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(normalized))
	got, err := base64.StdEncoding.DecodeString(macText)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return store.Principal{}, ErrHawkBadMAC
	}
	return narrowToAuthorized(p, parsed)
}

// withoutBewit is the request URI the signer signed: the bewit parameter
// removed, as Hawk removes it (the one after '?' or '&').
func withoutBewit(uri, bewit string) string {
	param := "bewit=" + bewit
	switch {
	case strings.HasSuffix(uri, "?"+param):
		return strings.TrimSuffix(uri, "?"+param)
	case strings.Contains(uri, "?"+param+"&"):
		return strings.Replace(uri, param+"&", "", 1)
	case strings.Contains(uri, "&"+param+"&"):
		return strings.Replace(uri, param+"&", "", 1)
	case strings.HasSuffix(uri, "&"+param):
		return strings.TrimSuffix(uri, "&"+param)
	}
	return uri
}
