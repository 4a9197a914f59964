package worker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

// testServe is a wfrun serve the worker's tests poll: its own secret
// store, which its runs read (empty unless a test puts a secret in it to
// show the worker never gets it), its run store and its log (JSON, debug
// level), closed when the test ends.
type testServe struct {
	URL     string
	Runs    runstore.Store
	Secrets *memory.Store
	Logs    *testkit.SyncBuffer
}

func serveForWorkers(t *testing.T) *testServe {
	t.Helper()
	s := &testServe{Runs: runstore.NewMemory(), Secrets: memory.New(), Logs: &testkit.SyncBuffer{}}
	srv, err := server.New(s.Secrets,
		server.WithLogger(slog.New(slog.NewJSONHandler(s.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		server.WithConductor(t.TempDir(),
			engine.WithRunStore(s.Runs), engine.WithRegistry(tasks.NewDefaultRegistry()),
			engine.WithSecrets(func(p engine.Principal, project, env string) interpolate.SecretSource {
				return store.NewRunView(s.Secrets, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, env)
			})))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// secretsHolding is a worker's secret store holding values, by name.
func secretsHolding(t *testing.T, values map[string]string) *memory.Store {
	t.Helper()
	s := memory.New()
	for name, val := range values {
		v, _ := json.Marshal(val)
		if _, err := s.Put(context.Background(), &store.Secret{Name: name, Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}
