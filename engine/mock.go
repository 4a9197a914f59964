package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/wfrun/wfrun/tasks"
)

// A test run (Conductor's workflow test API, POST /api/workflow/test) is a
// real run whose tasks that wait for something outside the engine take
// their outcome from a list of mocks instead, as Conductor's
// WorkflowTestService completes them:
//
//   - which tasks: every task except Conductor's operators (FORK, JOIN,
//     DO_WHILE, SWITCH, DECISION, DYNAMIC, SUB_WORKFLOW, SET_VARIABLE,
//     INLINE, TERMINATE) and the system tasks Conductor completes as it
//     schedules them (JSON_JQ_TRANSFORM, LAMBDA, NOOP, EXCLUSIVE_JOIN):
//     those always run for real. So SIMPLE tasks, HTTP, WAIT, HUMAN, EVENT,
//     START_WORKFLOW, EXEC, UPDATE_SECRET… take mocks. Conductor's decider
//     also publishes an EVENT as it schedules it, so an EVENT without a
//     mock is published at once: it does not stop the test, or,
//     asyncComplete, stops it published and IN_PROGRESS (the test loop
//     finds it unfinished without a mock). One with a mock takes it and is
//     not published, where Conductor publishes anyway (a test run never
//     calls out for a task its request mocked);
//   - by the task's exact reference name (a DO_WHILE iteration's is
//     "ref__N"), one mock a step, in order: a retry or the next
//     iteration takes the next one;
//   - a mock's status is COMPLETED (the default), FAILED (the task fails
//     and is retried as its definition says, as a worker's FAILED is),
//     FAILED_WITH_TERMINAL_ERROR, or IN_PROGRESS (its output is recorded
//     and the task takes the next mock); executionTime and queueWaitTime
//     (ms) set the attempt's startTime and scheduledTime that far back,
//     and an IN_PROGRESS mock whose executionTime passes the definition's
//     timeoutSeconds times the task out by its timeoutPolicy, as
//     Conductor's decider does with the task it dated back;
//   - the output enters the run exactly as a worker's answer does: the
//     tasks.Result of the attempt, masked, its `_secrets` sealed and its
//     values registered by the run's secret boundary;
//   - a SUB_WORKFLOW's child is a test run too, with the mocks of
//     subWorkflowTestRequest[ref] (none: every task of it waits);
//   - retry delays and startDelay are not waited for (Conductor's test
//     loop completes the next attempt at once).
//
// The test goes in passes, as Conductor's test loop does (mockgate.go):
// in each, every task waiting for a mock gets its next one at once, unless
// one of them has no entry in the mocks, which stops the test (a child
// run's stops the child's mocks only; the test stops once nothing moves
// by a mock any more). The test's
// answer (Test.Answer) is the run as it stands in the pass where it
// stopped, before any task moves on; after it, no mock is given any more,
// and the run goes on as Conductor's does once its test loop has
// answered: a SIMPLE task waits, never offered to a worker (Conductor
// queues a test run's worker tasks in a domain of its own, which wfrun
// serve does too) — POST /api/tasks/{workflowId}/{ref}/{status} still
// completes it —; a task of any other type that the request mocked waits
// the same way (its mocks say it must not call out: wfrun does not run it
// for real, where Conductor's system task worker may); any other task runs
// for real, as Conductor's system task worker runs it. Conductor's loop
// stops after 20 000 reads of the run; so does wfrun's, counted as
// mockgate.go says (the run then waits at its next task that needs a
// mock).

// ErrBadMock: a workflow test request whose mocks the engine does not take.
var ErrBadMock = errors.New("bad task mock")

// TaskMock is one mocked outcome of a task (Conductor's
// WorkflowTestRequest.TaskMock).
type TaskMock struct {
	// Status is COMPLETED (when empty), FAILED, FAILED_WITH_TERMINAL_ERROR
	// or IN_PROGRESS.
	Status string `json:"status,omitempty"`
	// Output is the task's output, a JSON object (null or absent: {}).
	Output json.RawMessage `json:"output,omitempty"`
	// ExecutionTime and QueueWaitTime, in milliseconds, date the
	// attempt's start and scheduling back.
	ExecutionTime int64 `json:"executionTime,omitempty"`
	QueueWaitTime int64 `json:"queueWaitTime,omitempty"`
}

// Mocks are the mocks of a test run: the members of Conductor's
// WorkflowTestRequest that say how its tasks end (its other members are
// those of a start request).
type Mocks struct {
	// Tasks are the mocks of each task, by exact reference name, used in order.
	Tasks map[string][]TaskMock `json:"taskRefToMockOutput,omitempty"`
	// SubWorkflows are the mocks of the child run of each SUB_WORKFLOW
	// task, by reference name.
	SubWorkflows map[string]*Mocks `json:"subWorkflowTestRequest,omitempty"`
}

// Validate checks every mock (status, output, times), naming the first bad
// one by its JSON location: ErrBadMock.
func (m *Mocks) Validate() error {
	return m.validate("")
}

func (m *Mocks) validate(at string) error {
	if m == nil {
		return nil
	}
	for _, ref := range sortedMockRefs(m.Tasks) {
		for i, tm := range m.Tasks[ref] {
			where := fmt.Sprintf("%staskRefToMockOutput[%q][%d]", at, ref, i)
			switch tm.Status {
			case "", TaskCompleted, TaskFailed, TaskFailedTerminal, TaskInProgress:
			default:
				return fmt.Errorf("%w: %s.status %q: want COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR or IN_PROGRESS", ErrBadMock, where, tm.Status)
			}
			if out := bytes.TrimSpace(tm.Output); len(out) > 0 && string(out) != "null" && (out[0] != '{' || !json.Valid(out)) {
				return fmt.Errorf("%w: %s.output must be a JSON object", ErrBadMock, where)
			}
			if tm.ExecutionTime < 0 || tm.QueueWaitTime < 0 {
				return fmt.Errorf("%w: %s: executionTime and queueWaitTime must not be negative", ErrBadMock, where)
			}
		}
	}
	subs := make([]string, 0, len(m.SubWorkflows))
	for ref := range m.SubWorkflows {
		subs = append(subs, ref)
	}
	sort.Strings(subs)
	for _, ref := range subs {
		if err := m.SubWorkflows[ref].validate(fmt.Sprintf("%ssubWorkflowTestRequest[%q].", at, ref)); err != nil {
			return err
		}
	}
	return nil
}

func sortedMockRefs(m map[string][]TaskMock) []string {
	refs := make([]string, 0, len(m))
	for ref := range m {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	return refs
}

// Test is the state of one workflow test: the mocks left, for the run and
// the child runs of its sub-workflows, and whether the test stopped.
type Test struct {
	stopOnce sync.Once
	stopped  chan struct{}
	answer   []byte // set before stopped is closed
	parkOnce sync.Once
	parked   chan struct{}
	parkMu   sync.Mutex
	parkedAt string // the first task that waits for good
	root     *testRun
	gate     *testGate
}

// NewTest prepares a test run of mocks (validated: ErrBadMock); start it
// with Start and the RunOption AsTest. The mocks are copied.
func NewTest(m *Mocks) (*Test, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	t := newTestState()
	t.root = newTestRun(t, m)
	return t, nil
}

func newTestState() *Test {
	t := &Test{stopped: make(chan struct{}), parked: make(chan struct{})}
	t.gate = newTestGate(t.stopWith)
	return t
}

// Stopped is closed when the test has gone as far as its mocks take it: a
// task has no mock left (the run goes on without mocks from there), the
// pass limit is reached, or the run ended, or Start returned for any other
// reason.
func (t *Test) Stopped() <-chan struct{} { return t.stopped }

// Answer is the run's masked view (as Engine.Show gives it) in the pass
// where the test stopped, once Stopped is closed: the test's answer,
// whatever the run did since. Nil when the test did not stop in a pass
// (the run ended, or was interrupted): its view now is the answer.
func (t *Test) Answer() []byte {
	select {
	case <-t.stopped:
		return t.answer
	default:
		return nil
	}
}

func (t *Test) stop() { t.stopWith(nil) }

// stopWith stops the test with its answer (nil: none taken).
func (t *Test) stopWith(answer []byte) {
	t.stopOnce.Do(func() {
		t.answer = answer
		close(t.stopped)
	})
	t.parkMu.Lock()
	parked := t.parkedAt != ""
	t.parkMu.Unlock()
	if parked {
		t.closeParked()
	}
	t.gate.stop()
}

// Waiting is closed when a SIMPLE task of the test (of its run or a
// child's) has no mock left and waits there for good: the run will not
// end on its own. Stopped is closed by then too.
func (t *Test) Waiting() <-chan struct{} { return t.parked }

// WaitingAt is the reference name of the first task that waits for good
// (with the child run's id when it is a sub-workflow's: "RUN_ID/ref"),
// once Waiting is closed; "" before.
func (t *Test) WaitingAt() string {
	select {
	case <-t.parked:
		t.parkMu.Lock()
		defer t.parkMu.Unlock()
		return t.parkedAt
	default:
		return ""
	}
}

// park records that a task of the test waits for good (where); Waiting
// closes once the test has stopped too (a child run's task may wait while
// its parent's test goes on).
func (t *Test) park(where string) {
	t.parkMu.Lock()
	if t.parkedAt == "" {
		t.parkedAt = where
	}
	t.parkMu.Unlock()
	select {
	case <-t.stopped:
		t.closeParked()
	default:
	}
}

func (t *Test) closeParked() { t.parkOnce.Do(func() { close(t.parked) }) }

// AsTest makes the run a test run of t (see Test).
func AsTest(t *Test) RunOption {
	return func(c *runConfig) {
		if t != nil {
			c.test = t.root
		}
	}
}

// testRun holds the mocks of one run of a test (the root, or the child of
// a SUB_WORKFLOW: every child of the same reference shares them, so a
// retried child takes the mocks the first one left, as in Conductor).
type testRun struct {
	t      *Test
	mocks  *Mocks // as the test request gave them (stored with the run)
	mu     sync.Mutex
	left   map[string][]TaskMock
	used   map[string]int // mocks of each ref taken (stored in the run's head)
	subs   map[string]*Mocks
	kids   map[string]*testRun
	absent bool // a test run stored without its mocks (mockstore.go)
	// halted: a child run whose own test stopped (a task without a mock)
	// while its parent's goes on; guarded by the gate's mu (mockgate.go).
	halted bool
	// over: the run's stored mocks say its test stopped (mockstore.go).
	over bool
	// reopened: SUB_WORKFLOW references whose child runs again and is
	// loaded next with the test state it was stored with (mockstore.go).
	reopened map[string]bool
	// besides: the goroutines executing re-opened children beside the
	// run's other tasks, by reference (mockgate.go).
	besides map[string]*besideWait
}

func newTestRun(t *Test, m *Mocks) *testRun {
	tr := &testRun{t: t, mocks: m, left: map[string][]TaskMock{}, used: map[string]int{}, subs: map[string]*Mocks{}, kids: map[string]*testRun{}}
	if m == nil {
		return tr
	}
	for ref, list := range m.Tasks {
		tr.left[ref] = append([]TaskMock(nil), list...)
	}
	for ref, sub := range m.SubWorkflows {
		tr.subs[ref] = sub
	}
	return tr
}

// child is the test state of the child run of the SUB_WORKFLOW ref.
func (tr *testRun) child(ref string) *testRun {
	if tr == nil {
		return nil
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	k := tr.kids[ref]
	if k == nil {
		k = newTestRun(tr.t, tr.subs[ref])
		k.absent = tr.absent
		tr.kids[ref] = k
	}
	return k
}

// next takes the next mock of ref; used is how many of ref's mocks are
// taken with it.
func (tr *testRun) next(ref string) (m TaskMock, used int, ok bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	list := tr.left[ref]
	if len(list) == 0 {
		return TaskMock{}, tr.used[ref], false
	}
	tr.left[ref] = list[1:]
	tr.used[ref]++
	return list[0], tr.used[ref], true
}

// entry reports whether ref has an entry in the run's mocks (Conductor's
// taskRefToMockOutput key), used up or not.
func (tr *testRun) entry(ref string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	_, ok := tr.left[ref]
	return ok
}

// drop removes ref's used-up entry, as Conductor's loop does when it
// meets a task whose mocks are used up.
func (tr *testRun) drop(ref string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	delete(tr.left, ref)
}

// mockedRef reports whether the test request gave ref mocks.
func (tr *testRun) mockedRef(ref string) bool {
	return tr.mocks != nil && len(tr.mocks.Tasks[ref]) > 0
}

// has reports whether ref has a mock left.
func (tr *testRun) has(ref string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.left[ref]) > 0
}

// mockable reports whether tasks of type typ take mocks in a test run.
func mockable(typ string) bool {
	switch typ {
	case TypeJoin, TypeDoWhile, TypeSetVariable, TypeFork, TypeForkJoin, tasks.TypeInline, TypeTerminate,
		TypeDecision, TypeDynamic, TypeForkJoinDynamic, TypeSwitch, TypeSubWorkflow,
		tasks.TypeJSONJQTransform, TypeLambda, tasks.TypeNoop, TypeExclusiveJoin:
		return false
	}
	return true
}

// testSlot is acquireSlot, except for a task of a test run that takes
// mocks: it takes no slot of its definition's concurrency limit while it
// waits for its mock (another task of the definition, held by the slot,
// could never reach the pass), only when it runs for real (testRealSlot).
func (r *runState) testSlot(ctx context.Context, wt *WorkflowTask, p taskPolicy) (func(), error) {
	if r.test != nil && mockable(wt.Type) || r.e.remoteLimits && r.e.remoteSimple(wt) {
		// A remote task's limits are its pollers' (WithRemoteLimits).
		return func() {}, nil
	}
	return r.acquireSlot(ctx, p)
}

// testRealSlot is the slot a task of a test run that runs for real takes
// (testSlot took none).
func (r *runState) testRealSlot(ctx context.Context, wt *WorkflowTask) (func(), error) {
	if r.test == nil || !mockable(wt.Type) || r.e.remoteLimits && r.e.remoteSimple(wt) {
		return func() {}, nil
	}
	return r.acquireSlot(ctx, r.policy(wt))
}

// testDelay is a retry or start delay d, none in a test run.
func (r *runState) testDelay(d time.Duration) time.Duration {
	if r.test != nil {
		return 0
	}
	return d
}

// mocked ends the attempt rec of a test run's task from its mocks. ok is
// false when the attempt is to run for real.
func (r *runState) mocked(ctx context.Context, wt *WorkflowTask, rec *taskRecord, input []byte) (res tasks.Result, ok bool) {
	if r.test == nil {
		return tasks.Result{}, false
	}
	if wt.Type == TypeJoin {
		// Conductor's JOIN is asynchronous: its system task worker
		// evaluates it between the test loop's reads, so a read finds it
		// unfinished before it ends (mockgate.go).
		r.test.t.gate.awaitRead(ctx, r.test, rec.Ref)
	}
	if !mockable(wt.Type) {
		return tasks.Result{}, false
	}
	if wt.Type == TypeSimple {
		r.scheduleDomain(wt, rec)
	}
	if wt.Type == TypeEvent && !r.test.entry(rec.Ref) && !r.test.absent {
		// Conductor's decider publishes an EVENT as it schedules it (a
		// synchronous system task), mocked or not. Without a mock here, it
		// is published for real: the test goes on, or, asyncComplete, the
		// pass finds it IN_PROGRESS without a mock (testEventWaits). With
		// one, it takes its mock and publishes nothing (no call out).
		return tasks.Result{}, false
	}
	progressed, resolved := false, false
	for {
		r.mu.Lock()
		awaiting := rec.Awaiting
		r.mu.Unlock()
		if awaiting {
			r.pollSignals(ctx)
		}
		if sig, ok := r.takePending(rec.Ref); ok {
			// Completed from outside meanwhile (a resumed run's task the
			// test had left waiting): it waits for no mock.
			return sig.result(), true
		}
		if !progressed {
			r.awaitMock(rec, wt.Type == TypeSimple || r.test.mockedRef(rec.Ref))
		}
		// The pass gives the task its next mock, or none (mockgate.go).
		m, used, found := r.test.t.gate.await(ctx, r.test, rec.Ref)
		if err := ctx.Err(); err != nil {
			return tasks.Result{Status: tasks.Failed, Reason: err.Error()}, true
		}
		if found {
			// Stored with the attempt's next write: a resumed run takes
			// the mock after this one (mockstore.go).
			r.mu.Lock()
			r.noteMockUsedLocked(rec.Ref, used)
			r.mu.Unlock()
		}
		if found && !resolved && r.e.remoteSimple(wt) {
			// What a worker's poll does before the worker answers: the
			// task's secret references and runtimeMetadata are read, as
			// the run's principal (a missing or forbidden one fails the
			// attempt), and their values registered, so a mock that
			// repeats one has it masked as a worker's answer would.
			resolved = true
			t := RemoteTask{TaskID: rec.TaskID, Ref: rec.Ref,
				hand: &handoff{r: r, wt: wt, input: input, later: rec.later, names: r.policy(wt).runtimeMetadata}}
			if _, _, err := t.Resolve(ctx); err != nil {
				return tasks.Result{Status: tasks.FailedTerminal, Reason: err.Error()}, true
			}
		}
		if !found {
			// The test has stopped: no mock is given any more, also by a
			// process that resumes the run (mockstore.go).
			if err := r.markTestOver(); err != nil {
				return tasks.Result{Status: tasks.Failed, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}, true
			}
			if wt.Type == TypeSimple || r.test.mockedRef(rec.Ref) {
				return r.parkTest(ctx, rec, progressed), true
			}
			if r.test.absent {
				// Its mocks are not known: never run it for real.
				return tasks.Result{Status: tasks.FailedTerminal, Reason: fmt.Sprintf(
					"%s task %q of a test run stored without its mocks is not run for real", wt.Type, rec.Ref)}, true
			}
			// No mock was asked for: it runs for real, as Conductor's
			// system task worker runs it once the test has answered.
			if err := r.transition(ctx, rec, TaskInProgress, ""); err != nil {
				return tasks.Result{Status: tasks.Failed, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}, true
			}
			return tasks.Result{}, false
		}
		now := r.nowMillis()
		r.mu.Lock()
		if m.ExecutionTime > 0 || m.QueueWaitTime > 0 {
			rec.Scheduled = now - m.ExecutionTime - m.QueueWaitTime
			rec.Start = now - m.ExecutionTime
		} else if rec.Start == 0 {
			rec.Start = now
		}
		r.touchLocked(rec)
		r.mu.Unlock()
		out := json.RawMessage(bytes.TrimSpace(m.Output))
		if len(out) == 0 || string(out) == "null" {
			out = json.RawMessage("{}")
		}
		switch m.Status {
		case "", TaskCompleted:
			return tasks.Result{Status: tasks.Completed, Output: out}, true
		case TaskFailed:
			return tasks.Result{Status: tasks.Failed, Output: out, Reason: "task mock reported FAILED"}, true
		case TaskFailedTerminal:
			return tasks.Result{Status: tasks.FailedTerminal, Output: out, Reason: "task mock reported FAILED_WITH_TERMINAL_ERROR"}, true
		}
		// IN_PROGRESS: recorded as a worker's IN_PROGRESS update is; the
		// task takes the next mock.
		if err := r.setTaskData(rec, nil, out); err != nil {
			return tasks.Result{Status: tasks.FailedTerminal, Reason: "task mock output: " + err.Error()}, true
		}
		if res, over := r.mockTimedOut(ctx, wt, rec, m); over {
			return res, true
		}
		if err := r.transition(ctx, rec, TaskInProgress, ""); err != nil {
			return tasks.Result{Status: tasks.Failed, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}, true
		}
		progressed = true
	}
}

// testEventWaits is an asyncComplete EVENT of a test run that published
// (no mock was asked for it) about to wait for its completion from
// outside: as Conductor's test loop finds it unfinished without a mock,
// the pass stops the test (a child run's: that run's mocks), its answer
// showing the task IN_PROGRESS and published. It takes a completion from
// the moment the answer can show it; while it waits, the passes of the
// rest of the test do not wait for it. done ends the wait. Not a test
// run: nothing.
func (r *runState) testEventWaits(ctx context.Context, rec *taskRecord) (done func(), err error) {
	if r.test == nil {
		return func() {}, nil
	}
	r.mu.Lock()
	rec.Awaiting = true
	r.touchLocked(rec)
	r.mu.Unlock()
	if err := r.save(ctx); err != nil {
		return nil, err
	}
	g := r.test.t.gate
	if _, _, found := g.await(ctx, r.test, rec.Ref); !found && ctx.Err() == nil {
		// The test stopped: no mock is given any more (mockstore.go).
		if err := r.markTestOver(); err != nil {
			return nil, err
		}
	}
	g.idleEnter()
	return g.idleExit, nil
}

// awaitMock shows a task waiting for its mock as Conductor's test loop
// finds it: SCHEDULED (execLeaf started it), as a worker's task waits.
// One that waits for good if the test stops (parks) takes an external
// completion from the moment the test's answer can show it.
func (r *runState) awaitMock(rec *taskRecord, parks bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.Status == TaskInProgress {
		rec.Status, rec.Start = TaskScheduled, 0
	}
	rec.Awaiting = rec.Awaiting || parks
	r.touchLocked(rec)
}

// mockTimedOut applies the task definition's timeoutSeconds to a task a
// mock leaves IN_PROGRESS for executionTime ms, as Conductor's decider
// checks the task it dated back (checkTaskTimeout): past the timeout,
// ALERT_ONLY reports it and the task goes on; RETRY times the attempt out
// (retried as its definition says); TIME_OUT_WF times the workflow out.
func (r *runState) mockTimedOut(ctx context.Context, wt *WorkflowTask, rec *taskRecord, m TaskMock) (tasks.Result, bool) {
	p := r.policy(wt)
	if m.ExecutionTime <= 0 || !p.hasDef() || p.timeout <= 0 || m.ExecutionTime < p.timeout*1000 {
		return tasks.Result{}, false
	}
	reason := fmt.Sprintf("Task timed out after %d seconds. Timeout configured as %d seconds. Timeout policy configured to %s",
		m.ExecutionTime/1000, p.timeout, p.timeoutPolicy)
	switch p.timeoutPolicy {
	case TimeoutAlertOnly:
		r.emit(Event{Kind: EventTask, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskInProgress, Reason: reason})
		return tasks.Result{}, false
	case TimeoutWorkflow:
		if cancel, _ := ctx.Value(attemptCancelKey{}).(context.CancelCauseFunc); cancel != nil {
			// execLeaf ends the workflow TIMED_OUT (attemptTimedOut).
			cancel(&attemptTimeout{policy: TimeoutWorkflow, reason: reason})
			return tasks.Result{Status: tasks.Failed, Reason: reason}, true
		}
	}
	return tasks.Result{Status: TaskTimedOut, Reason: reason}, true
}

// scheduleDomain records the domain a worker task is scheduled in (the
// run's taskToDomain, as queueRemote does for a task handed out): a test
// run's tasks show the test's own domain, as in Conductor.
func (r *runState) scheduleDomain(wt *WorkflowTask, rec *taskRecord) {
	r.mu.Lock()
	have := rec.Domain != ""
	r.mu.Unlock()
	if have {
		return
	}
	domain := r.taskDomain(wt.Name)
	r.mu.Lock()
	rec.Domain = domain
	r.touchLocked(rec)
	r.mu.Unlock()
}

// parkTest keeps a SIMPLE task of a test run that has no mock left
// waiting, never offered to a worker, until an external completion
// (CompleteTask) or the run's end; the test stops.
func (r *runState) parkTest(ctx context.Context, rec *taskRecord, progressed bool) tasks.Result {
	r.mu.Lock()
	rec.Awaiting = true
	if rec.Status == TaskInProgress && !progressed {
		// Started by execLeaf, not by a mock's IN_PROGRESS: it waits
		// for a worker, as Conductor shows it.
		rec.Status, rec.Start = TaskScheduled, 0
	}
	r.touchLocked(rec)
	r.mu.Unlock()
	err := r.save(ctx)
	where := rec.Ref
	r.mu.Lock()
	if r.doc.ParentWorkflowID != "" {
		where = r.id + "/" + rec.Ref
	}
	r.mu.Unlock()
	r.test.t.park(where)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
	}
	g := r.test.t.gate
	g.idleEnter() // it waits for a completion from outside (mockgate.go)
	defer g.idleExit()
	poll := time.NewTicker(r.e.pollInterval)
	defer poll.Stop()
	for {
		r.mu.Lock()
		awaiting := rec.Awaiting
		r.mu.Unlock()
		if awaiting {
			r.pollSignals(ctx)
		}
		if sig, ok := r.takePending(rec.Ref); ok {
			return sig.result()
		}
		select {
		case <-ctx.Done():
			return tasks.Result{Status: tasks.Failed, Reason: ctx.Err().Error()}
		case <-poll.C:
		}
		r.pollSignals(ctx)
	}
}
