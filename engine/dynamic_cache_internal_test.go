package engine

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// The engine caches the task a DYNAMIC task of a definition resolves to,
// once per (task, name), for all its runs; a DYNAMIC task a dynamic fork
// makes is parsed anew by each run, so its resolved task is built for that
// run and not cached (an entry keyed by it would never be used again and
// would hold it for the engine's life).
func TestDynamicTaskCacheHoldsDefinitionTasksOnly(t *testing.T) {
	defs := NewTaskDefs()
	if err := defs.Put(&TaskDef{Name: "w"}); err != nil {
		t.Fatal(err)
	}
	e, err := New(WithRunStore(runstore.NewMemory()), WithTaskDefs(defs),
		WithWorker("w", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"dyn_cache","tasks":[
	  {"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn","inputParameters":{"tn":"w"}},
	  {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	   "inputParameters":{"dynamicTasks":[{"name":"inner","taskReferenceName":"x","type":"DYNAMIC","dynamicTaskNameParam":"tn"}],
	     "inputs":{"x":{"tn":"w"}}}},
	  {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
		if err != nil || res.Status != StatusCompleted {
			t.Fatalf("run %d: %v %+v", i, err, res)
		}
	}
	n := 0
	e.dynTasks.Range(func(k, _ any) bool {
		n++
		if key := k.(dynamicKey); key.wt.TaskReferenceName != "d" || key.name != "w" {
			t.Errorf("cached %s → %s", key.wt.TaskReferenceName, key.name)
		}
		return true
	})
	if n != 1 || e.dynTaskCount.Load() != 1 {
		t.Fatalf("%d entries (count %d), want the definition's DYNAMIC task's one", n, e.dynTaskCount.Load())
	}
}
