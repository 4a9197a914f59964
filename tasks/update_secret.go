package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/wfrun/wfrun/store"
)

// TypeUpdateSecret is the task type name of UpdateSecret.
const TypeUpdateSecret = "UPDATE_SECRET"

// Defaults of UpdateSecret's compare-and-swap loop.
const (
	// DefaultRotateAttempts bounds the conflicts in a row that show no
	// progress: the store refused the write yet the version read back is
	// the one the write expected, so no other writer landed.
	DefaultRotateAttempts = 10
	// DefaultRotateTimeout bounds the time a rotation keeps losing to other
	// writers (each loss is another writer's version landing).
	DefaultRotateTimeout = 30 * time.Second
	defaultRotateBackoff = 2 * time.Millisecond
	maxRotateBackoff     = 250 * time.Millisecond
)

// UpdateSecret is the UPDATE_SECRET system task (Orkes): it creates or
// updates the secret inputParameters._secrets.secretKey with
// _secrets.secretValue, as the run's principal, and has no output.
//
// The value is stored as JSON: a string value is stored as a JSON string,
// any other JSON value (an object such as {"ACCESS_KEY":…}, a number) as
// that JSON.
//
// Masking: the new value (and the string and number leaves of a JSON value)
// is registered with the run's masker before it is written, so it is masked
// from the moment it exists in the store; the value it replaces is registered
// too, because during the grace window (below) both are live credentials.
//
// Concurrency: the write is a compare-and-swap on the version read just
// before it; on a conflict the task re-reads and retries with jittered
// exponential back-off, so runs rotating the same secret at once all land as
// successive versions and no update is lost. A conflict means another
// writer's version landed between the read and the write: with k other
// rotations in flight a run loses at most k times, so such conflicts are
// retried for as long as the version keeps moving, up to
// DefaultRotateTimeout (WithRotateTimeout); conflicts that show no progress
// are retried DefaultRotateAttempts times in a row. WithRotateAttempts sets
// a hard bound on all attempts instead. A principal that may set but not get
// the secret cannot read the version; its write is then unconditional (still
// one new version per run, the backends serialise writes).
//
// Grace period: the store keeps the previous versions (store.History).
// ${workflow.secrets.NAME} always resolves to the current version, like
// AWS Secrets Manager's AWSCURRENT; a run that already resolved the previous
// value keeps it registered with its masker for the rest of the run, and a
// reader that must accept the previous credential for a while (the old token
// may still be in flight) addresses it with store.RunView.Previous or
// store.PreviousWithin and a grace duration.
type UpdateSecret struct {
	attempts int  // bound on attempts (hard) or on stalled conflicts in a row
	hard     bool // attempts bounds every attempt (WithRotateAttempts)
	timeout  time.Duration
	backoff  time.Duration
}

// UpdateSecretOption configures NewUpdateSecret.
type UpdateSecretOption func(*UpdateSecret)

// WithRotateAttempts bounds the compare-and-swap attempts (at least 1),
// whether or not other writers make progress meanwhile. Without it the
// loop retries while the version keeps moving, within the timeout.
func WithRotateAttempts(n int) UpdateSecretOption {
	return func(u *UpdateSecret) { u.attempts, u.hard = max(n, 1), true }
}

// WithRotateTimeout bounds the time the compare-and-swap loop keeps retrying
// (DefaultRotateTimeout; at least 1ms). The task's context may end it sooner.
func WithRotateTimeout(d time.Duration) UpdateSecretOption {
	return func(u *UpdateSecret) { u.timeout = max(d, time.Millisecond) }
}

// WithRotateBackoff sets the first back-off after a conflict; it doubles per
// attempt (with full jitter) up to 250ms.
func WithRotateBackoff(d time.Duration) UpdateSecretOption {
	return func(u *UpdateSecret) { u.backoff = max(d, 0) }
}

// NewUpdateSecret returns the UPDATE_SECRET executor.
func NewUpdateSecret(opts ...UpdateSecretOption) *UpdateSecret {
	u := &UpdateSecret{attempts: DefaultRotateAttempts, timeout: DefaultRotateTimeout, backoff: defaultRotateBackoff}
	for _, o := range opts {
		if o != nil {
			o(u)
		}
	}
	return u
}

var (
	_ Task      = (*UpdateSecret)(nil)
	_ Validator = (*UpdateSecret)(nil)
)

// updateSecretInput is the task's input; secretValue stays raw JSON.
type updateSecretInput struct {
	Secrets map[string]json.RawMessage `json:"_secrets"`
}

// rotation is a parsed, valid UPDATE_SECRET input.
type rotation struct {
	name  string
	value json.RawMessage // compact JSON
}

// parseRotation checks the input the way Orkes documents it: _secrets,
// secretKey and secretValue must be present and non-empty. Reasons name the
// field, never the value.
func parseRotation(input json.RawMessage) (rotation, string) {
	in := bytes.TrimSpace(input)
	if len(in) == 0 || bytes.Equal(in, []byte("null")) {
		return rotation{}, "UPDATE_SECRET: missing inputParameters._secrets"
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(in, &top); err != nil {
		return rotation{}, "UPDATE_SECRET: inputParameters must be a JSON object with _secrets"
	}
	raw, ok := top["_secrets"]
	if !ok || isEmptyJSON(raw) {
		return rotation{}, "UPDATE_SECRET: missing or empty inputParameters._secrets"
	}
	var sec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &sec); err != nil {
		return rotation{}, "UPDATE_SECRET: inputParameters._secrets must be an object with secretKey and secretValue"
	}
	keyRaw, ok := sec["secretKey"]
	if !ok || isEmptyJSON(keyRaw) {
		return rotation{}, "UPDATE_SECRET: missing or empty _secrets.secretKey"
	}
	var name string
	if err := json.Unmarshal(keyRaw, &name); err != nil {
		return rotation{}, "UPDATE_SECRET: _secrets.secretKey must be a string"
	}
	if err := store.ValidateName(name); err != nil {
		// ValidateName quotes the name, which is not secret.
		return rotation{}, "UPDATE_SECRET: _secrets.secretKey: " + err.Error()
	}
	valRaw, ok := sec["secretValue"]
	if !ok || isEmptyJSON(valRaw) {
		return rotation{}, fmt.Sprintf("UPDATE_SECRET: missing or empty _secrets.secretValue for secret %q", name)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, valRaw); err != nil {
		return rotation{}, fmt.Sprintf("UPDATE_SECRET: _secrets.secretValue for secret %q is not valid JSON", name)
	}
	return rotation{name: name, value: buf.Bytes()}, ""
}

// isEmptyJSON reports null, "", {} and [] (and blank input): Orkes treats
// a missing and an empty key or value alike.
func isEmptyJSON(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return true
	}
	switch string(t) {
	case "null", `""`:
		return true
	}
	if t[0] == '{' || t[0] == '[' {
		var v any
		if json.Unmarshal(t, &v) == nil {
			switch x := v.(type) {
			case map[string]any:
				return len(x) == 0
			case []any:
				return len(x) == 0
			}
		}
	}
	return false
}

// maskForms returns the strings to register for a JSON secret value: the
// decoded text of a JSON string (what a task would send), or the JSON text
// of anything else (the masker registers its string and number leaves
// itself).
func maskForms(value json.RawMessage) string {
	v := bytes.TrimSpace(value)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}

// registerValue registers a secret value with the masker (nil-safe).
func registerValue(m Masker, value json.RawMessage) {
	if m == nil || len(value) == 0 {
		return
	}
	m.Register(maskForms(value))
}

// Validate checks a literal _secrets block when the definition loads;
// ${...} values are checked at execution time.
func (u *UpdateSecret) Validate(def json.RawMessage) []error {
	var d struct {
		InputParameters json.RawMessage `json:"inputParameters"`
	}
	if err := json.Unmarshal(def, &d); err != nil {
		return []error{fmt.Errorf("UPDATE_SECRET: task definition: %v", err)}
	}
	in := bytes.TrimSpace(d.InputParameters)
	if len(in) > 0 && in[0] == '"' {
		return nil // the whole input is an expression
	}
	if _, reason := parseRotation(in); reason != "" {
		return []error{errors.New("inputParameters: " + reason)}
	}
	return nil
}

// Execute implements Task.
func (u *UpdateSecret) Execute(ctx context.Context, req *Request) Result {
	rot, reason := parseRotation(req.Input)
	if reason != "" {
		return Result{Status: FailedTerminal, Reason: reason}
	}
	svc := req.Services
	if svc == nil || svc.Secrets == nil {
		return Result{Status: FailedTerminal, Reason: fmt.Sprintf("UPDATE_SECRET: cannot set secret %q: the run has no secret store", rot.name)}
	}
	// Masked from the moment it exists: register before the write.
	registerValue(svc.Masker, rot.value)
	if _, err := u.rotate(ctx, svc, rot); err != nil {
		return rotateFailure(svc, rot.name, err)
	}
	return Result{Status: Completed, Output: json.RawMessage(`{}`)}
}

// errRotateGaveUp reports a CAS loop that kept losing.
var errRotateGaveUp = errors.New("gave up after repeated version conflicts")

// rotate is the compare-and-swap loop. A conflict after which the version
// read back differs from the one the write expected is another writer's
// progress: with a finite number of contenders the loop ends, so only the
// timeout bounds those. Conflicts without progress count against attempts.
func (u *UpdateSecret) rotate(ctx context.Context, svc *Services, rot rotation) (*store.Secret, error) {
	deadline := time.Now().Add(u.timeout)
	var lastErr error
	lastVersion, stalled := int64(0), 0
	for attempt := 1; ; attempt++ {
		ifVersion, err := expectedVersion(ctx, svc, rot.name)
		if err != nil {
			return nil, err
		}
		if attempt > 1 {
			if ifVersion == lastVersion {
				stalled++ // no other writer's version landed since the last read
			} else {
				stalled = 0
			}
			if !u.hard && stalled >= u.attempts {
				return nil, fmt.Errorf("secret %q: %w (%d attempts, the last %d without another writer's version landing): %w",
					rot.name, errRotateGaveUp, attempt-1, stalled, lastErr)
			}
		}
		s, err := svc.Secrets.Put(ctx, rot.name, rot.value, ifVersion)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, store.ErrConflict) || ifVersion < 0 {
			return nil, err
		}
		lastErr, lastVersion = err, ifVersion
		if (u.hard && attempt >= u.attempts) || time.Now().After(deadline) {
			return nil, fmt.Errorf("secret %q: %w (%d attempts): %w", rot.name, errRotateGaveUp, attempt, lastErr)
		}
		if err := sleepJitter(ctx, u.backoff, attempt); err != nil {
			return nil, err
		}
	}
}

// expectedVersion reads the secret's current version for the
// compare-and-swap: 0 when it does not exist, -1 (write unconditionally)
// when the principal may set but not get it.
func expectedVersion(ctx context.Context, svc *Services, name string) (int64, error) {
	cur, err := svc.Secrets.Get(ctx, name)
	switch {
	case err == nil && cur != nil:
		registerValue(svc.Masker, cur.Value) // previous value: live during the grace window
		return cur.Version, nil
	case err == nil, errors.Is(err, store.ErrNotFound):
		return 0, nil
	case errors.Is(err, store.ErrExpired) && cur != nil:
		return cur.Version, nil
	case errors.Is(err, store.ErrForbidden):
		return -1, nil
	default:
		return 0, err
	}
}

// sleepJitter waits a random time in [0, backoff·2^attempt) capped at
// maxRotateBackoff ("full jitter": contenders spread out instead of
// colliding again in lockstep).
func sleepJitter(ctx context.Context, backoff time.Duration, attempt int) error {
	if backoff <= 0 {
		return ctx.Err()
	}
	ceil := backoff << min(attempt, 16)
	if ceil > maxRotateBackoff || ceil <= 0 {
		ceil = maxRotateBackoff
	}
	t := time.NewTimer(rand.N(ceil) + time.Millisecond/10)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rotateFailure maps a store error to a task result. Store errors name the
// secret and never carry its value; they go through the masker anyway.
func rotateFailure(svc *Services, name string, err error) Result {
	st := FailedTerminal
	var reason string
	switch {
	case errors.Is(err, store.ErrForbidden):
		reason = fmt.Sprintf("forbidden: cannot set secret %s", name)
	case errors.Is(err, errRotateGaveUp), errors.Is(err, store.ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// Transient: the engine may retry the task.
		st = Failed
		reason = "UPDATE_SECRET: " + err.Error()
	default:
		reason = "UPDATE_SECRET: " + err.Error()
	}
	if svc.Masker != nil {
		reason = string(svc.Masker.Mask([]byte(reason)))
	}
	return Result{Status: st, Reason: reason}
}
