package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// RunView is what one workflow run reads and writes secrets through: scope
// resolution for the run's project and environment (narrowest wins) plus
// access checks for the run's principal. Its Secret and Secrets methods match
// the interpolate package's SecretSource method set.
type RunView struct {
	raw   Store
	p     Principal
	order []Scope
}

// NewRunView returns the view of s for a run executing as p in project and
// environment (either may be empty). Build one per run: backends with
// per-run state (PerRun) get a fresh view each time.
func NewRunView(s Store, p Principal, project, environment string) *RunView {
	return &RunView{raw: PerRun(s), p: p, order: ResolutionOrder(project, environment)}
}

// Scopes returns the scopes the view reads, narrowest first.
func (v *RunView) Scopes() []Scope { return append([]Scope(nil), v.order...) }

type resolved struct {
	sec *Secret
	err error
}

// resolve fetches every candidate key in one GetKeys call (one round trip on
// Redis), picks the narrowest scope that holds each name, and only then
// checks access, on the secret that won. Resolution runs on the raw store so
// that an unreadable narrow secret is never silently replaced by a readable
// broader one.
func (v *RunView) resolve(ctx context.Context, names []string) (map[string]resolved, error) {
	keys := make([]Key, 0, len(names)*len(v.order))
	for _, n := range names {
		for _, sc := range v.order {
			keys = append(keys, Key{Scope: sc, Name: n})
		}
	}
	var out map[string]resolved
	decide := func(found map[Key]*Secret, errs map[Key]error) []AuditEvent {
		out = make(map[string]resolved, len(names))
		var evs []AuditEvent
		for _, n := range names {
			if _, done := out[n]; done {
				continue
			}
			var r resolved
			r.err = fmt.Errorf("secret %q: %w", n, ErrNotFound)
			where := v.order[0]
			for _, sc := range v.order {
				k := Key{Scope: sc, Name: n}
				e := errs[k]
				if e != nil && errors.Is(e, ErrNotFound) {
					continue
				}
				r, where = resolved{sec: found[k], err: e}, sc
				break
			}
			switch {
			case v.p.CanName(ActionGet, n):
			case r.sec != nil && v.p.CanTags(ActionGet, r.sec.Tags):
			default:
				r = resolved{err: v.p.forbidden(ActionGet, n)}
			}
			out[n] = r
			evs = append(evs, readEvent(OpGet, where, n, r.sec, r.err))
		}
		return evs
	}
	if err := readAudited(withPrincipal(ctx, v.p.Name), v.raw, keys, decide); err != nil {
		return nil, err
	}
	return out, nil
}

func valueOf(name string, r resolved) ([]byte, error) {
	if r.err != nil {
		return nil, wrapName(name, r.err)
	}
	if r.sec == nil {
		return nil, fmt.Errorf("secret %q: %w", name, ErrNotFound)
	}
	return []byte(r.sec.Value), nil
}

// wrapName makes sure an error names the secret exactly once.
func wrapName(name string, err error) error {
	if err == nil {
		return nil
	}
	q := fmt.Sprintf("%q", name)
	if strings.Contains(err.Error(), q) {
		return err
	}
	return fmt.Errorf("secret %q: %w", name, err)
}

// Secret returns the JSON value of name as the run sees it. Errors wrap
// ErrNotFound, ErrExpired or ErrForbidden and name the secret.
func (v *RunView) Secret(ctx context.Context, name string) ([]byte, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	res, err := v.resolve(ctx, []string{name})
	if err != nil {
		return nil, err
	}
	return valueOf(name, res[name])
}

// Secrets resolves several names with one backend fetch. The error map holds
// per-name failures; the error result is a backend failure.
func (v *RunView) Secrets(ctx context.Context, names []string) (map[string][]byte, map[string]error, error) {
	vals := make(map[string][]byte, len(names))
	errs := map[string]error{}
	valid := names[:0:0]
	for _, n := range names {
		if err := ValidateName(n); err != nil {
			errs[n] = err
			continue
		}
		valid = append(valid, n)
	}
	res, err := v.resolve(ctx, valid)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range valid {
		b, e := valueOf(n, res[n])
		if e != nil {
			errs[n] = e
			continue
		}
		vals[n] = b
	}
	return vals, errs, nil
}

// Get returns the secret as the run sees it, with metadata (for
// compare-and-swap loops and history).
func (v *RunView) Get(ctx context.Context, name string) (*Secret, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	res, err := v.resolve(ctx, []string{name})
	if err != nil {
		return nil, err
	}
	r := res[name]
	if r.err != nil {
		return r.sec, wrapName(name, r.err)
	}
	return r.sec, nil
}

// Put writes a new value for name as the run's principal (UPDATE_SECRET),
// keeping its tags and description. It writes to the scope the name
// currently resolves to, or, for a new secret, to the run's narrowest scope.
// ifVersion >= 0 makes it a compare-and-swap; -1 writes unconditionally.
func (v *RunView) Put(ctx context.Context, name string, value json.RawMessage, ifVersion int64) (*Secret, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	target := v.order[0]
	keys := make([]Key, len(v.order))
	for i, sc := range v.order {
		keys[i] = Key{Scope: sc, Name: name}
	}
	found, errs, err := GetKeys(ctx, v.raw, keys)
	if err != nil {
		return nil, err
	}
	var cur *Secret
	for _, k := range keys {
		if e := errs[k]; e != nil && errors.Is(e, ErrNotFound) {
			continue
		}
		target, cur = k.Scope, found[k]
		break
	}
	view, err := InScope(v.raw, target)
	if err != nil {
		return nil, err
	}
	s := &Secret{Name: name, Value: value}
	if cur != nil {
		s.Tags, s.Description = cur.Tags, cur.Description
	}
	var opts []PutOption
	if ifVersion >= 0 {
		opts = append(opts, IfVersion(ifVersion))
	}
	return WithAccess(view, v.p).Put(ctx, s, opts...)
}
