package masking

import (
	"context"
	"log/slog"
)

// handler masks log records before they reach the wrapped handler.
type handler struct {
	m    *Masker
	next slog.Handler
}

// NewHandler returns an slog.Handler that masks the message and every
// attribute (inside groups too) and passes the record on to next. Attribute
// values of any kind are masked through their text form: a non-string value
// whose text contains a secret (a numeric PIN, an error, a struct) is
// replaced by the masked string. Attributes given to WithAttrs are masked
// when they are attached, with the values registered at that moment.
func NewHandler(m *Masker, next slog.Handler) slog.Handler {
	return &handler{m: m, next: next}
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.m.MaskString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = h.attr(a)
	}
	return &handler{m: h.m, next: h.next.WithAttrs(masked)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{m: h.m, next: h.next.WithGroup(h.m.MaskString(name))}
}

func (h *handler) attr(a slog.Attr) slog.Attr {
	a.Key = h.m.MaskString(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(h.m.MaskString(v.String()))
	case slog.KindGroup:
		g := v.Group()
		masked := make([]slog.Attr, len(g))
		for i, ga := range g {
			masked[i] = h.attr(ga)
		}
		a.Value = slog.GroupValue(masked...)
	default:
		var s string
		if err, ok := v.Any().(error); ok && v.Kind() == slog.KindAny {
			s = err.Error()
		} else {
			s = v.String()
		}
		if ms := h.m.MaskString(s); ms != s {
			a.Value = slog.StringValue(ms)
		} else {
			a.Value = v
		}
	}
	return a
}
