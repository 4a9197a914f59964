package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store"
)

// Task-declared secrets (Conductor's TaskDef.runtimeMetadata): a task
// definition lists the secret and env-value names its workers need, and
// the worker that polls the task gets them resolved, as a name → value map
// beside the input (RemoteTask.RuntimeMetadata, the polled Task's
// runtimeMetadata). Each name is read from the run's secrets first, as the
// run's principal, through the run's boundary (audited with the run id and
// the task's ref, and registered with the run's masker, so a worker that
// echoes a value back has it masked), then from the env values
// (WithEnvValues). The values are resolved when a worker takes the task
// (RemoteTask.Resolve, at its poll), as its input's secret references are,
// and handed to that worker only: never held while the task waits, never
// in the task record or the run store.
//
// What a name that resolves nowhere does:
//   - not found in the secrets (or no secret source) and no env value: the
//     name is left out, as Conductor does — the list is declared metadata
//     of the task type, not a reference a workflow makes;
//   - forbidden to the run's principal and no env value: the task fails
//     with store.ErrForbidden naming the name (SPEC §1: no silent omission
//     of a secret the run may not read). The store answers forbidden
//     whether or not the secret exists, so neither the failure nor the
//     omission of missing names tells anyone which secrets exist;
//   - expired, or any other error of the store: the task fails naming the
//     name (never a value).

type runtimeMetadataKey struct{}

// RuntimeMetadata returns, inside a WorkerFunc, the names the task's
// definition declares in runtimeMetadata with their values, resolved as a
// remote worker gets them at its poll (RemoteTask.Resolve): secrets first,
// then env values, names found in neither left out. nil when the
// definition declares none. The values are secrets: pass them to what
// needs them, never into the task's output or a log (a value echoed back is
// masked in what the run stores).
func RuntimeMetadata(ctx context.Context) map[string]string {
	md, _ := ctx.Value(runtimeMetadataKey{}).(map[string]string)
	return md
}

// runtimeMetadata resolves names for the task ref of r.
func (r *runState) runtimeMetadata(ctx context.Context, ref string, names []string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	ctx = r.sec.ForTask(ctx, ref)
	out := make(map[string]string, len(names))
	for _, name := range names {
		if _, done := out[name]; done {
			continue
		}
		raw, err := r.sec.Secret(ctx, name)
		if err == nil {
			out[name] = metadataText(raw)
			continue
		}
		forbidden := errors.Is(err, store.ErrForbidden)
		if !forbidden && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, runsecrets.ErrNoSource) {
			return nil, fmt.Errorf("task definition's runtimeMetadata %q: %w", name, err)
		}
		if r.e.envValues != nil {
			v, ok, verr := r.e.envValues.Value(ctx, name)
			if verr != nil {
				return nil, fmt.Errorf("task definition's runtimeMetadata %q: env values: %w", name, verr)
			}
			if ok {
				out[name] = metadataText(v)
				continue
			}
		}
		if forbidden {
			return nil, fmt.Errorf("task definition's runtimeMetadata %q: %w", name, store.ErrForbidden)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// metadataText is a value as the polled Task's map carries it (Conductor's
// Map<String, String>): a JSON string as its text, anything else as its
// compact JSON, exactly — keys in their order, every digit of a number,
// nothing re-escaped — the form the run's masker registered, so a worker
// that echoes it back has it masked whole.
func metadataText(raw []byte) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var c bytes.Buffer
	if json.Compact(&c, raw) == nil {
		return c.String()
	}
	return string(raw)
}
