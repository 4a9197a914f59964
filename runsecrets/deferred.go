package runsecrets

import (
	"context"

	"github.com/wfrun/wfrun/interpolate"
)

// ResolveLater is Resolve for a task whose executor takes its input
// later, such as a remote worker's poll: it returns the stored form
// (secret references kept as written) together with where those
// references are, and reads no secret. ResolveDeferred resolves them when
// the executor takes the task, so the executor gets the values current
// then (a secret rotated meanwhile arrives rotated) and no value is held
// while the task waits.
func (r *Run) ResolveLater(ctx context.Context, tpl *interpolate.Template, env interpolate.Env) (interpolate.Deferred, error) {
	return tpl.ExecuteDeferred(ctx, envWith{Env: env, src: r.source()}, outBuf(tpl))
}

// ResolveDeferred resolves the secret references of d now: read through
// the run's source (as the run's principal, audited with the run id and
// the task ref ctx carries, see ForTask), every value used registered with
// the run's masker before it returns. The result is the transient form
// Resolve would have given: hand it to the executor and drop it. A
// missing, expired or forbidden secret is the error Resolve gives, naming
// the secret and its location, never a value.
func (r *Run) ResolveDeferred(ctx context.Context, d interpolate.Deferred) ([]byte, error) {
	if !d.HasSecrets() {
		return append([]byte(nil), d.Doc...), nil
	}
	rec := newRecording(r.source())
	var src interpolate.SecretSource = rec
	if _, ok := rec.src.(interpolate.BatchSecretSource); ok {
		src = batchRecording{rec}
	}
	if rec.src == nil {
		src = nil
	}
	out, used, err := d.Resolve(ctx, src)
	if err != nil {
		return nil, err
	}
	r.registerUsed(rec, used)
	return out, nil
}

// registerUsed registers the values a resolution used (usedValues).
func (r *Run) registerUsed(rec *recording, used []interpolate.Secret) {
	if len(used) == 0 {
		return
	}
	r.register(usedValues(rec, used)...)
}
