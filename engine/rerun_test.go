package engine_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// TestRerunKeepsTheTaskInput: as Conductor's rerunWF, the task rerun from
// keeps its task id and its previous inputData when no taskInput is given — even when the
// rerun replaces the run's input or a SET_VARIABLE after it changed what
// its template reads — while the tasks after it are scheduled anew from
// their templates (they read the replaced input).
func TestRerunKeepsTheTaskInput(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{}
	echo := func(name string) engine.Option {
		return engine.WithWorker(name, func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			seen[name] = append(seen[name], string(in))
			mu.Unlock()
			return json.RawMessage(`{"r":"done"}`), nil
		})
	}
	e := harnessEngine(t, nil, echo("w_first"), echo("w_second"), echo("w_third"))
	d, err := e.Parse([]byte(`{"name":"keep_input","version":1,"schemaVersion":2,"variables":{"x":"before"},"tasks":[
	 {"name":"w_first","taskReferenceName":"first","type":"SIMPLE","inputParameters":{"k":"${workflow.input.k}"}},
	 {"name":"w_second","taskReferenceName":"second","type":"SIMPLE","inputParameters":{"k":"${workflow.input.k}","x":"${workflow.variables.x}"}},
	 {"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"x":"after"}},
	 {"name":"w_third","taskReferenceName":"third","type":"SIMPLE","inputParameters":{"k":"${workflow.input.k}","x":"${workflow.variables.x}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{"k":"v1"}`)
	wf := viewRun(t, e, res.RunID)
	checkTasks(t, wf.Tasks, "w_first:COMPLETED", "w_second:COMPLETED", "SET_VARIABLE:COMPLETED", "w_third:COMPLETED")
	ctx := context.Background()
	for _, tc := range []struct {
		name, from string
		opts       engine.RerunOptions
		want       map[string]string // worker -> input it gets on the rerun
	}{
		{"workflowInput replaced", "second", engine.RerunOptions{WorkflowInput: json.RawMessage(`{"k":"v2"}`)},
			map[string]string{"w_second": `{"k":"v1","x":"before"}`, "w_third": `{"k":"v2","x":"after"}`}},
		{"taskInput given", "second", engine.RerunOptions{TaskInput: json.RawMessage(`{"k":"given"}`)},
			map[string]string{"w_second": `{"k":"given"}`, "w_third": `{"k":"v2","x":"after"}`}},
		{"from the first task", "first", engine.RerunOptions{WorkflowInput: json.RawMessage(`{"k":"v3"}`)},
			map[string]string{"w_first": `{"k":"v1"}`, "w_second": `{"k":"v3","x":"after"}`, "w_third": `{"k":"v3","x":"after"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wf := viewRun(t, e, res.RunID)
			for _, tk := range wf.Tasks {
				if tk.Ref == tc.from {
					tc.opts.FromTaskID = tk.TaskID
				}
			}
			mu.Lock()
			seen = map[string][]string{}
			mu.Unlock()
			r, err := e.RerunWith(ctx, res.RunID, tc.opts)
			if err != nil || r.Status != engine.StatusCompleted {
				t.Fatalf("rerun: %v %+v", err, r)
			}
			after := viewRun(t, e, res.RunID)
			for i, tk := range after.Tasks {
				if (tk.Ref == tc.from) != (tk.TaskID == tc.opts.FromTaskID) || (tk.Ref != tc.from && tk.TaskID == wf.Tasks[i].TaskID && tk.Seq >= seqOf(wf, tc.from)) {
					t.Errorf("task %s has id %s (rerun from %s): the rerun task keeps its id, the later ones get new ones", tk.Ref, tk.TaskID, tc.opts.FromTaskID)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != len(tc.want) {
				t.Fatalf("workers run: %v, want %v", seen, tc.want)
			}
			for w, in := range tc.want {
				if len(seen[w]) != 1 || seen[w][0] != in {
					t.Errorf("%s got %v, want %s", w, seen[w], in)
				}
			}
		})
	}
}

// seqOf is the seq of the task ref in wf.
func seqOf(wf runView, ref string) int {
	for _, tk := range wf.Tasks {
		if tk.Ref == ref {
			return tk.Seq
		}
	}
	return 0
}
