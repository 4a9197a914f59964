package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// The rerun harness drives a run as conductor-oss's e2e WorkflowRerunTests
// do through the client: its worker tasks wait, SCHEDULED, until the test
// answers them (taskClient.updateTaskSync by workflow id and reference
// name), runs are looked at with getWorkflow, and a rerun or retry is an
// operation started in the background (wfrun's RerunWith returns when the
// run ends; Conductor's call returns once the run is reset).
//
// The definitions are the ones the Java tests build, transcribed into
// testdata/conductor/transcribed/rerun (SOURCES.md); sub-workflows are
// looked up there by name.

const rerunDefsDir = conductorDir + "/transcribed/rerun"

// rerunWorker holds the worker calls of an engine until the test answers
// them, by run id and reference name.
type rerunWorker struct {
	mu      sync.Mutex
	pending []*stepCall
}

func (w *rerunWorker) worker(ctx context.Context, rt engine.RemoteTask) tasks.Result {
	c := &stepCall{rt: rt, answer: make(chan tasks.Result, 1)}
	w.mu.Lock()
	w.pending = append(w.pending, c)
	w.mu.Unlock()
	select {
	case res := <-c.answer:
		return res
	case <-ctx.Done():
		w.mu.Lock()
		for i, p := range w.pending {
			if p == c {
				w.pending = append(w.pending[:i], w.pending[i+1:]...)
				break
			}
		}
		w.mu.Unlock()
		return tasks.Result{Status: tasks.Failed, Reason: ctx.Err().Error()}
	}
}

// rerunHarness is one engine and the runs a test started on it.
type rerunHarness struct {
	t  *testing.T
	e  *engine.Engine
	w  *rerunWorker
	bg sync.WaitGroup
	n  int
	// roots are the runs the test started: close terminates them (and so
	// their children).
	roots []string
	// host replaces Conductor's API tester host in the definitions
	// (withTester).
	host string
}

// withTester points the definitions' HTTP tasks at a local API tester.
func (h *rerunHarness) withTester() *rerunHarness {
	h.host = newTester(h.t).srv.URL
	return h
}

func newRerunHarness(t *testing.T, opts ...engine.Option) *rerunHarness {
	t.Helper()
	h := &rerunHarness{t: t, w: &rerunWorker{}}
	h.e = harnessEngine(t, nil, append([]engine.Option{
		engine.WithDefinitionsDir(rerunDefsDir),
		engine.WithRemoteWorker(h.w.worker),
	}, opts...)...)
	t.Cleanup(h.close)
	return h
}

// close terminates what the test left running (the Java tests'
// terminateExistingRunningWorkflows) and waits for the background calls.
func (h *rerunHarness) close() {
	ctx := context.Background()
	for _, id := range h.roots {
		if v, err := h.view(id); err == nil && v.Status == engine.StatusRunning {
			_ = h.e.Terminate(ctx, id, "terminate - rerun test")
		}
	}
	done := make(chan struct{})
	go func() { h.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		h.t.Error("background calls did not return")
	}
}

// start starts the transcribed workflow file (without .json) with input.
func (h *rerunHarness) start(file, input string, opts ...engine.RunOption) string {
	h.t.Helper()
	b, err := os.ReadFile(rerunDefsDir + "/" + file + ".json")
	if err != nil {
		h.t.Fatal(err)
	}
	if h.host != "" {
		b = bytes.ReplaceAll(b, []byte(testerHost), []byte(h.host))
	}
	d, err := h.e.Parse(b)
	if err != nil {
		h.t.Fatalf("%s: %v", file, err)
	}
	if input == "" {
		input = "{}"
	}
	h.n++
	id := fmt.Sprintf("%s-%d", filepath.Base(file), h.n) // a run id holds no "/"
	h.roots = append(h.roots, id)
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		if _, err := h.e.Start(context.Background(), d, json.RawMessage(input), append([]engine.RunOption{engine.WithRunID(id)}, opts...)...); err != nil {
			h.t.Errorf("start %s: %v", file, err)
		}
	}()
	return id
}

// op runs a client operation in the background: wfrun's rerun and retry
// return when the run ends, Conductor's once the run is reset.
func (h *rerunHarness) op(what string, fn func(context.Context, *engine.Engine) error) {
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		if err := fn(context.Background(), h.e); err != nil && !errors.Is(err, context.Canceled) {
			h.t.Errorf("%s: %v", what, err)
		}
	}()
}

// rerun is workflowClient.rerunWorkflow(id, request).
func (h *rerunHarness) rerun(id string, o engine.RerunOptions) {
	h.op("rerun "+id, func(ctx context.Context, e *engine.Engine) error {
		_, err := e.RerunWith(ctx, id, o)
		return err
	})
}

// retry is workflowClient.retryWorkflow([id]) (resumeSubworkflowTasks
// false, the client's default).
func (h *rerunHarness) retry(id string) {
	h.op("retry "+id, func(ctx context.Context, e *engine.Engine) error {
		_, err := e.Retry(ctx, id, false)
		return err
	})
}

// view is getWorkflow(id, true); "" when the run is not there.
func (h *rerunHarness) view(id string) (runView, error) {
	b, err := h.e.Show(context.Background(), id)
	if err != nil {
		return runView{}, err
	}
	var v runView
	err = json.Unmarshal(b, &v)
	return v, err
}

// await polls run id until ok holds (the Java tests' await().untilAsserted);
// ok returns "" when it holds, else what it saw.
func (h *rerunHarness) await(id, what string, ok func(runView) string) runView {
	h.t.Helper()
	var got string
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := h.view(id)
		if err == nil {
			if got = ok(v); got == "" {
				return v
			}
		} else {
			got = err.Error()
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run %s: %s: %s\nrun: %s", id, what, got, describeRun(v))
		}
		time.Sleep(3 * time.Millisecond)
	}
}

// awaitStatus waits for run id to have status.
func (h *rerunHarness) awaitStatus(id, status string) runView {
	h.t.Helper()
	return h.await(id, "status "+status, func(v runView) string {
		if v.Status != status {
			return v.Status
		}
		return ""
	})
}

// child waits for the SUB_WORKFLOW task ref of run id to have a child run
// other than not, with at least one task, and returns its id.
func (h *rerunHarness) child(id, ref, not string) string {
	h.t.Helper()
	var cid string
	h.await(id, "a child of "+ref, func(v runView) string {
		tk, ok := lastRef(v, ref)
		if !ok || tk.SubWorkflowID == "" || tk.SubWorkflowID == not {
			return "no new child yet"
		}
		c, err := h.view(tk.SubWorkflowID)
		if err != nil || len(c.Tasks) == 0 {
			return "child without tasks yet"
		}
		cid = tk.SubWorkflowID
		return ""
	})
	return cid
}

// answer is taskClient.updateTaskSync(runID, ref, status, output) for a
// worker task: the waiting call of ref in run runID gets the result, and
// the run takes it before answer returns.
func (h *rerunHarness) answer(runID, ref, status string) {
	h.t.Helper()
	h.answerWith(runID, ref, status, `{}`)
}

// answerWith is answer with the task's output (when it completes).
func (h *rerunHarness) answerWith(runID, ref, status, output string) {
	h.t.Helper()
	res := tasks.Result{Status: tasks.Status(status), Output: json.RawMessage(output)}
	if status != engine.TaskCompleted {
		res.Output, res.Reason = nil, "failed by the test"
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.w.mu.Lock()
		for i, c := range h.w.pending {
			if c.rt.RunID == runID && (c.rt.Ref == ref || strings.SplitN(c.rt.Ref, "__", 2)[0] == ref) && waitsForWorker(h.e, c.rt) {
				h.w.pending = append(h.w.pending[:i], h.w.pending[i+1:]...)
				h.w.mu.Unlock()
				c.answer <- res
				for !answered(h.e, c.rt) {
					if time.Now().After(deadline) {
						h.t.Fatalf("the answer to %s in %s was not taken", ref, runID)
					}
					time.Sleep(2 * time.Millisecond)
				}
				return
			}
		}
		var names []string
		for _, c := range h.w.pending {
			names = append(names, c.rt.RunID+":"+c.rt.Ref)
		}
		h.w.mu.Unlock()
		if time.Now().After(deadline) {
			v, _ := h.view(runID)
			h.t.Fatalf("no %s task of %s to answer (waiting: %v)\nrun: %s", ref, runID, names, describeRun(v))
		}
		time.Sleep(3 * time.Millisecond)
	}
}

// lastRef is the latest record of ref (the exact ref, or its DO_WHILE base).
func lastRef(v runView, ref string) (taskView, bool) {
	for i := len(v.Tasks) - 1; i >= 0; i-- {
		if v.Tasks[i].Ref == ref {
			return v.Tasks[i], true
		}
	}
	return taskView{}, false
}

// firstRef is the first record of ref (Java's getTasks().stream().filter(ref).findFirst()).
func firstRef(v runView, ref string) (taskView, bool) {
	for _, tk := range v.Tasks {
		if tk.Ref == ref {
			return tk, true
		}
	}
	return taskView{}, false
}

func describeRun(v runView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (%s):", v.WorkflowID, v.Status, v.Reason)
	for i, tk := range v.Tasks {
		fmt.Fprintf(&b, " %d %s/%s:%s", i, tk.Ref, tk.TaskType, tk.Status)
		if tk.Iteration > 0 {
			fmt.Fprintf(&b, "#%d", tk.Iteration)
		}
		if tk.SubWorkflowID != "" {
			fmt.Fprintf(&b, "->%s", tk.SubWorkflowID)
		}
	}
	return b.String()
}

// terminal is Conductor's Task.Status.isTerminal().
func terminal(status string) bool {
	switch status {
	case engine.TaskScheduled, engine.TaskInProgress:
		return false
	}
	return true
}

// statusIs is an await condition: the latest record of each ref has the
// status given after it ("ref=STATUS" or "ref=A|B").
func statusIs(runStatus string, refStatus ...string) func(runView) string {
	return func(v runView) string {
		if runStatus != "" && v.Status != runStatus {
			return "run " + v.Status
		}
		for _, rs := range refStatus {
			ref, want, _ := strings.Cut(rs, "=")
			tk, ok := lastRef(v, ref)
			if !ok {
				return ref + " missing"
			}
			if !strings.Contains("|"+want+"|", "|"+tk.Status+"|") {
				return ref + " " + tk.Status
			}
		}
		return ""
	}
}

// activeRef is Java's findActiveTask: the first non-terminal record of ref
// (its DO_WHILE base ref when iteration > 0).
func activeRef(v runView, ref string, iteration int) (taskView, bool) {
	for _, tk := range v.Tasks {
		base := strings.SplitN(tk.Ref, "__", 2)[0]
		if (tk.Ref == ref || (iteration > 0 && base == ref && tk.Iteration == iteration)) && !terminal(tk.Status) {
			return tk, true
		}
	}
	return taskView{}, false
}

// active waits for an active record of ref in run id and returns it.
func (h *rerunHarness) active(id, ref string) taskView {
	h.t.Helper()
	var got taskView
	h.await(id, ref+" active", func(v runView) string {
		tk, ok := activeRef(v, ref, 0)
		if !ok {
			return "not active"
		}
		got = tk
		return ""
	})
	return got
}

// first is the first record of ref in v; the test fails without one.
func first(t *testing.T, v runView, ref string) taskView {
	t.Helper()
	tk, ok := firstRef(v, ref)
	if !ok {
		t.Fatalf("%s not found: %s", ref, describeRun(v))
	}
	return tk
}

// oneOf: status is one of the statuses.
func oneOf(status string, statuses ...string) bool {
	for _, s := range statuses {
		if status == s {
			return true
		}
	}
	return false
}

// rawTasks is getWorkflow(id, true).getTasks() with every field.
func (h *rerunHarness) rawTasks(id string) []map[string]any {
	h.t.Helper()
	b, err := h.e.Show(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	var v struct {
		Tasks []map[string]any `json:"tasks"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		h.t.Fatal(err)
	}
	return v.Tasks
}
