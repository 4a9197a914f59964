package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wfrun/wfrun/tasks"
)

// forkRest is what remains of a FORK_JOIN once its JOIN may run.
type forkRest struct {
	cancel func()       // cancels the branches
	wait   func() error // waits for them; the fork's outcome
}

// scheduledHook is the context key of a function begin calls when it
// schedules a new record: a fork waits until each branch has scheduled a
// task that waits before it starts the next branch and records its JOIN,
// so the task list reads fork, branch tasks, join, as Conductor's does.
type scheduledHook struct{}

// notifyScheduled tells the enclosing fork that its branch has scheduled a
// task of type typ. An operator whose mapper schedules its first inner task
// with it (SWITCH, DECISION, a fork) does not count: Conductor's decider
// records that inner task in the same pass, before the next branch's.
// DO_WHILE's mapper schedules the loop task alone; the decider then
// executes it, which schedules its first iteration in the next pass. A nested fork tells once its own branches and JOIN are
// recorded. typ "" always counts.
func notifyScheduled(ctx context.Context, typ string) {
	if mappedWithFirstTask[typ] {
		return
	}
	if f, ok := ctx.Value(scheduledHook{}).(func(string)); ok {
		f(typ)
	}
}

// executedByDecider are the task types Conductor's decider executes itself
// as soon as it has scheduled them (synchronous system tasks): a branch at
// one of them goes on to schedule its next task in the next pass, where
// any other task waits for a worker, a timer or a child run.
var executedByDecider = map[string]bool{
	"INLINE": true, TypeLambda: true, "JSON_JQ_TRANSFORM": true, TypeSetVariable: true, TypeTerminate: true,
	TypeDoWhile: true,
}

// mappedWithFirstTask are the operators Conductor's task mappers schedule
// together with their first inner task.
var mappedWithFirstTask = map[string]bool{
	TypeSwitch: true, TypeDecision: true, TypeForkJoin: true, TypeForkJoinDynamic: true,
}

// execFork starts the branches and returns once the JOIN that follows (join,
// may be nil) may run: when every task in its joinOn has succeeded (Conductor
// JOIN semantics; branches not joined on keep running) or, failing that,
// when every branch has ended. A branch that fails cancels the others and
// calls stop with its error, which ends the tasks after the JOIN. The returned forkRest
// waits for the branches still running. The JOIN's record exists (IN_PROGRESS,
// inputData.joinOn) from the moment the branches are scheduled, so a run
// that ends early still shows it, CANCELED.
func (r *runState) execFork(ctx context.Context, wt *WorkflowTask, join *WorkflowTask, suffix string, iter int, stop func(cause error)) (*forkRest, error) {
	ref := wt.TaskReferenceName + suffix
	rec, input, done, err := r.beginControl(ctx, wt, ref, iter)
	if err != nil {
		return nil, err
	}
	branches := wt.ForkTasks
	var joinOn []string
	if join != nil {
		joinOn = join.JoinOn
	}
	if wt.Type == TypeForkJoinDynamic {
		dyn, err := r.dynamicFork(wt, rec, input, done)
		if err != nil {
			return nil, r.failTask(ctx, rec, TaskFailedTerminal, err.Error())
		}
		branches, joinOn = make([][]*WorkflowTask, len(dyn)), make([]string, len(dyn))
		for i, t := range dyn {
			branches[i], joinOn[i] = []*WorkflowTask{t}, t.TaskReferenceName
		}
	}
	if join != nil {
		r.mu.Lock()
		if r.joinOn == nil {
			r.joinOn = map[string][]string{}
		}
		r.joinOn[join.TaskReferenceName+suffix] = joinOn
		r.mu.Unlock()
	}
	if !done {
		if err := r.complete(ctx, rec, []byte("{}")); err != nil {
			return nil, err
		}
	}
	bctx, cancelCause := context.WithCancelCause(ctx)
	cancel := func() { cancelCause(nil) }
	var wg sync.WaitGroup
	var failed atomic.Bool
	progress := make(chan struct{}, 1) // a branch task ended
	notify := func() {
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	errs := make([]error, len(branches))
	// The records read as Conductor's decider writes them, pass by pass.
	// Pass 1: the branches start one after the other, each once the
	// previous one has scheduled its first task (an operator's first inner
	// task for SWITCH, DO_WHILE, a nested fork), and the JOIN is recorded;
	// then (release) pass 2: in branch order, each branch runs until it has
	// scheduled its next task, then hands the turn to the next branch. From
	// there the branches run concurrently.
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseBranches := func() { releaseOnce.Do(func() { close(release) }) }
	defer releaseBranches()
	turns := make([]chan struct{}, len(branches)+1)
	for i := range turns {
		turns[i] = make(chan struct{})
	}
	close(turns[0])
	for i, branch := range branches {
		wg.Add(1)
		scheduled := make(chan struct{})
		var firstOnce, passOnce sync.Once
		calls := 0
		var callsMu sync.Mutex
		pass := func() { passOnce.Do(func() { close(turns[i+1]) }) }
		hook := func(typ string) {
			callsMu.Lock()
			calls++
			n := calls
			callsMu.Unlock()
			if n > 1 {
				pass() // this branch's pass-2 task is recorded
				return
			}
			firstOnce.Do(func() { close(scheduled) })
			for _, ch := range []chan struct{}{release, turns[i]} {
				select {
				case <-ch:
				case <-bctx.Done():
					return
				}
			}
			if !executedByDecider[typ] {
				pass() // its first task waits: nothing more in pass 2
			}
		}
		go func() {
			defer wg.Done()
			defer notify()
			defer pass()
			defer firstOnce.Do(func() { close(scheduled) })
			if err := r.execListNotify(context.WithValue(bctx, scheduledHook{}, hook), branch, suffix, iter, notify); err != nil {
				errs[i] = err
				failed.Store(true)
				cancelCause(err) // one branch failing ends the others
				stop(err)        // and the tasks after the JOIN
			}
		}()
		<-scheduled
	}
	ended := make(chan struct{})
	go func() {
		wg.Wait()
		close(ended)
	}()
	if join != nil {
		if err := r.recordJoin(ctx, join, suffix, iter, joinOn); err != nil {
			cancel()
			<-ended
			return nil, err
		}
	}
	// A fork enclosing this one goes on to its next branch; this one's
	// branches run once it lets them, and its turn passes on.
	notifyScheduled(ctx, "")
	releaseBranches()
	notifyScheduled(ctx, "")
	rest := &forkRest{cancel: cancel, wait: func() error {
		<-ended
		cancel()
		return forkOutcome(ctx, errs)
	}}
	for !failed.Load() && !r.joined(joinOn, join != nil, suffix) {
		select {
		case <-progress:
			continue
		case <-ended:
		}
		break
	}
	select {
	case <-ended:
		return nil, rest.wait()
	default:
	}
	if failed.Load() {
		return nil, rest.wait()
	}
	return rest, nil
}

// recordJoin schedules the JOIN's record (IN_PROGRESS, waiting on joinOn)
// unless a previous process did.
func (r *runState) recordJoin(ctx context.Context, join *WorkflowTask, suffix string, iter int, joinOn []string) error {
	ref := join.TaskReferenceName + suffix
	if r.lookup(ref) != nil {
		return nil
	}
	rec := &taskRecord{Ref: ref, TaskType: TypeJoin, TaskDefName: TypeJoin, Status: TaskInProgress,
		Iteration: iter, Scheduled: r.nowMillis(), Start: r.nowMillis(), wt: join}
	r.mu.Lock()
	r.addTaskLocked(rec)
	r.mu.Unlock()
	in, _ := json.Marshal(map[string]any{"joinOn": orEmptyList(joinOn)})
	if err := r.setTaskData(rec, in, nil); err != nil {
		return err
	}
	return r.transition(ctx, rec, TaskInProgress, "")
}

func orEmptyList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// joinList is what the JOIN at ref waits on: the refs its fork computed
// (a FORK_JOIN_DYNAMIC's generated tasks), else its joinOn.
func (r *runState) joinList(wt *WorkflowTask, ref string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.joinOn[ref]; ok {
		return l
	}
	return wt.JoinOn
}

// withJoinOn sets a JOIN's inputData.joinOn, as Conductor's mappers record it.
func withJoinOn(raw []byte, joinOn []string) []byte {
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(orEmpty(raw), &m)
	m["joinOn"], _ = json.Marshal(orEmptyList(joinOn))
	b, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return b
}

// joined reports whether every task the JOIN waits on has succeeded.
func (r *runState) joined(joinOn []string, hasJoin bool, suffix string) bool {
	if !hasJoin {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range joinOn {
		if t := r.byRef[ref+suffix]; t == nil || !successfulTask(t.Status) {
			return false
		}
	}
	return true
}

// join completes a JOIN: its output maps each joined ref to that task's
// output. Inside a loop the key carries the iteration's __N suffix, as
// Conductor's Join names the task of that iteration it waited for.
func (r *runState) join(wt *WorkflowTask, rec *taskRecord) tasks.Result {
	suffix := strings.TrimPrefix(rec.Ref, wt.TaskReferenceName)
	joinOn := r.joinList(wt, rec.Ref)
	out := map[string]json.RawMessage{}
	r.mu.Lock()
	for _, ref := range joinOn {
		t := r.byRef[ref+suffix]
		if t == nil {
			t = r.latest[ref]
		}
		// Join adds a task's output only when it has one.
		if t != nil && len(bytes.TrimSpace(t.outMem)) > 0 && !emptyObject(t.outMem) {
			out[ref+suffix] = t.outMem
		}
	}
	r.mu.Unlock()
	b, _ := json.Marshal(out)
	if reason := r.joinFailure(joinOn, suffix); reason != "" {
		return tasks.Result{Status: tasks.Failed, Reason: reason, Output: b}
	}
	return tasks.Result{Status: tasks.Completed, Output: b}
}

// forkOutcome prefers the error that caused a fork to stop over the
// cancellations it caused.
func forkOutcome(ctx context.Context, errs []error) error {
	var first error
	for _, e := range errs {
		if e == nil {
			continue
		}
		var st *stopError
		if errors.As(e, &st) {
			return e
		}
		if first == nil {
			first = e
		}
	}
	if first != nil && ctx.Err() == nil && errors.Is(first, context.Canceled) {
		return nil
	}
	return first
}

// emptyObject: b is the JSON object {} (whitespace aside).
func emptyObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	return len(bytes.TrimSpace(b[1:len(b)-1])) == 0
}
