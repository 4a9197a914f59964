// Package env is a read-only secret backend over environment variables:
// WFRUN_SECRET_<NAME> holds the secret NAME (the prefix is configurable;
// Conductor OSS uses CONDUCTOR_SECRET_, Prefect PREFECT__CONTEXT__SECRETS__).
//
// The secret's name is the variable name after the prefix, exactly. Because
// shells cannot export names with "/", ":", "." or "-", a Get for such a name
// that finds no exact variable also tries the name upper-cased with those
// characters replaced by "_" (db/password -> WFRUN_SECRET_DB_PASSWORD).
// A value that parses as JSON is that JSON value; anything else is a JSON
// string. Every write returns store.ErrReadOnly.
package env

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/wfrun/wfrun/store"
)

// DefaultPrefix is the variable prefix used unless WithPrefix says otherwise.
const DefaultPrefix = "WFRUN_SECRET_"

// Reads reports whether an env store with one of prefixes reads the
// variable name (a store takes every variable whose name starts with its
// prefix). Names are compared without case, as Windows names variables:
// whatever keeps clear of a store's variables (a worker's environment,
// EXEC's PATH) keeps clear of every spelling of them.
func Reads(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return true
		}
	}
	return false
}

// Option configures New.
type Option func(*Store)

// WithPrefix sets the variable prefix.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithEnviron reads from a fixed KEY=VALUE list instead of the process
// environment (tests, embedding programs).
func WithEnviron(environ []string) Option {
	return func(s *Store) { s.environ = func() []string { return environ } }
}

// Store is the read-only environment backend.
type Store struct {
	store.ReadOnly
	prefix  string
	environ func() []string
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.GetManyer = (*Store)(nil)
)

// New returns an environment store.
func New(opts ...Option) *Store {
	s := &Store{prefix: DefaultPrefix, environ: os.Environ}
	for _, o := range opts {
		o(s)
	}
	s.Why = "secrets come from " + s.prefix + "* environment variables"
	return s
}

func (s *Store) vars() map[string]string {
	out := map[string]string{}
	for _, kv := range s.environ() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if name, ok := strings.CutPrefix(k, s.prefix); ok && store.ValidateName(name) == nil {
			out[name] = v
		}
	}
	return out
}

// shellName is the spelling a shell can export.
func shellName(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '/', ':', '.', '-':
			return '_'
		}
		return r
	}, strings.ToUpper(name))
}

func toSecret(name, raw string) *store.Secret {
	v := json.RawMessage(raw)
	if !json.Valid(v) || strings.TrimSpace(raw) == "" {
		v, _ = json.Marshal(raw)
	}
	return &store.Secret{Name: name, Value: v, Version: 1}
}

func (s *Store) lookup(vars map[string]string, name string) (*store.Secret, error) {
	if err := store.ValidateName(name); err != nil {
		return nil, err
	}
	if v, ok := vars[name]; ok {
		return toSecret(name, v), nil
	}
	if v, ok := vars[shellName(name)]; ok {
		return toSecret(name, v), nil
	}
	return nil, fmt.Errorf("secret %q: %w (no %s%s in the environment)", name, store.ErrNotFound, s.prefix, shellName(name))
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, name string) (*store.Secret, error) {
	return s.lookup(s.vars(), name)
}

// GetMany implements store.GetManyer.
func (s *Store) GetMany(ctx context.Context, names []string) (map[string]*store.Secret, map[string]error, error) {
	vars := s.vars()
	found, errs := map[string]*store.Secret{}, map[string]error{}
	for _, n := range names {
		sec, err := s.lookup(vars, n)
		if err != nil {
			errs[n] = err
			continue
		}
		found[n] = sec
	}
	return found, errs, nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, opt store.ListOptions) (*store.ListPage, error) {
	var names []string
	for n := range s.vars() {
		names = append(names, n)
	}
	return store.PageNames(names, opt)
}

// History returns the one version the environment has.
func (s *Store) History(ctx context.Context, name string, n int) ([]*store.Secret, error) {
	sec, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return []*store.Secret{sec}, nil
}

// Close implements store.Store.
func (s *Store) Close() error { return nil }
