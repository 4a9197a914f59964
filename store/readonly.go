package store

import (
	"context"
	"fmt"
)

// ReadOnly is the write half of Store for a read-only provider (environment
// variables, Vault): every write fails with ErrReadOnly, naming the
// operation, the secret and Why — where the secrets are managed instead.
// A provider embeds it and sets Why when it is built.
type ReadOnly struct{ Why string }

func (r ReadOnly) refuse(op, name string) error {
	return fmt.Errorf("%s secret %q: %w: %s", op, name, ErrReadOnly, r.Why)
}

// Put implements Store: refused.
func (r ReadOnly) Put(_ context.Context, sec *Secret, _ ...PutOption) (*Secret, error) {
	name := ""
	if sec != nil {
		name = sec.Name
	}
	return nil, r.refuse("put", name)
}

// Delete implements Store: refused.
func (r ReadOnly) Delete(_ context.Context, name string) error { return r.refuse("delete", name) }

// SetTags implements Store: refused.
func (r ReadOnly) SetTags(_ context.Context, name string, _ map[string]string) error {
	return r.refuse("tag", name)
}

// DeleteTags implements Store: refused.
func (r ReadOnly) DeleteTags(_ context.Context, name string, _ ...string) error {
	return r.refuse("untag", name)
}
