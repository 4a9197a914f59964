package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Principal is who an operation runs as, with Taskcluster-style scopes (see
// the package doc for the syntax).
type Principal struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes,omitempty"`
}

// LocalPrincipal is the local CLI's principal: it holds every scope.
var LocalPrincipal = Principal{Name: "local", Scopes: []string{"*"}}

// Action is what an operation needs.
type Action string

// Actions.
const (
	ActionGet Action = "get"
	ActionSet Action = "set"
)

// ScopeList is the scope needed to list names.
const ScopeList = "secrets:list-secrets"

// Satisfies reports whether p holds required, directly or through a scope
// ending in "*".
func (p Principal) Satisfies(required string) bool {
	for _, s := range p.Scopes {
		if s == required {
			return true
		}
		if pre, ok := strings.CutSuffix(s, "*"); ok && strings.HasPrefix(required, pre) {
			return true
		}
	}
	return false
}

// CanName reports whether p may perform a on the secret called name by a
// name grant.
func (p Principal) CanName(a Action, name string) bool {
	return p.Satisfies("secrets:" + string(a) + ":" + name)
}

// CanTags reports whether a tag grant lets p perform a on a secret with tags.
// Only tag grants count: a name scope, even one ending in "*", never
// satisfies a tag requirement.
func (p Principal) CanTags(a Action, tags map[string]string) bool {
	for k, v := range tags {
		if p.grantsTag(a, k, v) {
			return true
		}
	}
	return false
}

// tagGrantBody returns the "key=value" part of a tag grant for a, or false
// when s is not one. A tag grant is "secrets:<a>:tag:<key>=<value>", where
// a trailing "*" may stand for the end of the value (never of the key:
// "secrets:get:tag:e*" is a name scope).
func tagGrantBody(s string, a Action) (string, bool) {
	body, ok := strings.CutPrefix(s, "secrets:"+string(a)+":tag:")
	if !ok {
		return "", false
	}
	eq, star := strings.IndexByte(body, '='), strings.IndexByte(body, '*')
	if eq <= 0 || (star >= 0 && star < eq) {
		return "", false
	}
	return body, true
}

func (p Principal) grantsTag(a Action, k, v string) bool {
	want := k + "=" + v
	for _, s := range p.Scopes {
		body, ok := tagGrantBody(s, a)
		if !ok {
			continue
		}
		if body == want {
			return true
		}
		if pre, ok := strings.CutSuffix(body, "*"); ok && strings.HasPrefix(want, pre) {
			return true
		}
	}
	return false
}

// hasTagGrants reports whether p holds any tag grant for a, which decides
// whether a denial needs to look at the secret at all.
func (p Principal) hasTagGrants(a Action) bool {
	for _, s := range p.Scopes {
		if _, ok := tagGrantBody(s, a); ok {
			return true
		}
	}
	return false
}

func (p Principal) forbidden(a Action, name string) error {
	return fmt.Errorf("secret %q: %w: principal %q lacks scope secrets:%s:%s", name, ErrForbidden, p.Name, a, name)
}

// WithAccess wraps s so every operation is checked against p's scopes.
// Denials are ErrForbidden with the same message whether or not the secret
// exists. Every read and every denial is recorded in s's audit trail when s
// keeps one (writes are recorded by the store when they commit).
func WithAccess(s Store, p Principal) Store {
	return &accessStore{inner: s, p: p}
}

type accessStore struct {
	inner Store
	p     Principal
	scope Scope
}

var (
	_ Store     = (*accessStore)(nil)
	_ GetManyer = (*accessStore)(nil)
	_ Scoper    = (*accessStore)(nil)
	_ KeyGetter = (*accessStore)(nil)
)

func (a *accessStore) ctx(ctx context.Context) context.Context { return withPrincipal(ctx, a.p.Name) }

func (a *accessStore) auditEvents(ctx context.Context, evs ...AuditEvent) error {
	return audit(a.ctx(ctx), a.inner, evs...)
}

// readEvent is the audit event of one read decision.
func readEvent(op string, scope Scope, name string, sec *Secret, err error) AuditEvent {
	e := AuditEvent{Op: op, Scope: scope.Key(), Name: name, Outcome: outcomeOf(err)}
	if sec != nil {
		e.Version = sec.Version
	}
	return e
}

// authorizeRead decides a read given the backend's answer for name.
func (a *accessStore) authorizeRead(name string, sec *Secret, err error) (*Secret, error) {
	if a.p.CanName(ActionGet, name) {
		return sec, err
	}
	if sec != nil && a.p.CanTags(ActionGet, sec.Tags) {
		return sec, err
	}
	return nil, a.p.forbidden(ActionGet, name)
}

func (a *accessStore) Get(ctx context.Context, name string) (*Secret, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	var sec *Secret
	var err error
	if !a.p.CanName(ActionGet, name) && !a.p.hasTagGrants(ActionGet) {
		err = a.p.forbidden(ActionGet, name)
	} else {
		sec, err = a.inner.Get(a.ctx(ctx), name)
		if err != nil && !isPerSecret(err) {
			return nil, err
		}
		sec, err = a.authorizeRead(name, sec, err)
	}
	if aerr := a.auditEvents(ctx, readEvent(OpGet, a.scope, name, sec, err)); aerr != nil {
		return nil, aerr
	}
	return sec, err
}

func (a *accessStore) GetMany(ctx context.Context, names []string) (map[string]*Secret, map[string]error, error) {
	found, errs, err := GetMany(a.ctx(ctx), a.inner, names)
	if err != nil {
		return nil, nil, err
	}
	outF, outE := map[string]*Secret{}, map[string]error{}
	var evs []AuditEvent
	for _, n := range names {
		sec, e := a.authorizeRead(n, found[n], errs[n])
		if sec != nil {
			outF[n] = sec
		}
		if e != nil {
			outE[n] = e
		}
		evs = append(evs, readEvent(OpGet, a.scope, n, sec, e))
	}
	if aerr := a.auditEvents(ctx, evs...); aerr != nil {
		return nil, nil, aerr
	}
	return outF, outE, nil
}

func (a *accessStore) GetKeys(ctx context.Context, keys []Key) (map[Key]*Secret, map[Key]error, error) {
	found, errs, err := GetKeys(a.ctx(ctx), a.inner, keys)
	if err != nil {
		return nil, nil, err
	}
	outF, outE := map[Key]*Secret{}, map[Key]error{}
	var evs []AuditEvent
	for _, k := range keys {
		sec, e := a.authorizeRead(k.Name, found[k], errs[k])
		if sec != nil {
			outF[k] = sec
		}
		if e != nil {
			outE[k] = e
		}
		evs = append(evs, readEvent(OpGet, k.Scope, k.Name, sec, e))
	}
	if aerr := a.auditEvents(ctx, evs...); aerr != nil {
		return nil, nil, aerr
	}
	return outF, outE, nil
}

// authorizeWrite checks a write to name. With only a tag grant it returns
// the current secret's version so the write can be made conditional on the
// secret it checked.
func (a *accessStore) authorizeWrite(ctx context.Context, name string) (byTag bool, cur *Secret, err error) {
	if err := ValidateName(name); err != nil {
		return false, nil, err
	}
	if a.p.CanName(ActionSet, name) {
		return false, nil, nil
	}
	if !a.p.hasTagGrants(ActionSet) {
		return false, nil, a.p.forbidden(ActionSet, name)
	}
	cur, gerr := a.inner.Get(a.ctx(ctx), name)
	if gerr != nil && !isPerSecret(gerr) {
		return false, nil, gerr
	}
	if cur == nil || !a.p.CanTags(ActionSet, cur.Tags) {
		return false, nil, a.p.forbidden(ActionSet, name)
	}
	return true, cur, nil
}

// denied records a refused write and returns err.
func (a *accessStore) denied(ctx context.Context, op, name string, err error) error {
	if errors.Is(err, ErrForbidden) {
		if aerr := a.auditEvents(ctx, AuditEvent{Op: op, Scope: a.scope.Key(), Name: name, Outcome: OutcomeDenied}); aerr != nil {
			return errors.Join(err, aerr)
		}
	}
	return err
}

func (a *accessStore) Put(ctx context.Context, s *Secret, opts ...PutOption) (*Secret, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil secret", ErrInvalidValue)
	}
	byTag, cur, err := a.authorizeWrite(ctx, s.Name)
	if err != nil {
		return nil, a.denied(ctx, OpSet, s.Name, err)
	}
	if byTag {
		tags := s.Tags
		if tags == nil {
			tags = cur.Tags
		}
		if !a.p.CanTags(ActionSet, tags) {
			return nil, a.denied(ctx, OpSet, s.Name, a.p.forbidden(ActionSet, s.Name))
		}
		if !NewPutOptions(opts...).CAS {
			// Make the write conditional on the secret whose tags were checked.
			opts = append(opts, IfVersion(cur.Version))
		}
	}
	return a.inner.Put(a.ctx(ctx), s, opts...)
}

func (a *accessStore) Delete(ctx context.Context, name string) error {
	if _, _, err := a.authorizeWrite(ctx, name); err != nil {
		return a.denied(ctx, OpDelete, name, err)
	}
	return a.inner.Delete(a.ctx(ctx), name)
}

func (a *accessStore) List(ctx context.Context, opt ListOptions) (*ListPage, error) {
	if !a.p.Satisfies(ScopeList) {
		err := fmt.Errorf("list secrets: %w: principal %q lacks scope %s", ErrForbidden, a.p.Name, ScopeList)
		return nil, a.denied(ctx, OpList, "", err)
	}
	page, err := a.inner.List(a.ctx(ctx), opt)
	if err == nil {
		if aerr := a.auditEvents(ctx, AuditEvent{Op: OpList, Scope: a.scope.Key(), Name: opt.Prefix, Outcome: OutcomeAllowed}); aerr != nil {
			return nil, aerr
		}
	}
	return page, err
}

// History needs get on the secret; through a tag grant, each version is
// checked against its own tags and only the granted ones are returned.
func (a *accessStore) History(ctx context.Context, name string, n int) ([]*Secret, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	byName := a.p.CanName(ActionGet, name)
	if !byName && !a.p.hasTagGrants(ActionGet) {
		return nil, a.denied(ctx, OpHistory, name, a.p.forbidden(ActionGet, name))
	}
	hist, err := a.inner.History(a.ctx(ctx), name, n)
	if err != nil && !isPerSecret(err) {
		return nil, err
	}
	if !byName {
		var granted []*Secret
		for _, h := range hist {
			if h != nil && a.p.CanTags(ActionGet, h.Tags) {
				granted = append(granted, h)
			}
		}
		if len(granted) == 0 {
			return nil, a.denied(ctx, OpHistory, name, a.p.forbidden(ActionGet, name))
		}
		hist, err = granted, nil
	}
	var cur *Secret
	if len(hist) > 0 {
		cur = hist[0]
	}
	if aerr := a.auditEvents(ctx, readEvent(OpHistory, a.scope, name, cur, err)); aerr != nil {
		return nil, aerr
	}
	return hist, err
}

// Tag changes need a name grant: a tag grant must not let a principal
// change which tag grants cover a secret.
func (a *accessStore) SetTags(ctx context.Context, name string, tags map[string]string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if !a.p.CanName(ActionSet, name) {
		return a.denied(ctx, OpTag, name, a.p.forbidden(ActionSet, name))
	}
	return a.inner.SetTags(a.ctx(ctx), name, tags)
}

func (a *accessStore) DeleteTags(ctx context.Context, name string, keys ...string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if !a.p.CanName(ActionSet, name) {
		return a.denied(ctx, OpTag, name, a.p.forbidden(ActionSet, name))
	}
	return a.inner.DeleteTags(a.ctx(ctx), name, keys...)
}

func (a *accessStore) InScope(scope Scope) Store {
	inner, err := InScope(a.inner, scope)
	if err != nil {
		return errStore{err}
	}
	return &accessStore{inner: inner, p: a.p, scope: scope}
}

func (a *accessStore) Close() error { return a.inner.Close() }

// GetKeys fetches keys through s's KeyGetter when it has one, else through
// InScope views and GetMany per scope.
func GetKeys(ctx context.Context, s Store, keys []Key) (map[Key]*Secret, map[Key]error, error) {
	if kg, ok := s.(KeyGetter); ok {
		return kg.GetKeys(ctx, keys)
	}
	byScope := map[Scope][]string{}
	var order []Scope
	for _, k := range keys {
		if _, ok := byScope[k.Scope]; !ok {
			order = append(order, k.Scope)
		}
		byScope[k.Scope] = append(byScope[k.Scope], k.Name)
	}
	found, errs := map[Key]*Secret{}, map[Key]error{}
	for _, sc := range order {
		view, err := InScope(s, sc)
		if errors.Is(err, ErrUnsupported) {
			// A backend without scopes holds nothing outside the organization.
			for _, n := range byScope[sc] {
				errs[Key{sc, n}] = fmt.Errorf("secret %q: %w", n, ErrNotFound)
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		f, e, err := GetMany(ctx, view, byScope[sc])
		if err != nil {
			return nil, nil, err
		}
		for n, v := range f {
			found[Key{sc, n}] = v
		}
		for n, v := range e {
			errs[Key{sc, n}] = v
		}
	}
	return found, errs, nil
}

// errStore answers every call with one error; it lets InScope on a wrapper
// report a bad scope lazily.
type errStore struct{ err error }

func (e errStore) Get(context.Context, string) (*Secret, error) { return nil, e.err }
func (e errStore) Put(context.Context, *Secret, ...PutOption) (*Secret, error) {
	return nil, e.err
}
func (e errStore) Delete(context.Context, string) error                     { return e.err }
func (e errStore) List(context.Context, ListOptions) (*ListPage, error)     { return nil, e.err }
func (e errStore) History(context.Context, string, int) ([]*Secret, error)  { return nil, e.err }
func (e errStore) SetTags(context.Context, string, map[string]string) error { return e.err }
func (e errStore) DeleteTags(context.Context, string, ...string) error      { return e.err }
func (e errStore) Close() error                                             { return nil }
