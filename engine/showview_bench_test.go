package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// showStoredRun starts, on one engine, a run that registered a value, has
// a correlationId and applies a task definition, and returns a second
// engine sharing the store, for which the run is stored, not executed:
// its views open the run's task definitions and mask its head and
// definition with the values its store holds.
func showStoredRun(tb testing.TB) (*engine.Engine, string) {
	tb.Helper()
	rs := runstore.NewMemory()
	k, err := seal.NewKeyring(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	defs := engine.NewTaskDefs()
	if err := defs.Put(taskDefRetries("issue", 1, 0)); err != nil {
		tb.Fatal(err)
	}
	issue := engine.WithWorker("issue", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{"_secrets":{"tok":"tok-4b1d9e7c2a5f"}}`), nil
	})
	newEngine := func() *engine.Engine {
		e, err := engine.New(engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithRunStore(rs),
			engine.WithKeyring(k), engine.WithTaskDefs(defs), engine.WithPollInterval(5*time.Millisecond), issue)
		if err != nil {
			tb.Fatal(err)
		}
		return e
	}
	e1, e2 := newEngine(), newEngine()
	d, err := e1.Parse([]byte(`{"name":"shown","tasks":[{"name":"issue","taskReferenceName":"issue"},
	  {"name":"w","taskReferenceName":"w","type":"WAIT"}]}`))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	const id = "shown-run"
	go func() {
		_, _ = e1.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(id), engine.WithCorrelationID("corr tok-4b1d9e7c2a5f"))
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		// "WAIT" is in the view from the start (its definition): wait for
		// the record of w waiting, past issue's completion and the value
		// it registered.
		if b, err := e2.Show(context.Background(), id); err == nil && viewWaitsOn(b, "w") {
			return e2, id
		}
		if time.Now().After(deadline) {
			tb.Fatal("the run never waited")
		}
	}
}

// viewWaitsOn reports whether view (a run's view) has task ref IN_PROGRESS.
func viewWaitsOn(view []byte, ref string) bool {
	var v struct {
		Tasks []struct {
			Ref    string `json:"referenceTaskName"`
			Status string `json:"status"`
		} `json:"tasks"`
	}
	if json.Unmarshal(view, &v) != nil {
		return false
	}
	for _, t := range v.Tasks {
		if t.Ref == ref && t.Status == engine.TaskInProgress {
			return true
		}
	}
	return false
}

// TestShowStoredRun: the view of a run another engine executes names its
// task definitions and shows no value it registered, in its head either.
func TestShowStoredRun(t *testing.T) {
	e, id := showStoredRun(t)
	b, err := e.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "tok-4b1d9e7c2a5f") {
		t.Fatalf("a registered value in the view: %s", b)
	}
	var v struct {
		CorrelationID string                     `json:"correlationId"`
		TaskDefs      map[string]json.RawMessage `json:"taskDefinitions"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.CorrelationID != "corr ***" || v.TaskDefs["issue"] == nil {
		t.Fatalf("correlationId %q, task definitions %v: want it masked and issue's definition", v.CorrelationID, v.TaskDefs)
	}
}

// BenchmarkShowStoredRun: Show of a run another engine executes (its
// task definitions opened, its head and definition masked).
func BenchmarkShowStoredRun(b *testing.B) {
	e, id := showStoredRun(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Show(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
