package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wfrun/wfrun/store"
)

// The Taskcluster secrets API v1 (reference/taskcluster.md). Names arrive
// url.QueryEscape'd by the v44 Go client; the ServeMux wildcard gives them
// path-unescaped (%2F → "/", "+" kept as "+"), as the real service reads
// them. Hawk MACs are checked over the raw, still-escaped request URI.

const tcPrefix = "/api/secrets/v1"

// tcNever is the expiry shown for a secret that never expires: the
// Taskcluster schema requires a date.
var tcNever = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)

func (s *Server) taskclusterRoutes(m *http.ServeMux) {
	alive := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"alive": true, "uptime": s.now().Sub(s.started).Seconds()})
	}
	empty := func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, map[string]any{}) }
	m.HandleFunc("GET "+tcPrefix+"/ping", alive)
	m.HandleFunc("GET "+tcPrefix+"/__heartbeat__", empty)
	m.HandleFunc("GET "+tcPrefix+"/__lbheartbeat__", empty)
	m.HandleFunc("GET "+tcPrefix+"/__version__", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"source": "https://github.com/wfrun/wfrun", "version": "wfrun"})
	})
	m.HandleFunc("PUT "+tcPrefix+"/secret/{name...}", s.tc(s.tcSet))
	m.HandleFunc("GET "+tcPrefix+"/secret/{name...}", s.tc(s.tcGet))
	m.HandleFunc("DELETE "+tcPrefix+"/secret/{name...}", s.tc(s.tcRemove))
	m.HandleFunc("GET "+tcPrefix+"/secrets", s.tc(s.tcList))
}

// tcError writes Taskcluster's error shape.
func tcError(w http.ResponseWriter, r *http.Request, code, msg string) {
	status := map[string]int{
		"MalformedPayload": 400, "InvalidRequestArguments": 400, "InputValidationError": 400, "InputError": 400,
		"AuthenticationFailed": 401, "InsufficientScopes": 403, "ResourceNotFound": 404, "RequestConflict": 409,
		"InputTooLarge": 413, "InternalServerError": 500,
	}[code]
	if status == 0 {
		status = 500
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Hawk")
	}
	params := map[string]string{}
	if n := r.PathValue("name"); n != "" {
		params["name"] = maskAnswer(r, n) // the client's text, as the message's
		if nameHiddenIn(r) {
			params["name"] = withheldName // withholdSecretName
		}
	}
	writeJSON(w, status, map[string]any{
		"code": code, "message": maskAnswer(r, msg),
		"requestInfo": map[string]any{"method": strings.ToLower(r.Method), "params": params, "payload": map[string]any{}, "time": time.Now().UTC().Format(time.RFC3339Nano)},
	})
}

type tcHandler func(w http.ResponseWriter, r *http.Request, body []byte, st store.Store, p store.Principal)

// tc authenticates a Taskcluster call (Hawk, or anonymous without an
// Authorization header) and reads its body (a payload hash covers it).
func (s *Server) tc(h tcHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := s.readBody(w, r)
		if err != nil {
			if errors.Is(err, errTooLarge) {
				tcError(w, r, "InputTooLarge", err.Error())
			} else {
				tcError(w, r, "MalformedPayload", "reading the request body: "+err.Error())
			}
			return
		}
		p := store.LocalPrincipal
		if s.auth != nil {
			p = s.auth.anonymous()
			hdr, bewit := r.Header.Get("Authorization"), bewitParam(r)
			switch {
			case hdr != "" && bewit != "":
				err = fmt.Errorf("%w: a request carries a bewit or an Authorization header, not both", ErrHawkBewit)
			case hdr != "":
				p, err = s.authenticateHawk(r, hdr, body)
			case bewit != "":
				p, err = s.authenticateBewit(r, bewit)
			}
			if err != nil {
				s.log.Warn("hawk authentication failed", "path", r.URL.Path, "reason", err.Error())
				tcError(w, r, "AuthenticationFailed", err.Error())
				return
			}
		}
		setPrincipal(r, p.Name)
		h(w, r, body, store.WithAccess(s.secrets, p), p)
	}
}

// tcStoreError maps a store error to Taskcluster's codes.
func (s *Server) tcStoreError(w http.ResponseWriter, r *http.Request, err error) {
	msg := withholdSecretName(r, err, s.masker.MaskString(err.Error()))
	switch storeStatus(err) {
	case http.StatusNotFound:
		tcError(w, r, "ResourceNotFound", "Secret not found")
	case http.StatusForbidden:
		s.metrics.denied.WithLabelValues("taskcluster").Inc()
		tcError(w, r, "InsufficientScopes", msg)
	case http.StatusBadRequest:
		tcError(w, r, "InputError", msg)
	case http.StatusRequestEntityTooLarge:
		tcError(w, r, "InputTooLarge", msg)
	case http.StatusConflict:
		tcError(w, r, "RequestConflict", msg)
	default:
		s.log.Error("secret store", "path", r.URL.Path, "error", msg)
		tcError(w, r, "InternalServerError", msg)
	}
}

func (s *Server) tcSet(w http.ResponseWriter, r *http.Request, body []byte, st store.Store, p store.Principal) {
	name := r.PathValue("name")
	// Scopes are checked before the payload, as Taskcluster does.
	if !p.CanName(store.ActionSet, name) && !hasTagScope(p) {
		if err := store.ValidateName(name); err == nil {
			s.metrics.denied.WithLabelValues("taskcluster").Inc()
			tcError(w, r, "InsufficientScopes", "this request requires Taskcluster credentials that satisfy the scope secrets:set:"+name)
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tcError(w, r, "MalformedPayload", "the payload must be JSON with Content-Type application/json")
		return
	}
	var in struct {
		Secret  json.RawMessage `json:"secret"`
		Expires *time.Time      `json:"expires"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		tcError(w, r, "InputValidationError", "payload must be {\"secret\": {…}, \"expires\": \"<date-time>\"}: "+jsonErr(err))
		return
	}
	if len(in.Secret) == 0 || in.Secret[0] != '{' {
		tcError(w, r, "InputValidationError", "payload.secret must be a JSON object")
		return
	}
	if in.Expires == nil {
		tcError(w, r, "InputValidationError", "payload.expires is required")
		return
	}
	// The value joins the server's masker only once the caller may write
	// it (putSecret says why): before the write when a name scope allows
	// it, after it when a tag grant did.
	byName := p.CanName(store.ActionSet, name)
	if byName {
		s.registerValue(in.Secret)
	}
	exp := in.Expires.UTC()
	if !exp.Before(tcNever) {
		exp = time.Time{}
	}
	if _, err := st.Put(r.Context(), &store.Secret{Name: name, Value: in.Secret, Expires: exp}); err != nil {
		s.tcStoreError(w, r, err)
		return
	}
	if !byName {
		s.registerValue(in.Secret)
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (s *Server) tcGet(w http.ResponseWriter, r *http.Request, _ []byte, st store.Store, _ store.Principal) {
	sec, err := st.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		s.tcStoreError(w, r, err)
		return
	}
	s.registerValue(sec.Value)
	exp := sec.Expires
	if exp.IsZero() {
		exp = tcNever
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"secret":  sec.Value,
		"expires": exp.UTC().Format("2006-01-02T15:04:05.000Z"),
	})
}

// tcRemove answers 200 {} whether or not the secret exists.
func (s *Server) tcRemove(w http.ResponseWriter, r *http.Request, _ []byte, st store.Store, _ store.Principal) {
	if err := st.Delete(r.Context(), r.PathValue("name")); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.tcStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (s *Server) tcList(w http.ResponseWriter, r *http.Request, _ []byte, st store.Store, _ store.Principal) {
	q := r.URL.Query()
	for k := range q {
		if k != "continuationToken" && k != "limit" && k != "bewit" { // bewit: a signed URL's credentials
			tcError(w, r, "InvalidRequestArguments", "Query-string parameter: "+k+" is not supported!")
			return
		}
	}
	opt := store.ListOptions{ContinuationToken: q.Get("continuationToken")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || strings.TrimLeft(l, "0123456789") != "" {
			tcError(w, r, "InvalidRequestArguments", "limit must be a non-negative integer")
			return
		}
		opt.Limit = n
	}
	page, err := st.List(r.Context(), opt)
	if err != nil {
		if errors.Is(err, store.ErrInvalidToken) {
			tcError(w, r, "InputError", "Invalid continuation token")
			return
		}
		s.tcStoreError(w, r, err)
		return
	}
	if page.Names == nil {
		page.Names = []string{}
	}
	writeJSON(w, http.StatusOK, page)
}

// hasTagScope reports whether p holds a tag grant, which only the store can
// decide on (it needs the secret's tags).
func hasTagScope(p store.Principal) bool {
	for _, sc := range p.Scopes {
		if strings.Contains(sc, ":tag:") {
			return true
		}
	}
	return false
}
