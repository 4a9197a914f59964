package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wfrun/wfrun/runsecrets"
)

// Retry, restart and rerun of an ended run. A run that is the child of a
// SUB_WORKFLOW task and runs again re-opens its parent (reopen.go), as
// Conductor's updateAndPushParents does.

func (e *Engine) restart(ctx context.Context, id string, fromStart bool, fromTaskID string) (*Result, error) {
	return e.restartWith(ctx, id, fromStart, fromTaskID, nil)
}

// endedRun is an ended run as stored.
type endedRun struct {
	id       string
	doc      []byte
	d        runDoc
	archived bool
}

// loadEnded loads a run that has ended (ErrStillRunning otherwise).
func (e *Engine) loadEnded(ctx context.Context, id string) (*endedRun, error) {
	doc, archived, err := e.runs.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	er := &endedRun{id: id, doc: doc, archived: archived}
	if err := json.Unmarshal(doc, &er.d); err != nil {
		return nil, fmt.Errorf("run %s: damaged document: %w", id, err)
	}
	if terminalWorkflow(er.d.Status) && e.isActive(id) {
		// Ended, and its execution here is still letting go (ending its
		// children, archiving): wait for it, then read what it left.
		if err := e.awaitLetGo(ctx, id); err != nil {
			return nil, err
		}
		return e.loadEnded(ctx, id)
	}
	return e.ended(ctx, er)
}

// ended is loadEnded for a run already loaded (er.d decoded from er.doc).
func (e *Engine) ended(ctx context.Context, er *endedRun) (*endedRun, error) {
	id := er.id
	if !terminalWorkflow(er.d.Status) {
		return nil, fmt.Errorf("%w: run %s is %s (use resume)", ErrStillRunning, id, er.d.Status)
	}
	if er.archived {
		// The head first: the definition is looked for by what it says.
		if err := e.verifyHeadSeal(id, &er.d); err != nil {
			return nil, err
		}
		if err := e.intactDefinition(ctx, id, &er.d, 0); err != nil {
			return nil, err
		}
	}
	// Checked before a restart changes anything (useLatestDefinition
	// replaces the definition and its hash; the next write seals them).
	if err := e.checkHead(id, &er.d); err != nil {
		return nil, err
	}
	if err := e.checkRecords(id, er.doc, &er.d); err != nil { // recordseal.go
		return nil, err
	}
	return er, nil
}

// intactDefinition gives an archived run its definition back when
// archiving replaced the definition's `_secrets` members (templates such
// as UPDATE_SECRET's) by "***", or masked a value it held written out: a copy whose hash is the one the run
// recorded, from the file it was run from, the definitions directory, or
// its parent's inline sub-workflow definitions. Without one the run
// cannot run again: it fails with ErrArchivedSecrets rather than running
// "***" where the templates were.
func (e *Engine) intactDefinition(ctx context.Context, id string, d *runDoc, depth int) error {
	if d.DefinitionHash == "" || defHash(d.WorkflowDefinition) == d.DefinitionHash {
		return nil
	}
	var cands [][]byte
	if d.DefinitionPath != "" {
		if b, err := os.ReadFile(d.DefinitionPath); err == nil {
			cands = append(cands, b)
		}
	}
	if e.defsDir != "" {
		// Only a file holding the run's name can hold its definition: the
		// directory's index names them without reading the others again.
		cands = append(cands, e.defsIndexOf(e.defsDir).readNamed(e.defsDir, d.WorkflowType)...)
	}
	if d.ParentWorkflowID != "" && depth < maxSubWorkflowDepth {
		if doc, _, err := e.runs.Load(ctx, d.ParentWorkflowID); err == nil {
			var pd runDoc
			if json.Unmarshal(doc, &pd) == nil && e.intactDefinition(ctx, d.ParentWorkflowID, &pd, depth+1) == nil {
				if def, err := e.Parse(pd.WorkflowDefinition); err == nil {
					walkTasks(def.Tasks, func(t *WorkflowTask) {
						if t.subDef != nil {
							cands = append(cands, t.subDef.raw)
						}
					})
				}
			}
		}
	}
	for _, c := range cands {
		// A parsed definition is kept compact (ParseDefinition).
		var compact bytes.Buffer
		if json.Compact(&compact, c) == nil {
			c = compact.Bytes()
		}
		if defHash(c) == d.DefinitionHash {
			d.WorkflowDefinition = c
			return nil
		}
	}
	return fmt.Errorf("%w: cannot restart run %s: archiving masked its definition (its _secrets members, or a secret's value written into it) and no copy of the definition (its file, the definitions directory, its parent's) matches the one it ran",
		ErrArchivedSecrets, id)
}

func (e *Engine) restartWith(ctx context.Context, id string, fromStart bool, fromTaskID string, o *RerunOptions) (*Result, error) {
	er, err := e.loadEnded(ctx, id)
	if err != nil {
		return nil, err
	}
	if o != nil && o.latestDefinition {
		if err := e.useLatestDefinition(er); err != nil {
			return nil, err
		}
	}
	if fromTaskID != "" && !er.hasTask(fromTaskID) {
		// Conductor's rerunWF looks for the task in the run's children:
		// the child holding it reruns from it and re-opens this run.
		child, err := e.childHoldingTask(ctx, &er.d, fromTaskID, 0)
		if err != nil {
			return nil, err
		}
		if child != "" {
			co := &RerunOptions{FromTaskID: fromTaskID}
			if o != nil {
				// The workflowInput and correlationId are this run's, which
				// the child re-opens.
				co.TaskInput = o.TaskInput
				co.ancestor = &ancestorEdit{id: id, input: o.WorkflowInput, correlationID: o.CorrelationID}
			}
			if _, err := e.restartWith(ctx, child, false, fromTaskID, co); err != nil {
				return nil, err
			}
			return e.resultOf(ctx, id)
		}
	}
	if err := e.awaitParentTook(ctx, &er.d); err != nil {
		return nil, err
	}
	parents, err := e.parentsToReopen(ctx, &er.d)
	if err != nil {
		return nil, err
	}
	executing := false
	defer func() {
		if !executing {
			e.releaseReopened(ctx, parents) // a running parent taken: let go
		}
	}()
	// A child re-opened by its parent gets its input from the parent again
	// (restoreParentInput), as a rerun's workflowInput replaces it.
	inputGiven := len(parents) > 0 || (o != nil && hasJSON(o.WorkflowInput))
	if err := e.checkArchived(er, fromStart, inputGiven, o != nil && o.latestDefinition); err != nil {
		return nil, err
	}
	r, err := e.prepareRestart(ctx, er, fromStart, fromTaskID, o)
	if err != nil {
		return nil, err
	}
	if o != nil && o.latestDefinition {
		// A definition other than the one the run started with: refused,
		// as a start refuses it, when it holds in clear the value of a
		// secret it names, before anything is stored (defvalues.go).
		if err := r.checkDefinitionValues(ctx); err != nil {
			return nil, err
		}
		// useLatestDefinitions: the task definitions registered now too,
		// not the ones the run started with (taskdefsnap.go).
		if err := r.snapshotTaskDefs(); err != nil {
			return nil, err
		}
	}
	if len(parents) == 0 {
		if err := r.restoreRestarted(ctx); err != nil {
			return nil, err
		}
		return r.execute(ctx)
	}
	executing = true
	op := "retried"
	switch {
	case o != nil && !o.latestDefinition:
		op = "reran"
	case fromStart:
		op = "restarted"
	}
	return e.executeUnder(ctx, id, r, parents, o, op)
}

// executeUnder stores the re-opened parents RUNNING, then the child r
// prepared to run again, and executes them: the topmost re-opened run
// replays down to the child. They are stored RUNNING before the child:
// after a crash in between, a resumed parent finds its child ended and
// takes its outcome again, rather than a child running under parents that
// stay ended. A parent that a process executes takes the runs below it
// from here (handOff); the Result is then run id's once it has ended.
func (e *Engine) executeUnder(ctx context.Context, id string, r *runState, parents []reopenStep, o *RerunOptions, op string) (*Result, error) {
	top, stored, err := e.reopenParents(ctx, withoutExecuted(parents), o)
	if err == nil {
		err = r.restoreRestarted(ctx)
	}
	if err != nil {
		e.releaseReopened(ctx, parents)
		return nil, err
	}
	notes := &reopenNotes{op: op, ident: shortName(r.doc.WorkflowType, r.doc.Version, r.id)}
	notes.write(ctx, e, withoutExecuted(parents))
	if top == nil {
		top = r
	}
	stored = append(stored, r)
	for hand := executedStep(parents); hand != nil; {
		next, taken, err := e.handOff(ctx, *hand, top, stored, notes.line())
		if err != nil {
			return nil, err
		}
		if taken {
			return e.awaitEnd(ctx, id)
		}
		// Decided again from top (its lease held again): the runs stored
		// so far stay as they are.
		up, more, err := e.reopenParents(ctx, withoutExecuted(next), o)
		if err != nil {
			e.releaseReopened(ctx, next)
			return nil, err
		}
		notes.write(ctx, e, withoutExecuted(next))
		if up != nil {
			top = up
		}
		stored = append(more, top)
		hand = executedStep(next)
	}
	if _, err := top.execute(ctx); err != nil {
		if errors.Is(err, ErrInterrupted) {
			return &Result{RunID: id, Status: StatusRunning}, err
		}
		return nil, err
	}
	return e.resultOf(ctx, id)
}

// executedStep is the step of steps whose parent a process executes (the
// last one, where the walk stopped), or nil.
func executedStep(steps []reopenStep) *reopenStep {
	if n := len(steps); n > 0 && steps[n-1].executed {
		return &steps[n-1]
	}
	return nil
}

func withoutExecuted(steps []reopenStep) []reopenStep {
	if executedStep(steps) != nil {
		return steps[:len(steps)-1]
	}
	return steps
}

func (er *endedRun) hasTask(taskID string) bool {
	for i := range er.d.Tasks {
		if er.d.Tasks[i].TaskID == taskID {
			return true
		}
	}
	return false
}

// checkArchived refuses to run again an archived run whose re-execution
// needs `_secrets` data that archiving replaced by "***", or the task
// definitions it masked (taskdefarchive.go) unless it takes the ones
// registered now (latestDefs).
func (e *Engine) checkArchived(er *endedRun, fromStart, inputGiven, latestDefs bool) error {
	if !er.archived {
		return nil
	}
	if er.d.TaskDefsMasked && !latestDefs {
		return fmt.Errorf("%w: cannot restart run %s: archiving masked a secret's value written into its task definitions, which the restarted run would apply (restart it from the start with the latest definitions to take the ones registered now)",
			ErrArchivedSecrets, er.id)
	}
	var need []string
	for _, p := range runsecrets.ArchivedSecretsNeeded(er.doc) {
		if inputGiven && (p == "/input" || strings.HasPrefix(p, "/input/")) {
			continue
		}
		if fromStart && !strings.HasPrefix(p, "/input") {
			continue
		}
		if !fromStart && !e.neededOnRetry(&er.d, p) {
			continue
		}
		need = append(need, p)
	}
	need = append(need, runsecrets.ArchivedFieldsNeeded(er.doc, er.d.MaskedFields)...)
	if len(need) > 0 {
		return fmt.Errorf("%w: cannot restart run %s: archiving replaced these values by \"***\" and the restarted run would use them: %s",
			ErrArchivedSecrets, er.id, strings.Join(need, ", "))
	}
	return nil
}

// prepareRestart builds the ended run RUNNING again, ready to be stored
// (restoreRestarted) and executed:
// from the start (fromStart), from fromTaskID (a rerun: that task and the
// later ones are dropped) or from its failed tasks (a retry).
func (e *Engine) prepareRestart(ctx context.Context, er *endedRun, fromStart bool, fromTaskID string, o *RerunOptions) (*runState, error) {
	id := er.id
	r, err := e.loadDoc(ctx, id, er.doc, &er.d, nil)
	if err != nil {
		return nil, err
	}
	fromSeq, fromRef, fromIn := 0, "", []byte(nil)
	var from *taskRecord
	if fromTaskID != "" {
		for _, t := range r.tasks {
			if t.TaskID == fromTaskID {
				fromSeq, fromRef, fromIn, from = t.Seq, t.Ref, t.inMem, t
			}
		}
		if fromSeq == 0 {
			return nil, fmt.Errorf("%w: run %s has no task with id %q", ErrTaskNotFound, id, fromTaskID)
		}
	}
	subRerun := from != nil && from.TaskType == TypeSubWorkflow
	if subRerun {
		// Conductor reruns a SUB_WORKFLOW task in place: it keeps the
		// child's input (the record's workflowInput; a taskInput is not
		// applied to it) and starts a new child.
		fromIn = subWorkflowInputOf(fromIn)
		if o != nil && hasJSON(o.TaskInput) {
			oc := *o
			oc.TaskInput = nil
			o = &oc
		}
	}
	var loops []*taskRecord   // DO_WHILEs going on at the rerun task's iteration
	var sibs []rerunSibling   // records reset in place that keep their input (rerun.go)
	var subs []*taskRecord    // SUB_WORKFLOWs among them: their child's id leaves the output
	var fresh *taskRecord     // a dynamic fork's FORK mapped again (resetInPlace)
	var loopsDone []rerunLoop // COMPLETED DO_WHILEs holding the rerun task (rerun.go)
	var retryRef string       // a retry: a failed task inside loopsDone
	r.mu.Lock()
	rerunRefs := map[string]bool{} // a test run's mocks (mockstore.go)
	for _, t := range r.tasks {
		if fromSeq > 0 && !subRerun && t.Seq >= fromSeq {
			rerunRefs[t.Ref] = true
		}
	}
	r.reopenHeadLocked()
	switch {
	case fromStart:
		r.tasks, r.byRef, r.latest = nil, map[string]*taskRecord{}, map[string]*taskRecord{}
		r.doc.LastRetriedTime = 0
	case subRerun:
		// The run's other records stay (Conductor's finalizeRerun): the
		// tasks that succeeded are not run again, the unsuccessful ones
		// (each ref's latest record) are reset in place, as for a rerun
		// from another task, and taken over by the executor.
		// Conductor's rerunWF: scheduled now, no start nor end time, no
		// poll counted, its output and child cleared, SCHEDULED.
		from.Status, from.Reason, from.Start, from.End, from.SubWorkflowID = TaskScheduled, "", 0, 0, ""
		from.Scheduled, from.PollCount = r.nowMillis(), 0
		from.outMem, from.outStored = nil, nil
		r.touchLocked(from)
		last := map[string]*taskRecord{}
		for _, t := range r.tasks {
			last[t.Ref] = t
		}
		var reset []*taskRecord
		for _, t := range r.tasks {
			if last[t.Ref] == t && successfulTask(t.Status) && loopHolding(t, from) {
				// A DO_WHILE that completed holding the task stays as
				// it is (finalizeRerun leaves a successful record): the
				// decider takes the task's end, finds the rest of its
				// iteration recorded (dedupAndAddTasks) and the loop
				// too. Its iteration is gone through once more
				// (replayRerunIteration), running the task; without
				// it the loop, done, was skipped and the task left
				// SCHEDULED until the run's end cancelled it.
				if n := heldIteration(t, from); n > 0 {
					loopsDone = append(loopsDone, rerunLoop{TaskID: t.TaskID, Iteration: n})
				}
			}
			if last[t.Ref] != t || !resetSiblingForRerun(t, from) {
				continue
			}
			sibs, subs = r.resetSiblingNotedLocked(t, sibs, subs)
			reset = append(reset, t)
		}
		r.retainForRetryLocked(nil)
		for _, t := range reset {
			r.byRef[t.Ref] = t
			if l := r.latest[t.BaseRef]; l == nil || l.Seq < t.Seq {
				r.latest[t.BaseRef] = t
			}
		}
		r.byRef[from.Ref], r.latest[from.BaseRef] = from, from
	case fromSeq > 0:
		// A rerun from a dynamic fork's FORK (not reset in place): Conductor's
		// finalizeRerun maps the fork again and returns before it resets
		// anything else, so the records before it stay as they are, an
		// unsuccessful one and the DO_WHILE holding the FORK included.
		inPlace := resetInPlace(from)
		kept := r.tasks[:0:0]
		last := map[string]*taskRecord{} // each ref's latest record
		for _, t := range r.tasks {
			if t.Seq < fromSeq || t == from {
				last[t.Ref] = t
			}
		}
		r.byRef, r.latest = map[string]*taskRecord{}, map[string]*taskRecord{}
		for _, t := range r.tasks {
			if t == from && inPlace {
				// Conductor's rerunWF resets the task itself in place,
				// in the write that stores the run RUNNING (rerun.go);
				// the executor takes the record over.
				r.resetForRerunLocked(t)
			} else if t == from {
				// Conductor's finalizeRerun maps a dynamic fork's FORK
				// again: a new record, in the rerun's write.
				t = r.remappedForkLocked(t)
				fresh = t
			} else if t.Seq < fromSeq && successfulTask(t.Status) && loopHolding(t, from) {
				// A DO_WHILE that completed is a record finalizeRerun
				// does not touch: it stays COMPLETED, its output and
				// endTime as they were. The decider schedules the rest of
				// the rerun task's iteration (getNextTask of each task
				// that ends) and, at its last task, finds the loop
				// recorded already: no iteration follows. The rerun's
				// note names the loop until that rest has run
				// (replayRerunIteration).
				if n := heldIteration(t, from); n > 0 {
					loopsDone = append(loopsDone, rerunLoop{TaskID: t.TaskID, Iteration: n})
				}
			} else if t.Seq < fromSeq && inPlace && loopHolding(t, from) {
				// Conductor keeps the tasks before the rerun task and
				// finalizeRerun reopens the DO_WHILE that holds it, which
				// ended unsuccessfully: the loop goes on, in place, with
				// the rerun task's iteration, started now.
				t.Start = r.nowMillis()
				t.Status, t.Reason, t.End = TaskInProgress, "", 0
				// Its inputData stays, as finalizeRerun leaves it.
				if s, ok := keptSibling(t); ok {
					sibs = append(sibs, s)
				}
				if n := heldIteration(t, from); n > 0 && inPlace {
					// At the iteration of the task reset in place.
					t.Iteration = n
					loops = append(loops, t)
				}
				r.touchLocked(t)
			} else if t.Seq >= fromSeq {
				continue // rerun: this task and the later ones run again
			} else if !successfulTask(t.Status) && last[t.Ref] != t {
				// An earlier attempt (a retry followed it) stays as it
				// is. A difference: Conductor's finalizeRerun resets
				// every unsuccessful record before the rerun task,
				// earlier attempts too; wfrun's executor runs only each
				// task's latest record.
				kept = append(kept, t)
				continue
			} else if !successfulTask(t.Status) && inPlace {
				if !resetSiblingForRerun(t, from) {
					continue // scheduled anew by the executor
				}
				// Conductor's finalizeRerun resets it in place, in the
				// rerun's write; the executor takes the record over.
				sibs, subs = r.resetSiblingNotedLocked(t, sibs, subs)
			}
			kept = append(kept, t)
			if t.TaskType != TypeTerminate || t.Status == TaskInProgress {
				r.byRef[t.Ref], r.latest[t.BaseRef] = t, t
			}
		}
		r.tasks = kept
		// Conductor resets the rerun task in place: it keeps its seq, and
		// the tasks scheduled after it number on from there (a dynamic
		// fork's new FORK record takes the seq).
		r.doc.NextSeq = fromSeq
	default:
		r.retainForRetryLocked(nil)
		r.doc.LastRetriedTime = r.nowMillis()
		retryRef, loopsDone = r.completedLoopsHoldingFailuresLocked()
	}
	if subRerun || (!fromStart && fromSeq == 0) {
		r.markRetryLocked() // a retry: its failed attempts run again (resume.go)
	} else {
		r.retryAsked = nil // a restart or rerun: those records are gone
	}
	err = r.sealReopenKeptLocked()
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, t := range loops {
		if err := r.loopOutputAt(t); err != nil {
			return nil, err
		}
	}
	for _, t := range subs {
		if err := r.dropChildOutput(t); err != nil {
			return nil, err
		}
	}
	if fresh != nil && hasJSON(fromIn) {
		// Shown with its previous input until the executor maps it.
		if err := r.setTaskData(fresh, fromIn, nil); err != nil {
			return nil, err
		}
	}
	if err := r.restartMocks(fromStart, rerunRefs); err != nil {
		return nil, err
	}
	if o != nil {
		keptID := fromTaskID
		if from != nil && !resetInPlace(from) {
			// Conductor's finalizeRerun drops a dynamic fork's FORK task
			// and maps the fork again: a new FORK record, new branches.
			keptID, fromIn = "", nil
		}
		child := ""
		if subRerun {
			child = newID()
		}
		if err := r.applyRerun(o, fromRef, keptID, fromIn, child, sibs, loopsDone); err != nil {
			return nil, err
		}
	}
	if o == nil && len(loopsDone) > 0 {
		// A retry of failed tasks inside COMPLETED DO_WHILEs (a rerun
		// in such a loop failed): noted as a rerun's, sealed with the
		// retry's write, so the executor runs the rest of each held
		// iteration (replayRerunIteration) and a resumed run does too.
		if err := r.applyRerun(&RerunOptions{}, retryRef, "", nil, "", nil, loopsDone); err != nil {
			return nil, err
		}
	}
	if fromStart {
		vars, err := initialVariables(r.def, nil)
		if err != nil {
			return nil, err
		}
		if err := r.setVariables(vars); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// restoreRestarted stores a run prepareRestart prepared (RUNNING again).
func (r *runState) restoreRestarted(ctx context.Context) error {
	if err := r.restore(ctx); err != nil {
		return err
	}
	r.emit(Event{Kind: EventWorkflow, Status: StatusRunning, Reason: "restarted"})
	return nil
}

// reopenHeadLocked puts an ended run's head back to RUNNING. Callers
// hold r.mu.
func (r *runState) reopenHeadLocked() {
	r.keepFailureRunLocked()
	r.doc.Status, r.doc.ReasonForIncompletion, r.doc.FailedTaskID, r.doc.EndTime = StatusRunning, "", "", 0
	r.doc.Output, r.outStored, r.wfDoc = nil, nil, nil
}

// restore writes the whole run back to the primary store (out of the
// archive), with this engine's lease.
func (r *runState) restore(ctx context.Context) error {
	r.mu.Lock()
	ch, err := r.changeLocked(true, 0)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	l := r.e.newLease()
	ch.Lease, ch.LeaseTTL = &l, r.e.leaseTTL
	if err := r.e.runs.Restore(ctx, r.id, ch); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	r.mu.Lock()
	r.stored, r.lease.held = true, true
	r.mu.Unlock()
	return nil
}

// retainForRetryLocked is Conductor's retry of a run's records: every
// record is kept; the replay skips the successful ones, resumes a
// cancelled DO_WHILE or JOIN in place (reopenOnRetryLocked) and the
// records reopen names (SUB_WORKFLOWs whose child runs again) like the
// unfinished record of a previous process, and schedules a failed or
// cancelled task again as a new attempt that retries it (retryCount + 1,
// retriedTaskId). Callers hold r.mu.
func (r *runState) retainForRetryLocked(reopen map[string]bool) {
	r.byRef, r.latest = map[string]*taskRecord{}, map[string]*taskRecord{}
	for _, t := range r.tasks {
		switch {
		case reopen[t.TaskID]:
			t.Status, t.Reason, t.End = TaskInProgress, "", 0
			r.touchLocked(t)
		case r.reopenOnRetryLocked(t):
		case successfulTask(t.Status):
			if t.TaskType == TypeTerminate {
				continue
			}
		case !retriedAsNewAttempt(t):
			continue
		}
		r.byRef[t.Ref], r.latest[t.BaseRef] = t, t
	}
}

// retriedAsNewAttempt: a leaf or SUB_WORKFLOW record that ended
// unsuccessfully, which a retry schedules again as a new attempt linked to
// it. Control tasks are scheduled anew from their definition.
func retriedAsNewAttempt(t *taskRecord) bool {
	if successfulTask(t.Status) || t.Status == TaskScheduled || t.Status == TaskInProgress {
		return false
	}
	// A task a FORK_JOIN_DYNAMIC generated has no configuration in the
	// definition: its record's type tells.
	typ := t.TaskType
	if t.wt != nil {
		typ = t.wt.Type
	}
	switch typ {
	case TypeSwitch, TypeDecision, TypeDoWhile, TypeForkJoin, TypeForkJoinDynamic, TypeFork, TypeJoin, TypeDynamic, TypeTerminate:
		return false
	}
	return true
}

// neededOnRetry: a retry keeps completed tasks, so their archived `_secrets`
// matter (a later task may read them); failed attempts are re-run anyway.
func (e *Engine) neededOnRetry(d *runDoc, ptr string) bool {
	if !strings.HasPrefix(ptr, "/tasks/") {
		return true
	}
	rest := strings.TrimPrefix(ptr, "/tasks/")
	idx := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		idx = rest[:i]
	}
	var n int
	if _, err := fmt.Sscanf(idx, "%d", &n); err != nil || n < 0 || n >= len(d.Tasks) {
		return true
	}
	return successfulTask(d.Tasks[n].Status)
}

// resultOf is the Result of a stored run (its output in display form).
func (e *Engine) resultOf(ctx context.Context, id string) (*Result, error) {
	view, err := e.Show(ctx, id)
	if err != nil {
		return nil, err
	}
	var v struct {
		Status       string          `json:"status"`
		Reason       string          `json:"reasonForIncompletion"`
		Output       json.RawMessage `json:"output"`
		FailedTaskID string          `json:"failedTaskId"`
		Tasks        []struct {
			TaskID string `json:"taskId"`
			Ref    string `json:"referenceTaskName"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(view, &v); err != nil {
		return nil, fmt.Errorf("run %s: damaged document: %w", id, err)
	}
	res := &Result{RunID: id, Status: v.Status, Output: orEmpty(v.Output), Reason: v.Reason}
	for _, t := range v.Tasks {
		if v.FailedTaskID != "" && t.TaskID == v.FailedTaskID {
			res.FailedTaskRef = t.Ref
		}
	}
	return res, nil
}

// subWorkflowInputOf is the child's input a SUB_WORKFLOW record's input
// holds (its workflowInput member).
func subWorkflowInputOf(in []byte) []byte {
	var v struct {
		WorkflowInput json.RawMessage `json:"workflowInput"`
	}
	if json.Unmarshal(in, &v) != nil || !hasJSON(v.WorkflowInput) {
		return nil
	}
	return v.WorkflowInput
}

// loopHolding: t is the DO_WHILE record whose iteration holds the task
// from (a task of its loopOver, in one of its iterations).
func loopHolding(t, from *taskRecord) bool {
	if t.TaskType != TypeDoWhile || t.wt == nil || from == nil || !strings.HasPrefix(from.Ref, from.BaseRef) || !strings.HasPrefix(t.Ref, t.BaseRef) {
		return false
	}
	inside := false
	walkTasks(t.wt.LoopOver, func(w *WorkflowTask) { inside = inside || w.TaskReferenceName == from.BaseRef })
	return inside && strings.HasPrefix(from.Ref[len(from.BaseRef):], t.Ref[len(t.BaseRef):]+"__")
}

// completedLoopsHoldingFailuresLocked lists, for a retry, the COMPLETED
// DO_WHILE records holding a task that ended unsuccessfully (a rerun from a
// task inside a completed loop failed there, leaving the loop COMPLETED)
// with the iteration that holds it, and the ref of one such task.
// Conductor's retry schedules a copy of each failed task whatever state its
// loop is in, and its decider then schedules the rest of that iteration
// and, finding the loop recorded, no further one: without the note, the
// executor would take the loop as done and never retry the task. Callers
// hold r.mu.
func (r *runState) completedLoopsHoldingFailuresLocked() (string, []rerunLoop) {
	return r.completedLoopsHoldingLocked(func(f *taskRecord) bool { return r.byRef[f.Ref] == f && retriedAsNewAttempt(f) })
}

// completedLoopsHoldingLocked lists the COMPLETED DO_WHILE records holding
// a record that held says is to run again, with each iteration that holds
// such a record (a loop holding them in two iterations is listed for
// each), and the ref of one such record. Callers hold r.mu.
func (r *runState) completedLoopsHoldingLocked(held func(*taskRecord) bool) (string, []rerunLoop) {
	var ref string
	var loops []rerunLoop
	seen := map[rerunLoop]bool{}
	for _, f := range r.tasks {
		if !held(f) {
			continue
		}
		for _, l := range r.tasks {
			if !successfulTask(l.Status) || !loopHolding(l, f) {
				continue
			}
			if n := heldIteration(l, f); n > 0 && !seen[rerunLoop{TaskID: l.TaskID, Iteration: n}] {
				seen[rerunLoop{TaskID: l.TaskID, Iteration: n}] = true
				loops = append(loops, rerunLoop{TaskID: l.TaskID, Iteration: n})
				if ref == "" {
					ref = f.Ref
				}
			}
		}
	}
	return ref, loops
}

// heldIteration is the iteration of the DO_WHILE record t (loopHolding)
// that holds the task from: the number its ref carries after the loop's
// own suffix. 0 when it carries none.
func heldIteration(t, from *taskRecord) int {
	rest := strings.TrimPrefix(from.Ref[len(from.BaseRef):], t.Ref[len(t.BaseRef):]+"__")
	if i := strings.Index(rest, "__"); i >= 0 {
		rest = rest[:i]
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return 0
	}
	return n
}

// awaitParentTook waits, up to letGoWait, while the parent of the ended
// child d is executed (here, or by a process holding its lease) and the
// SUB_WORKFLOW record that started d is still unfinished naming d: the
// parent's executor has d's end to take (it fails or retries the task).
// Walked before that, the parents would show nothing to re-open, and the
// parent would then end for good while its child runs again. A parent no
// process executes is not waited for: resumed, it finds its child running
// again and waits for it.
func (e *Engine) awaitParentTook(ctx context.Context, d *runDoc) error {
	id := d.ParentWorkflowID
	if id == "" {
		return nil
	}
	deadline := time.Now().Add(letGoWait)
	step := time.Millisecond
	for {
		pd, err := e.loadLive(ctx, id)
		if err != nil || pd == nil || (pd.Status != StatusRunning && pd.Status != StatusPaused) {
			return err
		}
		sub := latestRecord(pd, d.ParentWorkflowTaskID)
		if sub == nil || sub.SubWorkflowID != d.WorkflowID || terminalTask(sub.Status) {
			return nil
		}
		executed := e.isActive(id)
		if !executed {
			l, held, err := e.runs.GetLease(ctx, id)
			if err != nil {
				return err
			}
			executed = held && l.Live(time.Now())
		}
		if !executed || !time.Now().Before(deadline) {
			return nil
		}
		// Real time: the wait is for the parent's executor.
		if err := sleepCtx(ctx, step); err != nil {
			return err
		}
		step = min(2*step, 20*time.Millisecond)
	}
}
