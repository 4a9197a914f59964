package store

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"time"
)

// Exporter copies every secret of a store out, and back in, for a backup
// or a move to another backend (bolt to Redis and back). Every Barrier is
// one; a layered chain exports its writable store. Like Sweep and Rekey these
// are operations on the whole store, outside any principal's scopes.
type Exporter interface {
	// Export returns the current version of every secret in every scope,
	// with its value and metadata, and records an export audit event for
	// each. Expired secrets are left out and counted.
	Export(ctx context.Context) (secrets []*Secret, expired int, err error)
	// Import writes each secret, in its scope, as the next version there:
	// value, tags, description and expiry as given (versions only ever
	// grow; an import never sets an older number). A secret whose current
	// version already holds exactly those is left alone. Every secret gets
	// an import audit event.
	Import(ctx context.Context, secrets []*Secret) ([]ImportResult, error)
}

// ImportResult says what Import did with one secret.
type ImportResult struct {
	Name    string `json:"name"`
	Scope   string `json:"scope"`
	Version int64  `json:"version"` // the version it holds now
	Result  string `json:"result"`  // ImportCreated, ImportUpdated or ImportUnchanged
}

// Import results.
const (
	ImportCreated   = "created"
	ImportUpdated   = "updated"
	ImportUnchanged = "unchanged"
)

var (
	_ Exporter = (*Barrier)(nil)
	_ Exporter = (*accessStore)(nil)
)

// ExporterOf returns the store in s that can export and import.
func ExporterOf(s Store) (Exporter, bool) {
	switch v := s.(type) {
	case Exporter:
		return v, true
	case *layered:
		for _, l := range v.layers {
			if e, ok := ExporterOf(l); ok {
				return e, true
			}
		}
	}
	return nil, false
}

// Export implements Exporter.
func (s *Barrier) Export(ctx context.Context) ([]*Secret, int, error) {
	now := s.sh.now()
	var out []*Secret
	expired := 0
	err := s.sh.eachCurrent(ctx, func(k Key, sec *Secret) error {
		if sec.Expired(now) {
			expired++
			return nil
		}
		c := sec.Clone()
		c.Scope = k.Scope
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	evs := make([]AuditEvent, len(out))
	for i, sec := range out {
		evs[i] = AuditEvent{Op: OpExport, Scope: sec.Scope.Key(), Name: sec.Name, Version: sec.Version, Outcome: OutcomeAllowed}
	}
	// The values leave the store only once their export is on the trail.
	if len(evs) > 0 {
		if err := s.sh.audit.append(ctx, evs...); err != nil {
			return nil, 0, err
		}
	}
	return out, expired, nil
}

// Import implements Exporter. It stops at the first secret it cannot
// write; the ones before it are written (each write is atomic), and
// importing the same file again finishes the rest.
func (s *Barrier) Import(ctx context.Context, secrets []*Secret) ([]ImportResult, error) {
	for _, in := range secrets {
		if in == nil {
			return nil, fmt.Errorf("%w: import: nil secret", ErrInvalidValue)
		}
		if err := in.Scope.Validate(); err != nil {
			return nil, fmt.Errorf("import %q: %w", in.Name, err)
		}
		if err := in.Validate(); err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
	}
	now := s.sh.now()
	var out []ImportResult
	for _, in := range secrets {
		b := &Barrier{sh: s.sh, scope: in.Scope}
		res := ImportResult{Name: in.Name, Scope: in.Scope.String()}
		_, cur, err := b.readCurrent(ctx, in.Scope.Key(), in.Name)
		if err != nil {
			return out, fmt.Errorf("import %q (%s): %w", in.Name, in.Scope, err)
		}
		if cur != nil && !cur.Expired(now) && sameContent(cur, in) {
			res.Version, res.Result = cur.Version, ImportUnchanged
			ev := AuditEvent{Op: OpImport, Scope: in.Scope.Key(), Name: in.Name, Version: cur.Version, Outcome: OutcomeAllowed}
			if err := s.sh.audit.append(ctx, ev); err != nil {
				return out, err
			}
			out = append(out, res)
			continue
		}
		w := in.Clone()
		w.Version, w.CreatedAt, w.UpdatedAt = 0, time.Time{}, time.Time{}
		next, err := b.put(ctx, w, OpImport, true)
		if err != nil {
			return out, fmt.Errorf("import %q (%s): %w", in.Name, in.Scope, err)
		}
		res.Version, res.Result = next.Version, ImportUpdated
		if cur == nil {
			res.Result = ImportCreated
		}
		out = append(out, res)
	}
	return out, nil
}

// sameContent reports whether a and b hold the same value and metadata
// (what an import restores).
func sameContent(a, b *Secret) bool {
	return bytes.Equal(a.Value, b.Value) && a.Encoding == b.Encoding && a.Description == b.Description &&
		a.Expires.Equal(b.Expires) && (len(a.Tags) == 0 && len(b.Tags) == 0 || maps.Equal(a.Tags, b.Tags))
}

// Export implements Exporter for a principal that may read every secret
// (secrets:get:*); anyone else is refused, and the refusal audited.
func (a *accessStore) Export(ctx context.Context) ([]*Secret, int, error) {
	inner, ok := ExporterOf(a.inner)
	if !ok {
		return nil, 0, fmt.Errorf("export: %w (only stores that seal records, bolt and Redis, export)", ErrUnsupported)
	}
	if !a.p.CanName(ActionGet, "*") {
		return nil, 0, a.denied(ctx, OpExport, "", fmt.Errorf("export: %w: principal %q lacks scope secrets:get:*", ErrForbidden, a.p.Name))
	}
	return inner.Export(a.ctx(ctx))
}

// Import implements Exporter for a principal that may write every secret
// (secrets:set:*).
func (a *accessStore) Import(ctx context.Context, secrets []*Secret) ([]ImportResult, error) {
	inner, ok := ExporterOf(a.inner)
	if !ok {
		return nil, fmt.Errorf("import: %w (only stores that seal records, bolt and Redis, import)", ErrUnsupported)
	}
	if !a.p.CanName(ActionSet, "*") {
		return nil, a.denied(ctx, OpImport, "", fmt.Errorf("import: %w: principal %q lacks scope secrets:set:*", ErrForbidden, a.p.Name))
	}
	return inner.Import(a.ctx(ctx), secrets)
}
