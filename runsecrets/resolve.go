package runsecrets

import (
	"context"

	"github.com/wfrun/wfrun/interpolate"
)

// Resolve executes a compiled template twice from the same compiled form
// and returns:
//
//   - stored: everything resolved except secret references, which stay
//     exactly as written (${workflow.secrets.X}): what the run keeps;
//   - transient: everything resolved, secret values included: what the
//     task's executor receives and drops;
//
// and registers every secret value it substituted before returning, so
// whatever the task does with them afterwards is masked. Secrets are read
// through the run's source, whatever env.Secrets says. A template without
// secret references returns the same slice twice.
func (r *Run) Resolve(ctx context.Context, tpl *interpolate.Template, env interpolate.Env) (stored, transient []byte, err error) {
	e := envWith{Env: env, src: r.source()}
	stored, _, err = tpl.Execute(ctx, e, interpolate.DeferSecrets, nil)
	if err != nil {
		return nil, nil, err
	}
	if !tpl.HasSecrets() {
		return stored, stored, nil
	}
	transient, err = r.ResolveOnly(ctx, tpl, env)
	return stored, transient, err
}

// ResolveOnly is the transient half of Resolve: every reference resolved,
// every substituted value registered.
func (r *Run) ResolveOnly(ctx context.Context, tpl *interpolate.Template, env interpolate.Env) ([]byte, error) {
	e := envWith{Env: env, src: r.source()}
	out, used, err := tpl.Execute(ctx, e, interpolate.ResolveSecrets, nil)
	if err != nil {
		return nil, err
	}
	if len(used) > 0 {
		vals := make([]string, 0, len(used))
		for _, s := range used {
			vals = append(vals, s.Value)
		}
		r.register(vals...)
	}
	return out, nil
}

// envWith is env with the run's secret source.
type envWith struct {
	interpolate.Env
	src interpolate.SecretSource
}

func (e envWith) Secrets() interpolate.SecretSource { return e.src }
