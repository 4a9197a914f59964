package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wfrun/wfrun/masking"
)

// reqInfo is filled in by handlers for the request log line.
type reqInfo struct {
	mu        sync.Mutex
	principal string
	// masker is the server's (Server.masker), for the answers written
	// by functions that have only the request (maskAnswer).
	masker *masking.Masker
	// nameHidden: the request's path names a secret by a name no secret
	// has, an invalid one, or one the caller may not read
	// (hideSecretName); the access log writes its route instead.
	nameHidden bool
}

// hideSecretName keeps the secret name in r's path out of the access log
// (and its error answer, withholdSecretName): a secrets API request named
// a secret no secret has that name of, gave an invalid name, or one the
// caller may not read. Such a "name" is as likely a value pasted where
// the name goes, which the log masker knows only when a run of this
// process read it (the audit trail records such a name as a keyed
// fingerprint for the same reason); the log line names the route.
func hideSecretName(r *http.Request) {
	if ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		ri.mu.Lock()
		ri.nameHidden = true
		ri.mu.Unlock()
	}
}

// nameHiddenIn reports whether hideSecretName was called for r.
func nameHiddenIn(r *http.Request) bool {
	ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo)
	if !ok {
		return false
	}
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.nameHidden
}

type reqInfoKey struct{}

func setPrincipal(r *http.Request, name string) {
	if ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		ri.mu.Lock()
		ri.principal = name
		ri.mu.Unlock()
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// instrument logs each request (method, path, route, status, duration,
// principal: never a body, never a header value), counts it, and turns a
// handler panic into a 500 instead of a dropped connection. The path and a
// panic's text are the client's or a value's text (a token pasted into a
// URL, a value a panic quotes): they are masked here, where they are
// written, not only by the logger's handler; the method is a standard one
// or "other" (methodLabel), as /metrics has it.
func (s *Server) instrument(next *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{masker: s.masker}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
		sw := &statusWriter{ResponseWriter: w}
		_, route := next.Handler(r)
		if route == "" {
			route = "unmatched"
		}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("handler panic", "route", route, "panic", s.logMasker.MaskString(fmt.Sprint(p)))
				if sw.status == 0 {
					conductorError(sw, r, http.StatusInternalServerError, "internal error")
				}
			}
			d := time.Since(start)
			code := strconv.Itoa(sw.status)
			s.metrics.requests.WithLabelValues(route, methodLabel(r.Method), code).Inc()
			s.metrics.latency.WithLabelValues(route).Observe(d.Seconds())
			ri.mu.Lock()
			principal, hidden := ri.principal, ri.nameHidden
			ri.mu.Unlock()
			path := ""
			if _, pattern, ok := strings.Cut(route, " "); hidden && ok {
				path = pattern // "/api/secrets/{key}": the name left out
			} else {
				path = s.logPath(r.URL)
			}
			level := slog.LevelInfo
			if route == "GET /metrics" || route == "GET /healthz" || route == "GET /health" || (sw.status < 400 && isPoll(route)) {
				level = slog.LevelDebug
			}
			s.log.Log(r.Context(), level, "request", "method", methodLabel(r.Method), "path", path, "route", route,
				"status", sw.status, "bytes", sw.bytes, "durationMs", float64(d.Microseconds())/1000, "principal", principal)
		}()
		next.ServeHTTP(sw, r)
	})
}

// logPath is the request's path as the access log writes it, masked with
// the log masker in every form a client may have sent a value in: the
// decoded path (r.URL.Path); the path as sent (EscapedPath: a value
// URL-escaped, the forms the masker registers, QueryEscape's with '+' for
// a space and %22 for a quote, PathEscape's with %20); and the decoded
// path with '+' read as a space (a Taskcluster client query-escapes the
// names it puts in a path, and path decoding keeps its '+'). A path that
// holds no value in any form is written decoded, as before. One that
// does is written as sent, masked; should that text, decoded again in
// either reading, still hold a value (a value in one form beside another
// in a form only decoding reveals), the decoded path is written masked in
// both readings ('+' then shows as a space), and failing that not at all:
// the log line names the route.
func (s *Server) logPath(u *url.URL) string {
	m := s.logMasker
	p := u.Path
	esc := u.EscapedPath()
	// Each distinct reading masked once: on most requests the path is sent
	// unescaped and holds no '+', and all three readings are the same text.
	if clean(m, p) && (esc == p || clean(m, esc)) && (!strings.Contains(p, "+") || clean(m, plusAsSpace(p))) {
		return p
	}
	if d := m.MaskString(p); d != p && esc == p {
		// Nothing escaped: the decoded path is the one sent.
		if clean(m, plusAsSpace(d)) {
			return d
		}
	}
	x := m.MaskString(esc)
	if dx, err := url.PathUnescape(x); err == nil && clean(m, dx) && clean(m, plusAsSpace(dx)) {
		return x
	}
	if y := m.MaskString(plusAsSpace(m.MaskString(p))); clean(m, y) {
		return y
	}
	return masking.Redacted
}

// clean reports whether masking leaves s as it is.
func clean(m *masking.Masker, s string) bool { return m.MaskString(s) == s }

// plusAsSpace reads '+' as a space, as query unescaping does.
func plusAsSpace(s string) string { return strings.ReplaceAll(s, "+", " ") }

// methodLabel is a request's method as /metrics labels it: a standard
// method, else "other". The method is the client's text, any HTTP token:
// as a label, which no masker passes over, it could carry a value the
// server knows as a secret, and each one a client made up would add a
// series for good.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "other"
}

func isPoll(route string) bool {
	return len(route) > 20 && route[:20] == "GET /api/tasks/poll/"
}

// maskingHandler masks every log record (message and string attributes,
// groups included) with the server's masker before the next handler sees it.
type maskingHandler struct {
	next   slog.Handler
	masker *masking.Masker
}

func newMaskingHandler(next slog.Handler, m *masking.Masker) slog.Handler {
	return &maskingHandler{next: next, masker: m}
}

func (h *maskingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *maskingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.masker.MaskString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.maskAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *maskingHandler) maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.masker.MaskString(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, c := range g {
			out[i] = h.maskAttr(c)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		return slog.String(a.Key, h.masker.MaskString(fmt.Sprint(v.Any())))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *maskingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(as))
	for i, a := range as {
		masked[i] = h.maskAttr(a)
	}
	return &maskingHandler{next: h.next.WithAttrs(masked), masker: h.masker}
}

func (h *maskingHandler) WithGroup(name string) slog.Handler {
	return &maskingHandler{next: h.next.WithGroup(name), masker: h.masker}
}

func itoa(i int) string { return strconv.Itoa(i) }
