package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// resumeRig runs a parent whose task "a" fails through worker w_a (in a
// child run when a is a SUB_WORKFLOW) and whose task "hold" waits until the
// test lets it end; engines made by newEngine share one run store and
// keyring, as processes sharing a run store do.
type resumeRig struct {
	calls atomic.Int32
	// block makes w_a wait until its context ends instead of failing.
	block  atomic.Bool
	hold   chan struct{}
	shared runstore.Store
	e      *engine.Engine
	// newEngine makes an engine of another process.
	newEngine func() *engine.Engine
}

func newResumeRig(t *testing.T) *resumeRig {
	g := &resumeRig{hold: make(chan struct{}), shared: runstore.NewMemory()}
	ring := keyring(t, 9)
	g.newEngine = func() *engine.Engine {
		return harnessEngine(t, g.shared, engine.WithKeyring(ring),
			engine.WithWorker("w_a", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
				g.calls.Add(1)
				if g.block.Load() {
					<-c.Done()
					return nil, c.Err()
				}
				return nil, errors.New("w_a failed")
			}),
			engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
				select {
				case <-g.hold:
					return json.RawMessage(`{"held":true}`), nil
				case <-c.Done():
					return nil, c.Err()
				}
			}))
	}
	g.e = g.newEngine()
	return g
}

// start starts def as run id in g.e; cancel makes that process go away.
func (g *resumeRig) start(t *testing.T, def, id string) (cancel func(), done chan *engine.Result) {
	t.Helper()
	d, err := g.e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan *engine.Result, 1)
	e := g.e
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(id))
		if err != nil && !errors.Is(err, engine.ErrInterrupted) {
			t.Errorf("parent: %v", err)
		}
		done <- res
	}()
	waitFor(t, "the parent to be stored", func() bool {
		_, _, err := g.shared.Load(context.Background(), id)
		return err == nil
	})
	return cancel, done
}

// resume resumes run id in a new engine (the first process went away).
func (g *resumeRig) resume(t *testing.T, id string) chan *engine.Result {
	g.e = g.newEngine()
	done := make(chan *engine.Result, 1)
	e := g.e
	go func() {
		res, err := e.Resume(context.Background(), id)
		if err != nil {
			t.Errorf("resume: %v", err)
		}
		done <- res
	}()
	waitFor(t, "the parent to be executed", func() bool { return e.Executes(id) || len(done) > 0 })
	return done
}

// subA is a SUB_WORKFLOW task a (retryCount and flags as given) whose
// inline child's only task calls w_a; simpleA the SIMPLE task w_a itself.
func subA(flags string) string {
	return `{"name":"a","taskReferenceName":"a","type":"SUB_WORKFLOW",` + flags + `,"subWorkflowParam":{"name":"ca","workflowDefinition":
	  {"name":"ca","version":1,"schemaVersion":2,"tasks":[{"name":"w_a","taskReferenceName":"w","retryCount":0}]}}}`
}

func simpleA(flags string) string {
	return `{"name":"w_a","taskReferenceName":"a",` + flags + `}`
}

// forkParent puts a and hold in the two branches of a FORK joined on both;
// seqParent runs a, then hold.
func forkParent(a string) string {
	return `{"name":"resume_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[[` + a + `],[{"name":"hold","taskReferenceName":"hold"}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","hold"]}]}`
}

// loopParent runs a, then hold, in one DO_WHILE iteration.
func loopParent(a string) string {
	return `{"name":"resume_parent","version":1,"schemaVersion":2,"tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
	 "loopCondition":"false","evaluatorType":"javascript","loopOver":[` + a + `,{"name":"hold","taskReferenceName":"hold"}]}]}`
}

func seqParent(a string) string {
	return `{"name":"resume_parent","version":1,"schemaVersion":2,"tasks":[` + a + `,{"name":"hold","taskReferenceName":"hold"}]}`
}

// A run resumed after the process executing it went away keeps the
// outcome of a task whose attempt had ended unsuccessfully, as Conductor's
// decider decided it once: the replay starts no new attempt (and no new
// child) for a permissive task with no retry left, and the run goes on
// past it — its JOIN fails, or the run fails when it would complete
// (DeciderService.decide marks the task executed; retry() returns no
// attempt for a permissive task). An attempt the task's retry policy
// retries is retried (the process went away during the retry delay):
// Conductor's decider schedules that retry on its next decide. An optional
// task's failure became COMPLETED_WITH_ERRORS and stays so.
func TestResumeKeepsAnEndedAttemptsOutcome(t *testing.T) {
	const delay = `"taskDefinition":{"retryLogic":"FIXED","retryDelaySeconds":2}`
	cases := []struct {
		name string
		def  string
		// interrupt: the state of a at which the first process goes away
		// (a's status, w_a's calls so far).
		status string
		calls  int32
		// what the resumed run ends with.
		want      string
		wantTasks []string
		wantCalls int32
		// the resume keeps record a as it was (same id, same child).
		sameA bool
		// the run's reason names a (the permissive failure at its end).
		reasonA bool
		// ref is a's reference when it is not "a" (a loop's a__1).
		ref string
		// block: w_a waits (a times out, or its child is terminated:
		// terminate).
		block, terminate bool
	}{
		{name: "permissive SUB_WORKFLOW in a fork", def: forkParent(subA(`"retryCount":0,"permissive":true`)),
			status: engine.TaskFailed, calls: 1, want: engine.StatusFailed,
			wantTasks: []string{"FORK:COMPLETED", "SUB_WORKFLOW:FAILED", "hold:COMPLETED", "JOIN:FAILED"}, wantCalls: 1, sameA: true},
		{name: "permissive SUB_WORKFLOW in a sequence", def: seqParent(subA(`"retryCount":0,"permissive":true`)),
			status: engine.TaskFailed, calls: 1, want: engine.StatusFailed,
			wantTasks: []string{"SUB_WORKFLOW:FAILED", "hold:COMPLETED"}, wantCalls: 1, sameA: true, reasonA: true},
		{name: "optional SUB_WORKFLOW in a fork", def: forkParent(subA(`"retryCount":0,"optional":true`)),
			status: engine.TaskCompletedWithErrors, calls: 1, want: engine.StatusCompleted,
			wantTasks: []string{"FORK:COMPLETED", "SUB_WORKFLOW:COMPLETED_WITH_ERRORS", "hold:COMPLETED", "JOIN:COMPLETED_WITH_ERRORS"}, wantCalls: 1, sameA: true},
		{name: "optional SUB_WORKFLOW in a sequence", def: seqParent(subA(`"retryCount":0,"optional":true`)),
			status: engine.TaskCompletedWithErrors, calls: 1, want: engine.StatusCompleted,
			wantTasks: []string{"SUB_WORKFLOW:COMPLETED_WITH_ERRORS", "hold:COMPLETED"}, wantCalls: 1, sameA: true},
		{name: "permissive SUB_WORKFLOW with a retry left", def: forkParent(subA(`"retryCount":1,"permissive":true,` + delay)),
			status: engine.TaskFailed, calls: 1, want: engine.StatusFailed,
			wantTasks: []string{"FORK:COMPLETED", "SUB_WORKFLOW:FAILED", "hold:COMPLETED", "JOIN:FAILED", "SUB_WORKFLOW:FAILED"}, wantCalls: 2},
		// The retry was stored SCHEDULED before the process went away
		// (DeciderService.retry): the resumed run starts its child once
		// the rest of its 2 s delay has passed, so hold, let go 200 ms
		// after the resume, has completed by the time it fails the run.
		{name: "SUB_WORKFLOW with a retry left", def: forkParent(subA(`"retryCount":1,` + delay)),
			status: engine.TaskFailed, calls: 1, want: engine.StatusFailed,
			wantTasks: []string{"FORK:COMPLETED", "SUB_WORKFLOW:FAILED", "hold:COMPLETED", "JOIN:CANCELED", "SUB_WORKFLOW:FAILED"}, wantCalls: 2},
		{name: "permissive SIMPLE in a fork", def: forkParent(simpleA(`"retryCount":0,"permissive":true`)),
			status: engine.TaskFailed, calls: 1, want: engine.StatusFailed,
			wantTasks: []string{"FORK:COMPLETED", "w_a:FAILED", "hold:COMPLETED", "JOIN:FAILED"}, wantCalls: 1, sameA: true},
		{name: "permissive SIMPLE in a sequence", def: seqParent(simpleA(`"retryCount":0,"permissive":true`)),
			status: engine.TaskFailed, calls: 1, want: engine.StatusFailed,
			wantTasks: []string{"w_a:FAILED", "hold:COMPLETED"}, wantCalls: 1, sameA: true, reasonA: true},
		{name: "optional SIMPLE in a sequence", def: seqParent(simpleA(`"retryCount":0,"optional":true`)),
			status: engine.TaskCompletedWithErrors, calls: 1, want: engine.StatusCompleted,
			wantTasks: []string{"w_a:COMPLETED_WITH_ERRORS", "hold:COMPLETED"}, wantCalls: 1, sameA: true},
		// A task that timed out (Conductor's checkTaskTimeout with
		// timeoutPolicy RETRY and no retry left) stays TIMED_OUT.
		{name: "permissive SIMPLE timed out in a fork", def: forkParent(simpleA(`"retryCount":0,"permissive":true,` +
			`"taskDefinition":{"timeoutSeconds":1,"responseTimeoutSeconds":1,"timeoutPolicy":"RETRY"}`)),
			status: engine.TaskTimedOut, calls: 1, want: engine.StatusFailed, block: true,
			wantTasks: []string{"FORK:COMPLETED", "w_a:TIMED_OUT", "hold:COMPLETED", "JOIN:FAILED"}, wantCalls: 1, sameA: true},
		// A SUB_WORKFLOW whose child was terminated is CANCELED
		// (SubWorkflow.execute), which retry() never retries: the
		// permissive branch stays CANCELED, the JOIN on it ends CANCELED
		// and the run TERMINATED (Join).
		{name: "permissive SUB_WORKFLOW cancelled in a fork", def: forkParent(subA(`"retryCount":1,"permissive":true`)),
			status: engine.TaskCanceled, calls: 1, want: engine.StatusTerminated, block: true, terminate: true,
			wantTasks: []string{"FORK:COMPLETED", "SUB_WORKFLOW:CANCELED", "hold:COMPLETED", "JOIN:CANCELED"}, wantCalls: 1, sameA: true},
		{name: "SIMPLE with a retry left", def: seqParent(simpleA(`"retryCount":1,` + delay)),
			status: engine.TaskFailed, calls: 1, want: engine.StatusFailed,
			wantTasks: []string{"w_a:FAILED", "w_a:FAILED"}, wantCalls: 2},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newResumeRig(t)
			g.block.Store(tc.block)
			id := fmt.Sprintf("resume-outcome-%d", i)
			cancel, done := g.start(t, tc.def, id)
			defer cancel()
			ref := "a"
			if tc.ref != "" {
				ref = tc.ref
			}
			var a taskView
			if tc.terminate {
				waitFor(t, "a's child to run", func() bool {
					a = byRef(viewRun(t, g.e, id).Tasks)[ref]
					return a.SubWorkflowID != "" && g.calls.Load() == 1
				})
				if err := g.e.Terminate(context.Background(), a.SubWorkflowID, "stopped by the test"); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "a to end", func() bool {
				// The attempt that ended (a retry may be scheduled after it).
				for _, tk := range viewRun(t, g.e, id).Tasks {
					if tk.Ref == ref && tk.Status == tc.status {
						a = tk
					}
				}
				return a.Status == tc.status && g.calls.Load() == tc.calls
			})
			cancel() // the process goes away
			<-done
			done = g.resume(t, id)
			time.Sleep(200 * time.Millisecond) // time for a wrong new attempt to start
			close(g.hold)
			res := ended(t, done)
			wf := viewRun(t, g.e, id)
			if res == nil || res.Status != tc.want || g.calls.Load() != tc.wantCalls {
				t.Fatalf("parent: %+v; w_a called %d times, want %d; %+v", res, g.calls.Load(), tc.wantCalls, wf.Tasks)
			}
			if tc.sameA {
				checkTasks(t, wf.Tasks, tc.wantTasks...)
			} else {
				// A new attempt's place in the list depends on when the
				// first process went away (before or after the JOIN's).
				checkTaskSet(t, wf.Tasks, tc.wantTasks...)
			}
			now := byRef(wf.Tasks)[ref]
			if tc.sameA && (now.TaskID != a.TaskID || now.SubWorkflowID != a.SubWorkflowID || now.Status != a.Status) {
				t.Fatalf("record a after the resume: %+v, was %+v", now, a)
			}
			if !tc.sameA && (now.RetriedTaskID != a.TaskID || now.RetryCount != a.RetryCount+1) {
				t.Fatalf("record a after the resume: %+v, want the retry of %+v", now, a)
			}
			if tc.reasonA && !strings.Contains(res.Reason, "Task "+a.TaskID+" failed with status: FAILED") {
				t.Fatalf("reason %q does not name a's failure (%s)", res.Reason, a.TaskID)
			}
		})
	}
}

// In a DO_WHILE iteration a permissive task's failure ends the loop when
// the loop judges the iteration (Conductor's DoWhile.execute): the loop
// FAILS with a's reason and the run with it, and hold, after a, never
// runs (the decision that fails the loop scheduled it: CANCELED). So no run is left running past a's failure to be interrupted
// there; TestKillAFailingRunAtEveryPersistencePoint ("loop_permissive")
// kills such a run at each of its writes, a's failure included, and
// resumes it to this end.
func TestAFailedPermissiveTaskOfALoopIterationEndsTheLoop(t *testing.T) {
	def := loopParent(simpleA(`"retryCount":0,"permissive":true`))
	g := newResumeRig(t)
	close(g.hold)
	_, done := g.start(t, def, "loop-straight")
	res := ended(t, done)
	if res == nil || res.Status != engine.StatusFailed || g.calls.Load() != 1 {
		t.Fatalf("run: %+v, w_a called %d times", res, g.calls.Load())
	}
	wf := viewRun(t, g.e, "loop-straight")
	checkTasks(t, wf.Tasks, "DO_WHILE:FAILED", "w_a:FAILED", "hold:CANCELED")
	a := byRef(wf.Tasks)["a__1"]
	if loop := wf.Tasks[0]; loop.Reason != a.Reason+" " || !strings.Contains(res.Reason, "Task "+loop.TaskID+" failed with status: FAILED") {
		t.Fatalf("loop reason %q, run reason %q; a's reason %q", loop.Reason, res.Reason, a.Reason)
	}
}

// checkTaskSet is checkTasks in any order.
func checkTaskSet(t *testing.T, got []taskView, want ...string) {
	t.Helper()
	var g []string
	for _, tk := range got {
		g = append(g, tk.TaskType+":"+tk.Status)
	}
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, " ") != strings.Join(w, " ") {
		t.Fatalf("tasks %v, want %v in any order", g, want)
	}
}

// A retry of the run asks for a new attempt of every task that ended
// unsuccessfully, whatever its retry count (Conductor's
// WorkflowExecutorOps.retry schedules them at once): when the process that
// retried it goes away before the replay reached them, the resumed run
// still runs them, with a new child for a SUB_WORKFLOW, while a plain
// resume (TestResumeKeepsAnEndedAttemptsOutcome) keeps them.
func TestResumeAfterARetryRunsTheRetriedAttempts(t *testing.T) {
	for i, a := range []string{subA(`"retryCount":0,"permissive":true`), simpleA(`"retryCount":0,"permissive":true`)} {
		for j, def := range []string{forkParent(a), seqParent(a)} {
			t.Run(fmt.Sprintf("%d-%d", i, j), func(t *testing.T) {
				g := newResumeRig(t)
				close(g.hold)
				id := fmt.Sprintf("resume-retried-%d-%d", i, j)
				_, done := g.start(t, def, id)
				if res := ended(t, done); res == nil || res.Status != engine.StatusFailed || g.calls.Load() != 1 {
					t.Fatalf("first run: %+v, w_a called %d times", res, g.calls.Load())
				}
				failed := byRef(viewRun(t, g.e, id).Tasks)["a"]
				// Retried and stored RUNNING, not executed (as the process
				// that retried it leaves it when it goes away then); executed
				// as a resume executes it.
				if err := engine.RestartInPlace(g.e, id); err != nil {
					t.Fatal(err)
				}
				res, err := g.e.Resume(context.Background(), id)
				if err != nil || res.Status != engine.StatusFailed || g.calls.Load() != 2 {
					t.Fatalf("resumed retry: %+v %v, w_a called %d times", res, err, g.calls.Load())
				}
				now := byRef(viewRun(t, g.e, id).Tasks)["a"]
				if now.RetriedTaskID != failed.TaskID || now.RetryCount != 1 || now.Status != engine.TaskFailed ||
					(failed.SubWorkflowID != "" && now.SubWorkflowID == failed.SubWorkflowID) {
					t.Fatalf("record a after the resumed retry: %+v, was %+v", now, failed)
				}
			})
		}
	}
}

// A parent re-opened by its child's retry keeps a permissive SUB_WORKFLOW
// sibling that failed and that updateAndPushParents does not retry (its
// child, ended FAILED by a TERMINATE task, has no unsuccessful task):
// Conductor's decider marked that task executed, so the re-opened parent
// neither retries it nor starts a new child for it; its JOIN fails again.
func TestReopenedParentKeepsAFailedPermissiveSubWorkflowItDoesNotRetry(t *testing.T) {
	var bCalls atomic.Int32
	const id = "reopen-keeps-permissive"
	var e *engine.Engine
	aFailed := func() bool {
		b, err := e.Show(context.Background(), id)
		var v runView
		if err != nil || json.Unmarshal(b, &v) != nil {
			return false
		}
		return byRef(v.Tasks)["a"].Status == engine.TaskFailed
	}
	e = harnessEngine(t, nil, engine.WithWorker("w_b", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
		if bCalls.Add(1) > 1 {
			return json.RawMessage(`{}`), nil
		}
		// b fails once a has: the run's failure then cancels nothing of a.
		for !aFailed() {
			select {
			case <-c.Done():
				return nil, c.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
		return nil, errors.New("w_b failed")
	}))
	d, err := e.Parse([]byte(`{"name":"reopen_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"a","taskReferenceName":"a","type":"SUB_WORKFLOW","retryCount":0,"permissive":true,"subWorkflowParam":{"name":"ca","workflowDefinition":
	    {"name":"ca","version":1,"schemaVersion":2,"tasks":[{"name":"t","taskReferenceName":"t","type":"TERMINATE",
	     "inputParameters":{"terminationStatus":"FAILED","terminationReason":"stop here"}}]}}}],
	  [{"name":"b","taskReferenceName":"b","type":"SUB_WORKFLOW","retryCount":0,"subWorkflowParam":{"name":"cb","workflowDefinition":
	    {"name":"cb","version":1,"schemaVersion":2,"tasks":[{"name":"w_b","taskReferenceName":"w","retryCount":0}]}}}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(id))
	if err != nil || res.Status != engine.StatusFailed {
		t.Fatalf("parent: %+v %v", res, err)
	}
	first := byRef(viewRun(t, e, res.RunID).Tasks)
	a, b := first["a"], first["b"]
	if a.Status != engine.TaskFailed || b.Status != engine.TaskFailed {
		t.Fatalf("a %s, b %s", a.Status, b.Status)
	}
	// b's child retried: the parent is re-opened, b runs again and succeeds.
	if r, err := e.Retry(context.Background(), b.SubWorkflowID, false); err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("retry of b's child: %+v %v", r, err)
	}
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed || bCalls.Load() != 2 {
		t.Fatalf("re-opened parent: %s; w_b called %d times; %+v", wf.Status, bCalls.Load(), wf.Tasks)
	}
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "SUB_WORKFLOW:FAILED", "SUB_WORKFLOW:COMPLETED", "JOIN:FAILED")
	if now := byRef(wf.Tasks)["a"]; now.TaskID != a.TaskID || now.SubWorkflowID != a.SubWorkflowID {
		t.Fatalf("record a after the re-open: %+v, was %+v", now, a)
	}
}
