package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

// sealKit runs the stored-run authentication tests' workflows: engines on
// one run store and keyring, a secret store holding public_token and
// deploy_key, and a "capture" worker that records the input it gets.
type sealKit struct {
	t    *testing.T
	rs   runstore.Store
	sec  *memory.Store
	mu   sync.Mutex
	seen []string
}

func newSealKit(t *testing.T, rs runstore.Store) *sealKit {
	t.Helper()
	k := &sealKit{t: t, rs: rs, sec: memory.New()}
	for name, v := range map[string]string{"public_token": "public-token-5521", "deploy_key": deployKey} {
		if _, err := k.sec.Put(context.Background(), &store.Secret{Name: name, Value: json.RawMessage(`"` + v + `"`)}); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// engine is a new engine of the kit, with opts.
func (k *sealKit) engine(opts ...engine.Option) *engine.Engine {
	e, err := engine.New(append([]engine.Option{engine.WithRunStore(k.rs), engine.WithKeyring(keyring(k.t, 1)),
		engine.WithPollInterval(5 * time.Millisecond), engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithSecrets(func(p engine.Principal, project, env string) interpolate.SecretSource {
			return store.NewRunView(k.sec, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, env)
		}),
		engine.WithWorker("capture", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			k.mu.Lock()
			k.seen = append(k.seen, string(in))
			k.mu.Unlock()
			return json.RawMessage(`{"ok":true}`), nil
		})}, opts...)...)
	if err != nil {
		k.t.Fatal(err)
	}
	return e
}

// startWaiting runs def as run id, as principal ci allowed public_token,
// until it waits for an outside completion, and leaves it there.
func (k *sealKit) startWaiting(def, id string) {
	k.t.Helper()
	k.startWaitingWith(def, id, nil)
}

// startWaitingWith is startWaiting with the run's input.
func (k *sealKit) startWaitingWith(def, id string, input json.RawMessage) {
	k.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := k.engine(engine.WithEvents(func(ev engine.Event) {
		if ev.Kind == engine.EventWaiting {
			cancel()
		}
	}))
	d, err := e.Parse([]byte(def))
	if err != nil {
		k.t.Fatal(err)
	}
	res, err := e.Start(ctx, d, input, engine.WithRunID(id),
		engine.AsPrincipal(engine.Principal{Name: "ci", Scopes: []string{"secrets:get:public_token"}}))
	if !errors.Is(err, engine.ErrInterrupted) || res.Status != engine.StatusRunning {
		k.t.Fatalf("want interrupted, got %v %+v", err, res)
	}
}

// inputs returns the inputs the worker got since the last call, and
// forgets them.
func (k *sealKit) inputs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	in := k.seen
	k.seen = nil
	return in
}
