package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// The stepper drives a run as a test-harness spec does: its worker tasks
// wait, stored SCHEDULED, for the test to poll and answer them one by one
// (pollAndCompleteTask, pollAndFailTask), and after each step the test
// checks the run as the spec's `with(getExecutionStatus(…))` block does:
// its status, its number of tasks and the taskType:status of the records
// the block names. Worker tasks go to a RemoteWorkerFunc, so a task no
// worker has answered is SCHEDULED in the run, as in Conductor.

// specStep is one step of a spec: an expectation or an answer.
type specStep struct {
	// an answer: the oldest waiting call of name gets status and out
	name, status, out string
	// an expectation: status, the number of tasks, "i taskType:status"
	runStatus string
	size      int
	items     []string
	// child: the expectation is on the child run of the parent's
	// SUB_WORKFLOW task of this reference name.
	child string
	// check looks at the run after the expectation held.
	check func(*testing.T, *engine.Engine, runView)
	// act: an operation on the run (a retry, a rerun), started in the
	// background as a client's call is: it returns once the run ends.
	act func(ctx context.Context, e *engine.Engine, id string) error
}

// restartRun is workflowExecutor.restart(id, false): the run from its start.
func restartRun() specStep {
	return specStep{act: func(ctx context.Context, e *engine.Engine, id string) error {
		_, err := e.Restart(ctx, id, true)
		return err
	}}
}

// completeWaiting completes the waiting task ref (a WAIT) from outside, as
// the spec's workflowExecutor.updateTask(COMPLETED) does.
func completeWaiting(ref string) specStep {
	return specStep{act: func(ctx context.Context, e *engine.Engine, id string) error {
		_, err := e.CompleteTask(ctx, id, ref, engine.TaskCompleted, nil)
		return err
	}}
}

// retryRun is workflowExecutor.retry(id, resumeSubworkflowTasks).
func retryRun(resume bool) specStep {
	return specStep{act: func(ctx context.Context, e *engine.Engine, id string) error {
		_, err := e.Retry(ctx, id, resume)
		return err
	}}
}

// expect is a spec's `with(…)` block on the run: its status, its number
// of tasks (-1: the block does not look at it) and the records it names as
// "index taskType:status".
func expect(status string, size int, items ...string) specStep {
	return specStep{runStatus: status, size: size, items: items}
}

// expectChild is a spec's `with(…)` block on the child run of the
// SUB_WORKFLOW task ref.
func expectChild(ref, status string, size int, items ...string) specStep {
	return specStep{child: ref, runStatus: status, size: size, items: items}
}

func complete(name, out string) specStep {
	return specStep{name: name, status: string(tasks.Completed), out: out}
}

func failTask(name, reason string) specStep {
	return specStep{name: name, status: string(tasks.Failed), out: reason}
}

// then adds a check to an expectation.
func (s specStep) then(check func(*testing.T, *engine.Engine, runView)) specStep {
	s.check = check
	return s
}

type stepCall struct {
	rt     engine.RemoteTask
	answer chan tasks.Result
}

// stepper holds the worker calls of an engine until the test answers them.
type stepper struct {
	mu      sync.Mutex
	pending []*stepCall
	arrived chan struct{}
}

func newStepper() *stepper { return &stepper{arrived: make(chan struct{}, 1)} }

func (s *stepper) worker(ctx context.Context, rt engine.RemoteTask) tasks.Result {
	c := &stepCall{rt: rt, answer: make(chan tasks.Result, 1)}
	s.mu.Lock()
	s.pending = append(s.pending, c)
	s.mu.Unlock()
	select {
	case s.arrived <- struct{}{}:
	default:
	}
	select {
	case res := <-c.answer:
		return res
	case <-ctx.Done():
		// Cancelled (the task was, or the run ended): nobody may answer it.
		s.mu.Lock()
		for i, p := range s.pending {
			if p == c {
				s.pending = append(s.pending[:i], s.pending[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
		return tasks.Result{Status: tasks.Failed, Reason: ctx.Err().Error()}
	}
}

// answer gives the oldest waiting call of the task named name its result;
// it waits up to 10 s for one.
func (s *stepper) answer(t *testing.T, e *engine.Engine, name string, res tasks.Result) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		for i, c := range s.pending {
			if c.rt.Name == name && waitsForWorker(e, c.rt) {
				s.pending = append(s.pending[:i], s.pending[i+1:]...)
				s.mu.Unlock()
				c.answer <- res
				// Conductor decides on the answer before updateTask returns:
				// wait until the run has taken it.
				for !answered(e, c.rt) {
					select {
					case <-deadline:
						t.Fatalf("the answer to %s (%s) was not taken", name, c.rt.TaskID)
					case <-time.After(2 * time.Millisecond):
					}
				}
				return
			}
		}
		var names []string
		for _, c := range s.pending {
			names = append(names, c.rt.Name)
		}
		s.mu.Unlock()
		select {
		case <-s.arrived:
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no %s task to poll (waiting: %v)", name, names)
		}
	}
}

// waitsForWorker: the task of a call is still stored waiting for its
// worker (a call the run cancelled may not have returned yet).
func waitsForWorker(e *engine.Engine, rt engine.RemoteTask) bool {
	b, err := e.Show(context.Background(), rt.RunID)
	if err != nil {
		return false
	}
	var wf runView
	if json.Unmarshal(b, &wf) != nil {
		return false
	}
	for _, tk := range wf.Tasks {
		if tk.TaskID == rt.TaskID {
			return tk.Status == engine.TaskScheduled || tk.Status == engine.TaskInProgress
		}
	}
	return false
}

// answered: the task of a call has ended in its run, or was retried.
func answered(e *engine.Engine, rt engine.RemoteTask) bool {
	b, err := e.Show(context.Background(), rt.RunID)
	if err != nil {
		return false
	}
	var wf runView
	if json.Unmarshal(b, &wf) != nil {
		return false
	}
	for _, tk := range wf.Tasks {
		if tk.TaskID == rt.TaskID {
			return tk.Status != engine.TaskScheduled && tk.Status != engine.TaskInProgress
		}
	}
	return false
}

// shape tells whether wf is what st expects, and what it is.
func (st specStep) shape(wf runView) (bool, string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d tasks:", wf.Status, len(wf.Tasks))
	for i, tk := range wf.Tasks {
		fmt.Fprintf(&b, " %d %s:%s", i, tk.TaskType, tk.Status)
	}
	if wf.Status != st.runStatus || (st.size >= 0 && len(wf.Tasks) != st.size) {
		return false, b.String()
	}
	for _, it := range st.items {
		i, want, _ := strings.Cut(it, " ")
		n, _ := strconv.Atoi(i)
		if n >= len(wf.Tasks) || wf.Tasks[n].TaskType+":"+wf.Tasks[n].Status != want {
			return false, b.String()
		}
	}
	return true, b.String()
}

// stepCase is a spec case run step by step on a harness definition.
type stepCase struct {
	name, file, input, correlationID string
	defs                             []*engine.TaskDef
	opts                             []engine.Option
	// patch changes the loaded definition, as a spec's updateWorkflowDef.
	patch func(map[string]any)
	steps []specStep
}

func runStepCases(t *testing.T, cases []stepCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStepper()
			defs := harnessTaskDefs(t)
			if err := defs.Put(tc.defs...); err != nil {
				t.Fatal(err)
			}
			e := harnessEngine(t, nil, append([]engine.Option{engine.WithTaskDefs(defs), engine.WithRemoteWorker(s.worker)}, tc.opts...)...)
			var d *engine.Definition
			if tc.patch != nil {
				d = patchedHarnessDef(t, e, tc.file, tc.patch)
			} else {
				d = harnessDef(t, e, tc.file)
			}
			id := "step-" + strings.ReplaceAll(tc.name, " ", "-")
			var bg sync.WaitGroup
			bg.Add(1)
			go func() {
				defer bg.Done()
				in := tc.input
				if in == "" {
					in = "{}"
				}
				if _, err := e.Start(context.Background(), d, json.RawMessage(in), engine.WithRunID(id),
					engine.WithCorrelationID(tc.correlationID)); err != nil {
					t.Errorf("start: %v", err)
				}
			}()
			for i, st := range tc.steps {
				if st.act != nil {
					bg.Add(1)
					go func() {
						defer bg.Done()
						if err := st.act(context.Background(), e, id); err != nil {
							t.Errorf("step %d: %v", i, err)
						}
					}()
					continue
				}
				if st.name != "" {
					res := tasks.Result{Status: tasks.Status(st.status)}
					if st.status == string(tasks.Completed) {
						res.Output = json.RawMessage(st.out)
						if st.out == "" {
							res.Output = json.RawMessage(`{}`)
						}
					} else {
						res.Reason = st.out
					}
					s.answer(t, e, st.name, res)
					continue
				}
				var wf runView
				var got string
				ok := false
				for deadline := time.Now().Add(10 * time.Second); !ok && time.Now().Before(deadline); {
					runID := id
					if st.child != "" {
						runID = ""
						if b, err := e.Show(context.Background(), id); err == nil {
							var p runView
							_ = json.Unmarshal(b, &p)
							runID = byRef(p.Tasks)[st.child].SubWorkflowID
						}
					}
					b, err := e.Show(context.Background(), runID)
					if err == nil {
						wf = runView{}
						if err := json.Unmarshal(b, &wf); err != nil {
							t.Fatal(err)
						}
						ok, got = st.shape(wf)
					} else {
						got = err.Error()
					}
					if !ok {
						time.Sleep(5 * time.Millisecond)
					}
				}
				if !ok {
					t.Fatalf("step %d: run %s is %s; want %s %d tasks: %s", i, st.child, got, st.runStatus, st.size, strings.Join(st.items, " "))
				}
				if st.check != nil {
					st.check(t, e, wf)
				}
			}
			if last := tc.steps[len(tc.steps)-1]; last.name == "" && last.runStatus != engine.StatusRunning && last.runStatus != engine.StatusPaused {
				done := make(chan struct{})
				go func() { bg.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("the run did not end")
				}
			}
		})
	}
}
