package engine_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// TestRunState: while the engine executes a run, State is its executor's
// (Here, the worker's task IN_PROGRESS before any write of it); once the
// run ended, State and StoredState read the store alike. No input or
// output travels with it.
func TestRunState(t *testing.T) {
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithWorker("hold", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			close(started)
			<-release
			return json.RawMessage(`{"r":1}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"rs","version":1,"schemaVersion":2,"tasks":[
		{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}},
		{"name":"hold","taskReferenceName":"h","type":"SIMPLE","inputParameters":{"x":"${workflow.input.x}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Start(ctx, def, json.RawMessage(`{"x":"y"}`), engine.WithRunID("rs-1"))
		done <- err
	}()
	<-started
	st, err := e.State(ctx, "rs-1")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Here || st.Status != engine.StatusRunning || len(st.Tasks) != 2 {
		t.Fatalf("state while executing: %+v", st)
	}
	if h := st.Tasks[1]; h.Ref != "h" || h.Type != "hold" || h.DefName != "hold" || !h.Open() || st.Tasks[0].Status != engine.TaskCompleted {
		t.Fatalf("tasks while executing: %+v", st.Tasks)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func(context.Context, string) (engine.RunState, error){"State": e.State, "StoredState": e.StoredState} {
		st, err := read(ctx, "rs-1")
		if err != nil {
			t.Fatal(err)
		}
		if st.Here || st.Status != engine.StatusCompleted || len(st.Tasks) != 2 || st.Tasks[1].Status != engine.TaskCompleted || st.Tasks[1].TaskID == "" {
			t.Fatalf("%s after the end: %+v", name, st)
		}
	}
	if _, err := e.StoredState(ctx, "no-such-run"); err == nil {
		t.Fatal("StoredState of an unknown run: no error")
	}
}
