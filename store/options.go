package store

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"
)

// errorsIs is errors.Is; a local name keeps call sites short.
var errorsIs = errors.Is

// PutOption modifies a Put.
type PutOption func(*PutOptions)

// PutOptions is the resolved form of a Put's options, for backend authors.
type PutOptions struct {
	// CAS is true when IfVersion was given.
	CAS bool
	// IfVersion is the version the stored secret must have (0: must not exist).
	IfVersion int64
}

// IfVersion makes a Put a compare-and-swap: it succeeds only if the stored
// secret has version v (0: only if it does not exist), else ErrConflict.
func IfVersion(v int64) PutOption {
	return func(o *PutOptions) { o.CAS, o.IfVersion = true, v }
}

// NewPutOptions resolves opts.
func NewPutOptions(opts ...PutOption) PutOptions {
	var o PutOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// PreparePut validates in and computes the record a backend stores, given
// the current record cur (nil if none, expired or not) in scope. It enforces
// the CAS option and the shared metadata rules (see the package doc). It
// never modifies cur or in.
func PreparePut(cur, in *Secret, scope Scope, o PutOptions, now time.Time) (*Secret, error) {
	if in != nil && !in.Scope.IsOrganization() && in.Scope != scope {
		return nil, fmt.Errorf("secret %q: %w: the secret says %s but is written to %s (use InScope)", in.Name, ErrInvalidScope, in.Scope, scope)
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var curVersion int64
	if cur != nil {
		curVersion = cur.Version
	}
	if o.CAS && o.IfVersion != curVersion {
		if cur == nil {
			return nil, fmt.Errorf("secret %q: %w: expected version %d, the secret does not exist", in.Name, ErrConflict, o.IfVersion)
		}
		return nil, fmt.Errorf("secret %q: %w: expected version %d, stored version is %d", in.Name, ErrConflict, o.IfVersion, curVersion)
	}
	now = now.UTC().Truncate(time.Millisecond)
	out := in.Clone()
	out.Scope = scope
	out.Version = curVersion + 1
	out.UpdatedAt = now
	out.CreatedAt = now
	if !out.Expires.IsZero() {
		out.Expires = out.Expires.UTC().Truncate(time.Millisecond)
	}
	if cur != nil {
		out.CreatedAt = cur.CreatedAt
		if in.Tags == nil && cur.Tags != nil {
			out.Tags = maps.Clone(cur.Tags)
		}
		if in.Description == "" {
			out.Description = cur.Description
		}
	}
	if len(out.Tags) == 0 {
		out.Tags = nil
	}
	return out, nil
}

// ApplyTags returns cur's tags with set merged in and del removed. It
// validates the result.
func ApplyTags(cur map[string]string, set map[string]string, del []string) (map[string]string, error) {
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, set)
	for _, k := range del {
		delete(out, k)
	}
	if err := ValidateTags(out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// EncodeToken makes an opaque continuation token meaning "after name".
func EncodeToken(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + after))
}

// DecodeToken returns the name a continuation token resumes after.
func DecodeToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(b), "v1:") || ValidateName(string(b[3:])) != nil {
		return "", fmt.Errorf("%w: %q was not returned by List", ErrInvalidToken, tok)
	}
	return string(b[3:]), nil
}

// NormalizeList validates opt and returns the limit to use and the name to
// resume after ("" for the first page).
func NormalizeList(opt ListOptions) (limit int, after string, err error) {
	limit = opt.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	if limit > MaxListLimit {
		limit = MaxListLimit
	}
	if len(opt.Prefix) > MaxNameLen {
		return 0, "", fmt.Errorf("%w: prefix longer than %d bytes", ErrInvalidName, MaxNameLen)
	}
	after, err = DecodeToken(opt.ContinuationToken)
	return limit, after, err
}

// PageNames builds a page from all live names of a key space (any order),
// for backends that can enumerate them cheaply.
func PageNames(names []string, opt ListOptions) (*ListPage, error) {
	limit, after, err := NormalizeList(opt)
	if err != nil {
		return nil, err
	}
	sorted := make([]string, 0, len(names))
	for _, n := range names {
		if strings.HasPrefix(n, opt.Prefix) && n > after {
			sorted = append(sorted, n)
		}
	}
	sort.Strings(sorted)
	page := &ListPage{Names: []string{}}
	if len(sorted) > limit {
		page.Names = sorted[:limit]
		page.ContinuationToken = EncodeToken(sorted[limit-1])
	} else {
		page.Names = sorted
	}
	return page, nil
}

// ClampHistory returns how many versions to return for a History request of
// n, given that keep versions are retained.
func ClampHistory(n, keep int) int {
	if n <= 0 || n > keep {
		return keep
	}
	return n
}
