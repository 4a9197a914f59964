package interpolate

import "context"

// ExecuteSplit is Execute in both modes at once, from one walk of the template: stored is
// what Execute in DeferSecrets mode gives (appended to storedDst), transient what Execute in
// ResolveSecrets mode gives (appended to transientDst), and used the secret values
// substituted in transient. A string without a secret reference is resolved once and
// written to both; a string with one is resolved once in each mode, so the stored form never
// holds a value.
//
// Errors are Execute's. One that DeferSecrets mode would give returns nil for everything.
// One that only ResolveSecrets mode gives (a secret that cannot be resolved) returns the
// complete stored form with a nil transient and nil used, as the two Executes would.
func (t *Template) ExecuteSplit(ctx context.Context, env Env, storedDst, transientDst []byte) (stored, transient []byte, used []Secret, err error) {
	if len(t.nodes) == 0 {
		return append(storedDst, t.src...), append(transientDst, t.src...), nil, nil
	}
	deferred := state{ctx: ctx, env: env, mode: DeferSecrets, t: t}
	resolved := state{ctx: ctx, env: env, mode: ResolveSecrets, t: t}
	stored, transient = storedDst, transientDst
	var secretErr error
	prev := 0
	for _, n := range t.nodes {
		stored = append(stored, t.src[prev:n.start]...)
		if secretErr == nil {
			transient = append(transient, t.src[prev:n.start]...)
		}
		prev = n.end
		if !n.secret {
			// Nothing in it depends on the mode: resolved once, written twice.
			start := len(stored)
			if stored, err = resolved.node(stored, n); err != nil {
				return nil, nil, nil, err
			}
			if secretErr == nil {
				transient = append(transient, stored[start:]...)
			}
			continue
		}
		shareWorkflow(&deferred, &resolved)
		if stored, err = deferred.node(stored, n); err != nil {
			return nil, nil, nil, err
		}
		if secretErr != nil {
			continue
		}
		shareWorkflow(&resolved, &deferred)
		if transient, err = resolved.node(transient, n); err != nil {
			secretErr, transient = err, nil
		}
	}
	stored = append(stored, t.src[prev:]...)
	if secretErr != nil {
		return stored, nil, nil, secretErr
	}
	return stored, append(transient, t.src[prev:]...), resolved.used, nil
}

// shareWorkflow hands the workflow document one state read to the other: the Env is asked
// once per ExecuteSplit, as once per Execute.
func shareWorkflow(to, from *state) {
	if !to.wfDone && from.wfDone {
		to.wf, to.wfDone = from.wf, true
	}
}
