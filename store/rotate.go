package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Rotation grace window.
//
// A rotation (UPDATE_SECRET, `wfrun secret set`) writes a new version; the
// backends keep the previous ones (History). ${workflow.secrets.NAME} always
// resolves to the current version, as AWS Secrets Manager's AWSCURRENT does.
// The version it replaced (AWSPREVIOUS) stays addressable, for a grace
// period chosen by the reader, through PreviousWithin and RunView.Previous:
// a service validating tokens accepts the previous one while requests signed
// with it are still in flight, and an engine can register it with a run's
// masker. After the grace period the previous version reads as ErrExpired;
// it remains in History until the backend's retention drops it.

// PreviousWithin returns the version of name that preceded the current one,
// provided the current one was written less than grace before now. It needs
// a History of at least two versions. Errors name the secret: ErrNotFound
// when there is no previous version, ErrExpired when the grace period is
// over or the previous version had itself expired.
func PreviousWithin(ctx context.Context, s Store, name string, grace time.Duration, now time.Time) (*Secret, error) {
	hist, err := s.History(ctx, name, 2)
	if err != nil {
		return nil, err
	}
	if len(hist) < 2 || hist[1] == nil {
		return nil, fmt.Errorf("secret %q: %w: no previous version", name, ErrNotFound)
	}
	cur, prev := hist[0], hist[1]
	if !now.Before(cur.UpdatedAt.Add(grace)) {
		return nil, fmt.Errorf("secret %q: %w: version %d was replaced at %s, grace period %s is over",
			name, ErrExpired, prev.Version, cur.UpdatedAt.Format(time.RFC3339), grace)
	}
	if prev.Value == nil || prev.Expired(now) {
		return nil, fmt.Errorf("secret %q: %w: previous version %d expired", name, ErrExpired, prev.Version)
	}
	return prev, nil
}

// Previous is PreviousWithin for the scope the name resolves to in the
// run's view, checked against the run's principal (it needs get).
func (v *RunView) Previous(ctx context.Context, name string, grace time.Duration, now time.Time) (*Secret, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	keys := make([]Key, len(v.order))
	for i, sc := range v.order {
		keys[i] = Key{Scope: sc, Name: name}
	}
	_, errs, err := GetKeys(ctx, v.raw, keys)
	if err != nil {
		return nil, err
	}
	// The narrowest scope holding the name, as for Secret; WithAccess below
	// answers forbidden the same way whether or not it exists.
	target := v.order[0]
	for _, k := range keys {
		if e := errs[k]; e != nil && errors.Is(e, ErrNotFound) {
			continue
		}
		target = k.Scope
		break
	}
	view, err := InScope(v.raw, target)
	if err != nil {
		return nil, err
	}
	return PreviousWithin(ctx, WithAccess(view, v.p), name, grace, now)
}
