package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// Limits enforced by Validate and every backend.
const (
	MaxNameLen        = 255
	MaxValueSize      = 64 << 10 // bytes of JSON
	MaxTags           = 64
	MaxTagKeyLen      = 128
	MaxTagValueLen    = 256
	MaxDescriptionLen = 1024
	DefaultListLimit  = 1000
	MaxListLimit      = 1000
	DefaultHistory    = 10
)

// Secret is one secret with its metadata.
type Secret struct {
	Name        string            `json:"name"`
	Value       json.RawMessage   `json:"value"`
	Expires     time.Time         `json:"expires,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Description string            `json:"description,omitempty"`
	Version     int64             `json:"version"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	Scope       Scope             `json:"scope"`
	// Encoding is "base64" for a binary value: Value is then the JSON
	// string of the bytes in standard base64, kept exactly. "" is JSON.
	Encoding string `json:"encoding,omitempty"`
}

// EncodingBase64 marks a binary secret (see Secret.Encoding).
const EncodingBase64 = "base64"

// State is "expired" for a secret past its expiry at now, else "active".
func (s *Secret) State(now time.Time) string {
	if s.Expired(now) {
		return "expired"
	}
	return "active"
}

// Expired reports whether s has an expiry at or before now.
func (s *Secret) Expired(now time.Time) bool {
	return !s.Expires.IsZero() && !now.Before(s.Expires)
}

// Clone returns a deep copy of s.
func (s *Secret) Clone() *Secret {
	if s == nil {
		return nil
	}
	c := *s
	if s.Value != nil {
		c.Value = append(json.RawMessage(nil), s.Value...)
	}
	if s.Tags != nil {
		c.Tags = maps.Clone(s.Tags)
	}
	return &c
}

// Metadata returns a copy of s without its value.
func (s *Secret) Metadata() *Secret {
	c := s.Clone()
	c.Value = nil
	return c
}

// String never prints the value, so a Secret can be logged by accident safely.
func (s *Secret) String() string {
	if s == nil {
		return "<nil secret>"
	}
	return fmt.Sprintf("secret %q v%d (%s)", s.Name, s.Version, s.Scope)
}

// GoString guards %#v the same way.
func (s *Secret) GoString() string { return s.String() }

// ListOptions selects a page of names.
type ListOptions struct {
	Prefix            string
	Limit             int // <= 0: DefaultListLimit; capped at MaxListLimit
	ContinuationToken string
	// Expired includes expired secrets (their metadata stays readable;
	// their values never are).
	Expired bool
}

// ListPage is one page of names in byte order. ContinuationToken is empty on
// the last page.
type ListPage struct {
	Names             []string `json:"secrets"`
	ContinuationToken string   `json:"continuationToken,omitempty"`
}

// Store is a secret backend. All methods are safe for concurrent use.
type Store interface {
	Get(ctx context.Context, name string) (*Secret, error)
	Put(ctx context.Context, s *Secret, opts ...PutOption) (*Secret, error)
	Delete(ctx context.Context, name string) error
	List(ctx context.Context, opt ListOptions) (*ListPage, error)
	History(ctx context.Context, name string, n int) ([]*Secret, error)
	SetTags(ctx context.Context, name string, tags map[string]string) error
	DeleteTags(ctx context.Context, name string, keys ...string) error
	Close() error
}

// GetManyer is implemented by backends that fetch many secrets at once
// (Redis: one round trip). For an expired secret, the secret map holds its
// metadata (nil Value) and the error map holds ErrExpired; a missing one has
// ErrNotFound in the error map only. The third result is a backend failure.
type GetManyer interface {
	GetMany(ctx context.Context, names []string) (map[string]*Secret, map[string]error, error)
}

// Key addresses a secret in a given scope.
type Key struct {
	Scope Scope
	Name  string
}

// KeyGetter fetches secrets from several scopes at once; RunView uses it to
// resolve scopes in one round trip. Results follow GetManyer's rules.
type KeyGetter interface {
	GetKeys(ctx context.Context, keys []Key) (map[Key]*Secret, map[Key]error, error)
}

// Scoper is implemented by backends with scope key spaces.
type Scoper interface {
	InScope(scope Scope) Store
}

// Sweeper removes expired secrets and returns the names it removed.
type Sweeper interface {
	Sweep(ctx context.Context) ([]Key, error)
}

// Rekeyer re-encrypts every stored ciphertext under the current primary key
// and returns how many values it rewrote.
type Rekeyer interface {
	Rekey(ctx context.Context) (int, error)
}

// GetMany fetches names through s's GetManyer when it has one, else one Get
// per name.
func GetMany(ctx context.Context, s Store, names []string) (map[string]*Secret, map[string]error, error) {
	if gm, ok := s.(GetManyer); ok {
		return gm.GetMany(ctx, names)
	}
	found := make(map[string]*Secret, len(names))
	errs := map[string]error{}
	for _, n := range names {
		sec, err := s.Get(ctx, n)
		if err != nil && !isPerSecret(err) {
			return nil, nil, err
		}
		if sec != nil {
			found[n] = sec
		}
		if err != nil {
			errs[n] = err
		}
	}
	return found, errs, nil
}

// isPerSecret reports errors that concern one secret rather than the backend.
func isPerSecret(err error) bool {
	for _, e := range []error{ErrNotFound, ErrExpired, ErrForbidden, ErrInvalidName} {
		if errorsIs(err, e) {
			return true
		}
	}
	return false
}

// InScope returns the view of s addressing scope's key space. The zero scope
// is s itself.
func InScope(s Store, scope Scope) (Store, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	if scope.IsOrganization() {
		return s, nil
	}
	sc, ok := s.(Scoper)
	if !ok {
		return nil, fmt.Errorf("scope %s: %w", scope, ErrUnsupported)
	}
	return sc.InScope(scope), nil
}

// GetManyInScope answers GetMany through a backend's GetKeys, for names that
// all live in one scope: the shape every scoped backend's GetMany shares.
func GetManyInScope(ctx context.Context, kg KeyGetter, scope Scope, names []string) (map[string]*Secret, map[string]error, error) {
	keys := make([]Key, len(names))
	for i, n := range names {
		keys[i] = Key{Scope: scope, Name: n}
	}
	f, e, err := kg.GetKeys(ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	found, errs := make(map[string]*Secret, len(f)), make(map[string]error, len(e))
	for k, v := range f {
		found[k.Name] = v
	}
	for k, v := range e {
		errs[k.Name] = v
	}
	return found, errs, nil
}
