package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wfrun/wfrun/store"
)

// The Orkes secrets API (reference/conductor-api.md). Values are plain
// strings to Orkes; wfrun stores them as JSON strings, and a secret that
// holds a JSON object (written by the CLI or the Taskcluster API) reads back
// as its compact JSON text.

func (s *Server) orkesRoutes(m *http.ServeMux) {
	m.HandleFunc("PUT /api/secrets/{key}", s.orkes(s.putSecret))
	m.HandleFunc("GET /api/secrets/{key}", s.orkes(s.getSecret))
	m.HandleFunc("DELETE /api/secrets/{key}", s.orkes(s.deleteSecret))
	m.HandleFunc("GET /api/secrets/{key}/exists", s.orkes(s.secretExists))
	m.HandleFunc("GET /api/secrets", s.orkes(s.listSecretNames))
	m.HandleFunc("POST /api/secrets", s.orkes(s.listSecretNames))
	m.HandleFunc("GET /api/secrets-v2", s.orkes(s.listSecretsWithTags))
	m.HandleFunc("GET /api/secrets/{key}/tags", s.orkes(s.getSecretTags))
	m.HandleFunc("PUT /api/secrets/{key}/tags", s.orkes(s.putSecretTags))
	m.HandleFunc("DELETE /api/secrets/{key}/tags", s.orkes(s.deleteSecretTags))
	// Orkes cache endpoints: wfrun keeps no secret cache, so there is nothing to clear.
	for _, p := range []string{"GET /api/secrets/clearLocalCache", "GET /api/secrets/clearRedisCache"} {
		m.HandleFunc(p, s.orkes(func(w http.ResponseWriter, r *http.Request, _ store.Store, _ store.Principal) {
			writeJSON(w, http.StatusOK, map[string]string{})
		}))
	}
}

// orkesHandler is a handler that runs as an authenticated principal, with
// the secret store narrowed to it.
type orkesHandler func(w http.ResponseWriter, r *http.Request, st store.Store, p store.Principal)

func (s *Server) orkes(h orkesHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.orkesPrincipal(w, r)
		if !ok {
			return
		}
		setPrincipal(r, p.Name)
		h(w, r, store.WithAccess(s.secrets, p), p)
	}
}

// secretError maps a store error to the status the Orkes clients expect.
func (s *Server) secretError(w http.ResponseWriter, r *http.Request, err error) {
	status := storeStatus(err)
	if status == http.StatusForbidden {
		s.metrics.denied.WithLabelValues("orkes").Inc()
	}
	if status >= 500 {
		s.log.Error("secret store", "path", r.URL.Path, "error", err.Error())
	}
	conductorError(w, r, status, withholdSecretName(r, err, s.masker.MaskString(err.Error())))
}

// withholdSecretName is msg, an error answer about the secret the request's
// path names, without that name when no secret holds it, it is invalid, or
// the caller may not read it: it may be a value typed where a name goes
// (the rule of the CLI and of the audit trail), and the caller knows what
// it asked. Forbidden is answered so whether or not the secret exists, so
// the rule tells nothing of which names exist. The access log line leaves
// the name out too (hideSecretName).
func withholdSecretName(r *http.Request, err error, msg string) string {
	if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalidName) && !errors.Is(err, store.ErrForbidden) {
		return msg
	}
	hideSecretName(r)
	for _, n := range []string{r.PathValue("key"), r.PathValue("name")} {
		if len(n) >= 4 { // shorter text is never masked either
			msg = strings.ReplaceAll(msg, strconv.Quote(n), strconv.Quote(withheldName))
			msg = strings.ReplaceAll(msg, n, withheldName)
		}
	}
	return msg
}

// withheldName stands for a secret name an answer does not quote.
const withheldName = "***"

func storeStatus(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return http.StatusNotFound
	case errors.Is(err, store.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, store.ErrInvalidName), errors.Is(err, store.ErrInvalidValue), errors.Is(err, store.ErrInvalidToken), errors.Is(err, store.ErrInvalidScope):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrTooLarge), errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, store.ErrReadOnly), errors.Is(err, store.ErrUnsupported):
		return http.StatusMethodNotAllowed
	}
	return http.StatusInternalServerError
}

// orkesValue turns a PUT body into the stored JSON value. The JS SDK sends
// a JSON string literal ("v"), the CLI and the Go, Java and Python SDKs the
// raw text, both labelled application/json: a body that is exactly one JSON
// string literal is decoded, anything else is kept verbatim as a string.
func orkesValue(body []byte) json.RawMessage {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) >= 2 && trimmed[0] == '"' {
		var v string
		if json.Unmarshal(trimmed, &v) == nil {
			b, _ := json.Marshal(v)
			return b
		}
	}
	b, _ := json.Marshal(string(body))
	return b
}

// valueText is the text/plain form of a stored value: a JSON string
// decoded, anything else as compact JSON.
func valueText(v json.RawMessage) string {
	var str string
	if json.Unmarshal(v, &str) == nil {
		return str
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) == nil {
		return buf.String()
	}
	return string(v)
}

// registerValue registers a value's text (a JSON document's string and
// number leaves with it: the masker derives them) and its string leaves
// with the server's masker before the value is handled any further.
func (s *Server) registerValue(v json.RawMessage) {
	s.masker.Register(valueText(v))
	var any_ any
	if json.Unmarshal(v, &any_) == nil {
		s.masker.RegisterAll(stringLeaves(any_, nil)...)
	}
}

func stringLeaves(v any, dst []string) []string {
	switch x := v.(type) {
	case string:
		dst = append(dst, x)
	case map[string]any:
		for _, c := range x {
			dst = stringLeaves(c, dst)
		}
	case []any:
		for _, c := range x {
			dst = stringLeaves(c, dst)
		}
	}
	return dst
}

func (s *Server) putSecret(w http.ResponseWriter, r *http.Request, st store.Store, p store.Principal) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return
	}
	if !utf8.Valid(body) {
		// JSON would replace the invalid bytes: refuse rather than alter.
		conductorError(w, r, http.StatusBadRequest, "secret value is not UTF-8 text; Orkes secret values are text")
		return
	}
	val := orkesValue(body)
	// The value joins the server's masker only once the caller may write
	// it: before the write when a name scope allows it, after it when a tag
	// grant did (the store checks the secret's tags). A refused body never
	// does, or any caller could blank chosen words out of the server's logs.
	byName := p.CanName(store.ActionSet, r.PathValue("key"))
	if byName {
		s.registerValue(val)
	}
	if _, err := st.Put(r.Context(), &store.Secret{Name: r.PathValue("key"), Value: val}); err != nil {
		s.secretError(w, r, err)
		return
	}
	if !byName {
		s.registerValue(val)
	}
	writeEmpty(w, http.StatusOK)
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request, st store.Store, _ store.Principal) {
	sec, err := st.Get(r.Context(), r.PathValue("key"))
	if err != nil {
		s.secretError(w, r, err)
		return
	}
	s.registerValue(sec.Value)
	writeText(w, http.StatusOK, valueText(sec.Value))
}

// deleteSecret answers 404 for a missing secret (the conductor CLI expects
// a failure), but only to a caller allowed to delete it: others get the same
// 403 whether or not it exists.
func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request, st store.Store, p store.Principal) {
	name := r.PathValue("key")
	if err := store.ValidateName(name); err != nil {
		s.secretError(w, r, err)
		return
	}
	if p.CanName(store.ActionSet, name) {
		if _, err := s.secrets.Get(r.Context(), name); errors.Is(err, store.ErrNotFound) {
			s.secretError(w, r, err)
			return
		}
	}
	if err := st.Delete(r.Context(), name); err != nil {
		s.secretError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusOK)
}

// secretExists answers 200 true/false (Orkes); forbidden is 403.
func (s *Server) secretExists(w http.ResponseWriter, r *http.Request, st store.Store, _ store.Principal) {
	_, err := st.Get(r.Context(), r.PathValue("key"))
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, true)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		if errors.Is(err, store.ErrNotFound) {
			hideSecretName(r)
		}
		writeJSON(w, http.StatusOK, false)
	default:
		s.secretError(w, r, err)
	}
}

// allNames lists every name the principal may list, all pages.
func allNames(ctx context.Context, st store.Store) ([]string, error) {
	var out []string
	opt := store.ListOptions{Limit: store.MaxListLimit}
	for {
		page, err := st.List(ctx, opt)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Names...)
		if page.ContinuationToken == "" {
			return out, nil
		}
		opt.ContinuationToken = page.ContinuationToken
	}
}

func (s *Server) listSecretNames(w http.ResponseWriter, r *http.Request, st store.Store, _ store.Principal) {
	names, err := allNames(r.Context(), st)
	if err != nil {
		s.secretError(w, r, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, names)
}

type orkesTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Type  string `json:"type,omitempty"`
}

func tagList(tags map[string]string) []orkesTag {
	out := make([]orkesTag, 0, len(tags))
	for k, v := range tags {
		out = append(out, orkesTag{Key: k, Value: v, Type: "METADATA"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// listSecretsWithTags is /api/secrets-v2: names and tags (no values) of
// the secrets the principal may list.
func (s *Server) listSecretsWithTags(w http.ResponseWriter, r *http.Request, st store.Store, _ store.Principal) {
	names, err := allNames(r.Context(), st)
	if err != nil {
		s.secretError(w, r, err)
		return
	}
	type item struct {
		Name string     `json:"name"`
		Tags []orkesTag `json:"tags"`
	}
	out := make([]item, 0, len(names))
	for _, n := range names {
		sec, err := s.secrets.Get(r.Context(), n)
		if err != nil && sec == nil {
			continue // deleted or expired since the listing
		}
		out = append(out, item{Name: n, Tags: tagList(sec.Tags)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getSecretTags(w http.ResponseWriter, r *http.Request, st store.Store, _ store.Principal) {
	sec, err := st.Get(r.Context(), r.PathValue("key"))
	if err != nil && (sec == nil || !errors.Is(err, store.ErrExpired)) {
		s.secretError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tagList(sec.Tags))
}

func (s *Server) readTags(w http.ResponseWriter, r *http.Request) ([]orkesTag, bool) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return nil, false
	}
	var tags []orkesTag
	if err := json.Unmarshal(body, &tags); err != nil {
		conductorError(w, r, http.StatusBadRequest, "request body must be a JSON array of {\"key\",\"value\"} tags: "+jsonErr(err))
		return nil, false
	}
	return tags, true
}

func (s *Server) putSecretTags(w http.ResponseWriter, r *http.Request, st store.Store, _ store.Principal) {
	tags, ok := s.readTags(w, r)
	if !ok {
		return
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	if err := st.SetTags(r.Context(), r.PathValue("key"), m); err != nil {
		s.secretError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusOK)
}

func (s *Server) deleteSecretTags(w http.ResponseWriter, r *http.Request, st store.Store, _ store.Principal) {
	tags, ok := s.readTags(w, r)
	if !ok {
		return
	}
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		keys = append(keys, t.Key)
	}
	if err := st.DeleteTags(r.Context(), r.PathValue("key"), keys...); err != nil {
		s.secretError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusOK)
}

// jsonErr describes a JSON decoding error without quoting the input.
func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "malformed JSON at byte " + itoa(int(se.Offset))
	case errors.As(err, &te):
		return "wrong JSON type at " + te.Field + ": want " + te.Type.String() + ", got " + te.Value
	}
	return "malformed JSON"
}
