package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// Layered chains stores: reads return the first layer's answer that is not
// ErrNotFound (so "env over bolt" lets a variable override the file), writes
// go to the first layer that is not read-only, deletes remove the name from
// every writable layer, lists merge the names of all layers.
func Layered(layers ...Store) Store { return &layered{layers: layers} }

type layered struct{ layers []Store }

var (
	_ Store     = (*layered)(nil)
	_ GetManyer = (*layered)(nil)
	_ Scoper    = (*layered)(nil)
)

func (l *layered) Get(ctx context.Context, name string) (*Secret, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	for _, s := range l.layers {
		sec, err := s.Get(ctx, name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		return sec, err
	}
	return nil, fmt.Errorf("secret %q: %w", name, ErrNotFound)
}

// GetMany asks each layer once for the names still missing.
func (l *layered) GetMany(ctx context.Context, names []string) (map[string]*Secret, map[string]error, error) {
	found, errs := map[string]*Secret{}, map[string]error{}
	pending := append([]string(nil), names...)
	for _, s := range l.layers {
		if len(pending) == 0 {
			break
		}
		f, e, err := GetMany(ctx, s, pending)
		if err != nil {
			return nil, nil, err
		}
		var next []string
		for _, n := range pending {
			if err := e[n]; err != nil && errors.Is(err, ErrNotFound) {
				next = append(next, n)
				continue
			}
			if f[n] != nil {
				found[n] = f[n]
			}
			if e[n] != nil {
				errs[n] = e[n]
			}
		}
		pending = next
	}
	for _, n := range pending {
		errs[n] = fmt.Errorf("secret %q: %w", n, ErrNotFound)
	}
	return found, errs, nil
}

func (l *layered) Put(ctx context.Context, s *Secret, opts ...PutOption) (*Secret, error) {
	for _, layer := range l.layers {
		out, err := layer.Put(ctx, s, opts...)
		if errors.Is(err, ErrReadOnly) {
			continue
		}
		return out, err
	}
	return nil, fmt.Errorf("put secret: %w: no writable layer", ErrReadOnly)
}

func (l *layered) writable(ctx context.Context, f func(Store) error) error {
	wrote := false
	for _, layer := range l.layers {
		err := f(layer)
		if errors.Is(err, ErrReadOnly) {
			continue
		}
		if err != nil {
			return err
		}
		wrote = true
	}
	if !wrote {
		return fmt.Errorf("%w: no writable layer", ErrReadOnly)
	}
	return nil
}

func (l *layered) Delete(ctx context.Context, name string) error {
	return l.writable(ctx, func(s Store) error { return s.Delete(ctx, name) })
}

// firstWritableHolding runs f on the first writable layer that has name.
func (l *layered) firstWritableHolding(ctx context.Context, name string, f func(Store) error) error {
	for _, s := range l.layers {
		err := f(s)
		if errors.Is(err, ErrReadOnly) || errors.Is(err, ErrNotFound) {
			continue
		}
		return err
	}
	return fmt.Errorf("secret %q: %w in a writable layer", name, ErrNotFound)
}

func (l *layered) SetTags(ctx context.Context, name string, tags map[string]string) error {
	return l.firstWritableHolding(ctx, name, func(s Store) error { return s.SetTags(ctx, name, tags) })
}

func (l *layered) DeleteTags(ctx context.Context, name string, keys ...string) error {
	return l.firstWritableHolding(ctx, name, func(s Store) error { return s.DeleteTags(ctx, name, keys...) })
}

func (l *layered) History(ctx context.Context, name string, n int) ([]*Secret, error) {
	for _, s := range l.layers {
		h, err := s.History(ctx, name, n)
		if errors.Is(err, ErrNotFound) || (err == nil && len(h) == 0) {
			continue
		}
		return h, err
	}
	return nil, fmt.Errorf("secret %q: %w", name, ErrNotFound)
}

// List merges every layer's names. It reads all pages of every layer, which
// is fine for the sizes a layered (local) setup holds.
func (l *layered) List(ctx context.Context, opt ListOptions) (*ListPage, error) {
	if _, _, err := NormalizeList(opt); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var all []string
	for _, s := range l.layers {
		tok := ""
		for {
			p, err := s.List(ctx, ListOptions{Prefix: opt.Prefix, Limit: MaxListLimit, ContinuationToken: tok, Expired: opt.Expired})
			if err != nil {
				return nil, err
			}
			for _, n := range p.Names {
				if !seen[n] {
					seen[n] = true
					all = append(all, n)
				}
			}
			if p.ContinuationToken == "" {
				break
			}
			tok = p.ContinuationToken
		}
	}
	sort.Strings(all)
	return PageNames(all, opt)
}

func (l *layered) InScope(scope Scope) Store {
	var views []Store
	for _, s := range l.layers {
		v, err := InScope(s, scope)
		if errors.Is(err, ErrUnsupported) {
			continue
		}
		if err != nil {
			return errStore{err}
		}
		views = append(views, v)
	}
	return &layered{layers: views}
}

func (l *layered) Close() error {
	var errs []error
	for _, s := range l.layers {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// auditEvents records in the trail of the first layer that keeps one.
func (l *layered) auditEvents(ctx context.Context, evs ...AuditEvent) error {
	for _, s := range l.layers {
		if a, ok := s.(auditor); ok {
			return a.auditEvents(ctx, evs...)
		}
	}
	return nil
}
