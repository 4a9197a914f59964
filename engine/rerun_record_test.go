package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// restoreGate holds a rerun right after its write (Restore), before the
// run's executor does anything, while the test reads the run as a client
// would then: what the rerun's own write stored.
type restoreGate struct {
	runstore.Store
	armed    atomic.Bool
	restored chan struct{}
	release  chan struct{}
}

func (g *restoreGate) Restore(ctx context.Context, id string, ch *runstore.Change) error {
	err := g.Store.Restore(ctx, id, ch)
	if g.armed.CompareAndSwap(true, false) {
		g.restored <- struct{}{}
		<-g.release
	}
	return err
}

// rawTasks is Show's tasks with every field.
func rawTasks(t *testing.T, e *engine.Engine, id string) (string, []map[string]any) {
	t.Helper()
	b, err := e.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Status string           `json:"status"`
		Tasks  []map[string]any `json:"tasks"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.Status, v.Tasks
}

// TestRerunWritesTheTaskScheduled: as Conductor's rerunWF, the write that
// puts the run back to RUNNING holds the task rerun from reset in place —
// its record there, with its task id, seq and retryCount, SCHEDULED, its
// scheduledTime now, startTime, endTime and pollCount 0, its output
// cleared, its reasonForIncompletion kept (Conductor does not reset it),
// its input the rerun's taskInput or its previous one — and the tasks
// after it removed. A client reading the run right after that write, before
// the executor does anything, finds it; the executor then takes that
// record over (no second record of the task). For a plain task, a task of
// a DO_WHILE's iteration (the loop IN_PROGRESS again) and a task of a
// FORK_JOIN's branch.
func TestRerunWritesTheTaskScheduled(t *testing.T) {
	for _, tc := range []struct {
		name, def, failing, from string
		taskInput                string
		want                     []string // ref:status right after the rerun's write
	}{
		{"plain task", `{"name":"rerun_record_plain","version":1,"schemaVersion":2,"tasks":[
		 {"name":"w_ok","taskReferenceName":"first","inputParameters":{"k":"${workflow.input.k}"}},
		 {"name":"w_flaky","taskReferenceName":"second","inputParameters":{"k":"${workflow.input.k}"}},
		 {"name":"w_ok","taskReferenceName":"third"}]}`,
			"w_flaky", "second", `{"k":"given"}`, []string{"first:COMPLETED", "second:SCHEDULED"}},
		{"inside DO_WHILE", `{"name":"rerun_record_loop","version":1,"schemaVersion":2,"tasks":[
		 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"if ($.loop['iteration'] < 2) { true; } else { false; }",
		  "loopOver":[{"name":"w_flaky","taskReferenceName":"body","inputParameters":{"i":"${loop.output.iteration}"}}]},
		 {"name":"w_ok","taskReferenceName":"after"}]}`,
			"w_flaky", "body__2", "", []string{"loop:IN_PROGRESS", "body__1:COMPLETED", "body__2:SCHEDULED"}},
		{"inside FORK_JOIN", `{"name":"rerun_record_fork","version":1,"schemaVersion":2,"tasks":[
		 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
		  [{"name":"w_ok","taskReferenceName":"a"}],
		  [{"name":"w_flaky","taskReferenceName":"b","inputParameters":{"k":"${workflow.input.k}"}}]]},
		 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b"]},
		 {"name":"w_ok","taskReferenceName":"after"}]}`,
			"w_flaky", "b", `{"k":"given"}`, []string{"fork:COMPLETED", "a:COMPLETED", "b:SCHEDULED", "join:IN_PROGRESS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fail atomic.Bool
			var mu sync.Mutex
			got := map[string][]string{} // worker -> inputs, on the rerun
			// The fork's branch b fails once a has completed: a is not
			// cancelled by the run's failure.
			aDone := make(chan struct{})
			closeA := sync.OnceFunc(func() { close(aDone) })
			if tc.from != "b" {
				closeA()
			}
			events := engine.WithEvents(func(ev engine.Event) {
				if ev.Kind == engine.EventTask && ev.TaskRef == "a" && ev.Status == engine.TaskCompleted {
					closeA()
				}
			})
			worker := func(name string) engine.Option {
				return engine.WithWorker(name, func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
					if name == tc.failing && fail.Load() {
						select {
						case <-aDone:
						case <-ctx.Done():
							return nil, ctx.Err()
						}
					}
					mu.Lock()
					defer mu.Unlock()
					got[name] = append(got[name], string(in))
					// The loop's body fails in its second iteration only.
					if name == tc.failing && fail.Load() && (tc.from != "body__2" || string(in) == `{"i":2}`) {
						return nil, errors.New("boom")
					}
					return json.RawMessage(`{"r":"done"}`), nil
				})
			}
			one, zero := 1, 0
			defs := engine.NewTaskDefs()
			if err := defs.Put(&engine.TaskDef{Name: "w_flaky", RetryCount: &one, RetryDelaySeconds: &zero},
				&engine.TaskDef{Name: "w_ok", RetryCount: &zero}); err != nil {
				t.Fatal(err)
			}
			gate := newRestoreGate()
			e, err := engine.New(engine.WithRunStore(gate), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
				engine.WithKeyring(keyring(t, 3)), events, worker("w_ok"), worker("w_flaky"))
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Parse([]byte(tc.def))
			if err != nil {
				t.Fatal(err)
			}
			fail.Store(true)
			res := startRun(t, e, d, `{"k":"v1"}`)
			if res.Status != engine.StatusFailed {
				t.Fatalf("first run: %+v", res)
			}
			_, before := rawTasks(t, e, res.RunID)
			var prev map[string]any
			for _, tk := range before {
				if tk["referenceTaskName"] == tc.from {
					prev = tk // its last attempt: the one rerun from
				}
			}
			if prev == nil || prev["status"] != engine.TaskFailed || prev["retryCount"] != 1.0 {
				t.Fatalf("no failed retried %s to rerun from: %v", tc.from, before)
			}

			fail.Store(false)
			mu.Lock()
			got = map[string][]string{}
			mu.Unlock()
			o := engine.RerunOptions{FromTaskID: prev["taskId"].(string)}
			if tc.taskInput != "" {
				o.TaskInput = json.RawMessage(tc.taskInput)
			}
			since := time.Now().UnixMilli()
			status, now, wait := rerunAtItsWrite(t, e, gate, res.RunID, o)

			// Each ref's latest record (an earlier attempt of the task rerun
			// from aside).
			var seen []string
			at := map[any]int{}
			var rec map[string]any
			for _, tk := range now {
				s := fmt.Sprintf("%s:%s", tk["referenceTaskName"], tk["status"])
				if i, ok := at[tk["referenceTaskName"]]; ok {
					seen[i] = s
				} else {
					at[tk["referenceTaskName"]] = len(seen)
					seen = append(seen, s)
				}
				if tk["taskId"] == prev["taskId"] {
					rec = tk
				}
			}
			// The tasks after the one rerun from are removed (a branch's
			// task may have been scheduled after it).
			want := tc.want[:0:0]
			for _, w := range tc.want {
				ref, _, _ := strings.Cut(w, ":")
				if seq := latestSeq(before, ref); seq == 0 || seq <= prev["seq"].(float64) {
					want = append(want, w)
				}
			}
			if status != engine.StatusRunning || fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("right after the rerun's write: %s %v, want RUNNING %v", status, seen, want)
			}
			if rec == nil {
				t.Fatalf("the rerun's write holds no record of %s", tc.from)
			}
			for _, f := range []string{"taskId", "seq", "retryCount", "reasonForIncompletion", "retriedTaskId", "iteration"} {
				if fmt.Sprint(rec[f]) != fmt.Sprint(prev[f]) {
					t.Errorf("%s's %s after the rerun: %v, want %v as before", tc.from, f, rec[f], prev[f])
				}
			}
			if pc, _ := rec["pollCount"].(float64); rec["startTime"] != 0.0 || rec["endTime"] != 0.0 || pc != 0 {
				t.Errorf("%s's startTime, endTime, pollCount after the rerun: %v %v %v, want 0", tc.from, rec["startTime"], rec["endTime"], rec["pollCount"])
			}
			if st, _ := rec["scheduledTime"].(float64); int64(st) < since {
				t.Errorf("%s's scheduledTime %v is before the rerun (%d)", tc.from, rec["scheduledTime"], since)
			}
			if out, _ := rec["outputData"].(map[string]any); len(out) != 0 {
				t.Errorf("%s's output after the rerun: %v, want it cleared", tc.from, out)
			}
			wantIn, _ := json.Marshal(prev["inputData"])
			if tc.taskInput != "" {
				wantIn = []byte(tc.taskInput)
			}
			if in, _ := json.Marshal(rec["inputData"]); string(in) != string(wantIn) {
				t.Errorf("%s's input after the rerun: %s, want %s", tc.from, in, wantIn)
			}

			if rr, err := wait(); err != nil || rr.Status != engine.StatusCompleted {
				t.Fatalf("rerun: %v %+v", err, rr)
			}
			_, after := rawTasks(t, e, res.RunID)
			n := 0
			for _, tk := range after {
				if tk["taskId"] == prev["taskId"] {
					n++
					if tk["referenceTaskName"] != tc.from || tk["status"] != engine.TaskCompleted {
						t.Errorf("the rerun task after the run: %v", tk)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d records with the rerun task's id after the run, want 1: %v", n, after)
			}
			mu.Lock()
			defer mu.Unlock()
			if in := got[tc.failing]; len(in) != 1 || (tc.taskInput != "" && in[0] != tc.taskInput) {
				t.Errorf("%s ran with %v on the rerun, want once with the rerun's input", tc.failing, in)
			}
		})
	}
}

// latestSeq is the seq of ref's latest record in tasks (0: none).
func latestSeq(tasks []map[string]any, ref string) float64 {
	seq := 0.0
	for _, tk := range tasks {
		if tk["referenceTaskName"] == ref {
			seq, _ = tk["seq"].(float64)
		}
	}
	return seq
}

// noteWatch records, for each write of run id after it is armed, whether
// the stored head still holds the rerun's note and what the record of ref
// shows.
type noteWatch struct {
	runstore.Store
	id, ref string
	armed   atomic.Bool
	mu      sync.Mutex
	writes  []noteSeen
}

type noteSeen struct {
	note          bool
	status, child string
}

func (w *noteWatch) look(ctx context.Context, id string) {
	if !w.armed.Load() || id != w.id {
		return
	}
	doc, _, err := w.Store.Load(ctx, id)
	if err != nil {
		return
	}
	var d struct {
		RerunTask string `json:"rerunTask"`
		Tasks     []struct {
			Ref    string `json:"referenceTaskName"`
			Status string `json:"status"`
			Child  string `json:"subWorkflowId"`
		} `json:"tasks"`
	}
	if json.Unmarshal(doc, &d) != nil {
		return
	}
	s := noteSeen{note: d.RerunTask != ""}
	for _, tk := range d.Tasks {
		if tk.Ref == w.ref {
			s.status, s.child = tk.Status, tk.Child
		}
	}
	w.mu.Lock()
	w.writes = append(w.writes, s)
	w.mu.Unlock()
}

func (w *noteWatch) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	err := w.Store.Commit(ctx, id, ch)
	if err == nil {
		w.look(ctx, id)
	}
	return err
}

func (w *noteWatch) Restore(ctx context.Context, id string, ch *runstore.Change) error {
	err := w.Store.Restore(ctx, id, ch)
	if err == nil {
		w.look(ctx, id)
	}
	return err
}

// TestRerunNoteLeavesOnceTaken: the rerun's note (its sealed rerunTask:
// the input the task runs with, the child a SUB_WORKFLOW task rerun in
// place starts) is in the rerun's write, for a resume after a crash, and
// leaves the run's head with the write that shows it served — the task's
// attempt ended, or the SUB_WORKFLOW task naming its new child — not at
// the run's end.
func TestRerunNoteLeavesOnceTaken(t *testing.T) {
	for _, tc := range []struct{ name, def, ref string }{
		{"plain task", `{"name":"note_plain","version":1,"schemaVersion":2,"tasks":[
		 {"name":"w_ok","taskReferenceName":"first"},
		 {"name":"w_flaky","taskReferenceName":"second","inputParameters":{"k":"${workflow.input.k}"}},
		 {"name":"w_ok","taskReferenceName":"third"}]}`, "second"},
		{"SUB_WORKFLOW rerun in place", `{"name":"note_sub","version":1,"schemaVersion":2,"tasks":[
		 {"name":"w_ok","taskReferenceName":"first"},
		 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"note_child","workflowDefinition":
		  {"name":"note_child","version":1,"schemaVersion":2,"tasks":[{"name":"w_flaky","taskReferenceName":"inner"}]}}},
		 {"name":"w_ok","taskReferenceName":"third"}]}`, "sub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fail atomic.Bool
			ok := func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil }
			flaky := func(context.Context, json.RawMessage) (json.RawMessage, error) {
				if fail.Load() {
					return nil, errors.New("boom")
				}
				return json.RawMessage(`{}`), nil
			}
			zero := 0
			defs := engine.NewTaskDefs()
			if err := defs.Put(&engine.TaskDef{Name: "w_flaky", RetryCount: &zero}, &engine.TaskDef{Name: "w_ok", RetryCount: &zero}); err != nil {
				t.Fatal(err)
			}
			w := &noteWatch{Store: runstore.NewMemory(), ref: tc.ref}
			e, err := engine.New(engine.WithRunStore(w), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
				engine.WithKeyring(keyring(t, 4)), engine.WithWorker("w_ok", ok), engine.WithWorker("w_flaky", flaky))
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Parse([]byte(tc.def))
			if err != nil {
				t.Fatal(err)
			}
			fail.Store(true)
			res := startRun(t, e, d, `{"k":"v1"}`)
			if res.Status != engine.StatusFailed {
				t.Fatalf("first run: %+v", res)
			}
			before := viewRun(t, e, res.RunID)
			var from taskView
			for _, tk := range before.Tasks {
				if tk.Ref == tc.ref {
					from = tk
				}
			}
			fail.Store(false)
			w.id = res.RunID
			w.armed.Store(true)
			r, err := e.RerunWith(context.Background(), res.RunID, engine.RerunOptions{FromTaskID: from.TaskID})
			if err != nil || r.Status != engine.StatusCompleted {
				t.Fatalf("rerun: %v %+v", err, r)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if len(w.writes) == 0 || !w.writes[0].note || w.writes[0].status != engine.TaskScheduled {
				t.Fatalf("the rerun's write: %+v, want the note and %s SCHEDULED", w.writes, tc.ref)
			}
			taken := 0
			for i, s := range w.writes {
				if (tc.ref != "sub" && s.status == engine.TaskCompleted) || (tc.ref == "sub" && s.child != "" && s.child != from.SubWorkflowID) {
					taken++
					if s.note {
						t.Errorf("write %d shows %s taken over (%s, child %q) and still holds the rerun's note: %+v", i, tc.ref, s.status, s.child, w.writes)
					}
				}
			}
			if taken == 0 {
				t.Fatalf("no write shows %s taken over: %+v", tc.ref, w.writes)
			}
		})
	}
}
