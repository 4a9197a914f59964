package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// mappedDefRun runs definition def (a dynamic fork of tasks named "redef")
// in one engine until the first attempt of redef, which registers after
// (nil: deletes the definition) and stops the process; another engine on
// the same store and registry resumes the run, where redef always fails.
// It returns the run's view and how many attempts the second engine ran.
func mappedDefRun(t *testing.T, def string, before, after *engine.TaskDef) (runView, map[string]json.RawMessage, int64) {
	t.Helper()
	defs := engine.NewTaskDefs()
	if before != nil {
		if err := defs.Put(before); err != nil {
			t.Fatal(err)
		}
	}
	rs, k := runstore.NewMemory(), keyring(t, 7)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(k), engine.WithTaskDefs(defs),
		engine.WithWorker("redef", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if after != nil {
				if err := defs.Put(after); err != nil {
					return nil, err
				}
			} else {
				defs.Delete("redef")
			}
			cancel() // the process goes away while the attempt runs
			<-c.Done()
			return nil, c.Err()
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Start(ctx, d, nil, engine.WithRunID("r-mapped"))
	if !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("want interrupted, got %v %+v", err, res)
	}
	var calls atomic.Int64
	b, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(k), engine.WithTaskDefs(defs),
		engine.WithWorker("redef", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			calls.Add(1)
			return nil, errors.New("no")
		}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Resume(context.Background(), "r-mapped"); err != nil {
		t.Fatal(err)
	}
	raw, err := b.Show(context.Background(), "r-mapped")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		TaskDefs map[string]json.RawMessage `json:"taskDefinitions"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return viewRun(t, b, "r-mapped"), v.TaskDefs, calls.Load()
}

// A task a dynamic fork makes keeps the definition it was mapped with:
// ForkJoinDynamicTaskMapper copies the definition registered for the
// task's name onto the WorkflowTask it forks, DynamicTaskMapper the one
// of the name a DYNAMIC task resolves, and the WorkflowTask is stored with
// the task (TaskModel.getTaskDefinition is its WorkflowTask's). So
// DeciderService.retry, which takes that definition when the task has one,
// retries a failed attempt as the definition said when the task was
// mapped, whatever is registered since, in whichever process decides; the
// run's view shows that definition too. Here the definition changes
// (retryCount 1 → 3) while the first attempt runs and the process goes
// away; the process that resumes the run runs the task twice, not four
// times.
func TestDynamicTaskKeepsTheDefinitionItWasMappedWith(t *testing.T) {
	const fork = `{"name":"mapped_def","schemaVersion":2,"tasks":[
	  {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	   "inputParameters":{"dynamicTasks":[%s],"inputs":{"x":{"tn":"redef"}}}},
	  {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`
	for name, task := range map[string]string{
		"a forked task":                         `{"name":"redef","taskReferenceName":"x"}`,
		"a forked DYNAMIC task's resolved task": `{"name":"inner_dyn","taskReferenceName":"x","type":"DYNAMIC","dynamicTaskNameParam":"tn"}`,
	} {
		t.Run(name, func(t *testing.T) {
			one, three, zero := 1, 3, 0
			resp, later := int64(30), int64(600)
			v, defs, calls := mappedDefRun(t, fmt.Sprintf(fork, task),
				&engine.TaskDef{Name: "redef", RetryCount: &one, RetryDelaySeconds: &zero, ResponseTimeoutSeconds: &resp},
				&engine.TaskDef{Name: "redef", RetryCount: &three, RetryDelaySeconds: &zero, ResponseTimeoutSeconds: &later})
			if v.Status != engine.StatusFailed || calls != 2 {
				t.Fatalf("run %s %q, redef ran %d times after the resume; want FAILED after 2 (retryCount 1, as mapped)", v.Status, v.Reason, calls)
			}
			var d engine.TaskDef
			if raw := defs["redef"]; raw == nil || json.Unmarshal(raw, &d) != nil || d.RetryCount == nil || *d.RetryCount != 1 || d.ResponseTimeoutSeconds == nil || *d.ResponseTimeoutSeconds != 30 {
				t.Fatalf("the view's definition of redef %s, want the one it was mapped with", defs["redef"])
			}
		})
	}
}

// A name a mapping found no definition registered for keeps none for the
// run's tasks of that name: one registered later gives a forked task of
// that name no retries (DeciderService.retry expects 0 without a
// definition), and the view holds the name with none (null). The other
// way round, a definition deleted after the mapping still applies.
func TestDynamicTaskMappedWithoutDefinitionKeepsNone(t *testing.T) {
	const def = `{"name":"mapped_none","schemaVersion":2,"tasks":[
	  {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	   "inputParameters":{"dynamicTasks":[{"name":"redef","taskReferenceName":"x"}],"inputs":{"x":{}}}},
	  {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`
	two, zero := 2, 0
	v, defs, calls := mappedDefRun(t, def, nil, &engine.TaskDef{Name: "redef", RetryCount: &two, RetryDelaySeconds: &zero})
	if v.Status != engine.StatusFailed || calls != 1 {
		t.Fatalf("run %s %q, redef ran %d times after the resume; want FAILED after 1", v.Status, v.Reason, calls)
	}
	if d, held := defs["redef"]; !held || string(d) != "null" {
		t.Fatalf("the view's definitions %v, want redef held as null", defs)
	}
	v, defs, calls = mappedDefRun(t, def, &engine.TaskDef{Name: "redef", RetryCount: &two, RetryDelaySeconds: &zero}, nil)
	if v.Status != engine.StatusFailed || calls != 3 || defs["redef"] == nil {
		t.Fatalf("run %s %q, redef ran %d times after the resume, view's definitions %v; want FAILED after 3 with the deleted definition", v.Status, v.Reason, calls, defs)
	}
}
