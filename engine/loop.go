package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks/eval"
)

// A DO_WHILE costs the same per iteration however many ran before:
//
//   - its output ({iteration, loopItem, loopIndex, item, "1": {...}, ...})
//     is kept as bytes: each iteration's entry is appended once, built from
//     its tasks' outputs as they are, never decoded and re-encoded with the
//     earlier ones;
//   - while the loop runs, expressions read that output through the loop's
//     state (env.go, selectLoop): ${loop.output.iteration} or
//     ${loop.output.3.step.output} reads one member, never a copy of the
//     whole output; only a reference to the whole output renders it;
//   - the loop record is not written per iteration: the iteration's task
//     records are (each when it ends), and a resumed loop finds its
//     iteration from them; the whole output is protected and written once,
//     when the loop ends;
//   - loopCondition sees what Conductor's DoWhile.evaluateCondition gives
//     it: the loop's inputParameters (resolved again), under the loop's ref
//     its whole output — every kept iteration — and under each loop-over
//     task's ref its latest output (plus loopIndex/loopItem over items).
//     The iterations are handed over as an eval.Lazy: a JavaScript
//     condition converts only the iterations it reads, and each iteration
//     is decoded once, when it ends;
//   - keepLastN (inputParameters, as in Conductor) drops the task records
//     and output entries of older iterations, so a long loop keeps a bounded
//     run.
type loopState struct {
	// out is the rendered output (see output); version counts the changes
	// since, rendered the version out holds.
	out               []byte
	version, rendered int
	scalars           []byte // `"iteration":N,...` members, rebuilt each iteration
	scalarsObj        []byte // the same as an object
	entries           []byte // `,"1":{...},"2":{...}` appended per iteration
	// entryAt[i] is where iteration i's entry starts in entries.
	entryAt map[int]int
	order   []int // iterations with an entry, ascending
}

// output is the loop's output as it stands. It is rendered again only when
// it changed, in place: callers hold r.mu and copy what they keep.
func (l *loopState) output() []byte {
	if l.out == nil || l.rendered != l.version {
		l.out, l.rendered = l.render(l.out[:0]), l.version
	}
	return l.out
}

func (l *loopState) bytes() []byte {
	return l.render(make([]byte, 0, 2+len(l.scalars)+len(l.entries)))
}

func (l *loopState) render(b []byte) []byte {
	b = append(b, '{')
	b = append(b, l.scalars...)
	b = append(b, l.entries...)
	return append(b, '}')
}

func (l *loopState) setScalars(obj []byte) {
	l.scalarsObj, l.scalars = obj, obj[1:len(obj)-1]
	l.version++
}

func (l *loopState) add(i int, entry []byte) {
	l.entryAt[i] = len(l.entries)
	l.order = append(l.order, i)
	l.entries = append(l.entries, `,"`...)
	l.entries = strconv.AppendInt(l.entries, int64(i), 10)
	l.entries = append(l.entries, `":`...)
	l.entries = append(l.entries, entry...)
	l.version++
}

// entry returns iteration i's entry ({taskRef: output, ...}).
func (l *loopState) entry(i int) ([]byte, bool) {
	at, ok := l.entryAt[i]
	if !ok {
		return nil, false
	}
	end := len(l.entries)
	if k := sort.SearchInts(l.order, i) + 1; k < len(l.order) {
		end = l.entryAt[l.order[k]]
	}
	head := 4 + len(strconv.Itoa(i)) // `,"i":`
	return l.entries[at+head : end], true
}

// drop removes the entries of iterations up to and including i and returns
// those iterations.
func (l *loopState) drop(i int) []int {
	n := 0
	for n < len(l.order) && l.order[n] <= i {
		delete(l.entryAt, l.order[n])
		n++
	}
	if n == 0 {
		return nil
	}
	dropped := append([]int(nil), l.order[:n]...)
	l.version++
	l.order = l.order[n:]
	if len(l.order) == 0 {
		l.entries = l.entries[:0]
		return dropped
	}
	cut := l.entryAt[l.order[0]]
	l.entries = append(l.entries[:0], l.entries[cut:]...)
	for _, k := range l.order {
		l.entryAt[k] -= cut
	}
	return dropped
}

// loopView is what loopCondition reads besides the inputParameters: the
// loop's output as an eval.Lazy (every kept iteration, each decoded once)
// and each loop-over task's latest output, with the iteration it is from.
type loopView struct {
	self       eval.Lazy
	latest     map[string]any
	latestIter map[string]int
}

func newLoopView() *loopView {
	return &loopView{self: eval.Lazy{}, latest: map[string]any{}, latestIter: map[string]int{}}
}

func (v *loopView) add(i int, outs map[string]any) {
	v.self[strconv.Itoa(i)] = outs
	for k, o := range outs {
		v.latest[k], v.latestIter[k] = o, i
	}
}

// drop forgets iteration i: its entry, and the latest outputs that came
// from it (Conductor removes its tasks from the workflow).
func (v *loopView) drop(i int) {
	delete(v.self, strconv.Itoa(i))
	for k, it := range v.latestIter {
		if it == i {
			delete(v.latest, k)
			delete(v.latestIter, k)
		}
	}
}

func marshalOr(v any, def string) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(def)
	}
	return b
}

func (r *runState) execDoWhile(ctx context.Context, wt *WorkflowTask, suffix string, iter int) (err error) {
	ref := wt.TaskReferenceName + suffix
	if ok, err := r.settledOperator(ctx, wt, ref); ok {
		// resume.go: its outcome stands; the rest of its failed
		// iteration goes on.
		if lr := r.resumedRest(ctx, wt, ref, suffix, err); lr != nil {
			return lr
		}
		return err
	}
	rec, input, done, err := r.beginControl(ctx, wt, ref, iter)
	if n := r.rerunIterationOf(rec); err == nil && done && n > 0 {
		// Each iteration a rerun or a re-opening noted, in turn (rerun.go).
		for ; n > 0; n = r.rerunIterationOf(rec) {
			if err := r.replayRerunIteration(ctx, wt, suffix, rec, n); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil || done {
		if lr := r.resumedRest(ctx, wt, ref, suffix, err); lr != nil {
			return lr
		}
		return err
	}
	inMap := map[string]any{}
	_ = json.Unmarshal(input, &inMap)
	items, hasItems, orkesItems, err := r.loopItems(ctx, wt, rec, inMap)
	if err != nil {
		return err
	}
	itemsVary := hasItems && !orkesItems && loopItemsVary(wt)
	keep := 0
	if n, ok := inMap["keepLastN"].(float64); ok && n >= 1 {
		keep = int(n)
	}
	names := map[string]bool{}
	walkTasks(wt.LoopOver, func(t *WorkflowTask) { names[t.TaskReferenceName] = true })

	// The loop whose iteration this one runs in, still judging it (not
	// one that failed already, whose rest runs beside): a failure in this
	// loop's iteration fails it too (failNested).
	outer := enclosingLoop(ctx)
	// Its iterations' tasks know their loop (scheduleLoopSuccessor).
	ctx = context.WithValue(ctx, loopKey{}, wt)
	ls := &loopState{entryAt: map[int]int{}}
	var view *loopView
	if wt.program != nil {
		view = newLoopView()
	}
	i := r.resumeLoop(rec, suffix, names, ls, view)
	// A permissive or optional loop with a fork runs each iteration beside
	// it (loopbeside.go, besideIter): a permissive task failing in a fork
	// branch fails the loop while its iteration goes on.
	forked := (wt.Optional || wt.Permissive) && hasFork(wt.LoopOver)
	// A loop that fails or is interrupted keeps its output too (the run's
	// archive, or the next write, carries it).
	// failLoop fails the loop, its output as it stands: DoWhile.execute
	// records the iteration before it evaluates the condition, and a
	// permissive or optional loop that lets the run go on keeps it too.
	failLoop := func(status, reason string) error {
		if err := r.setTaskData(rec, nil, ls.bytes()); err != nil {
			return err
		}
		return r.failTask(ctx, rec, status, reason)
	}
	defer func() {
		r.mu.Lock()
		var out []byte
		if err != nil {
			out = ls.bytes()
		}
		rec.loop, rec.envDoc, rec.headDoc, rec.outIdx = nil, nil, nil, nil
		r.mu.Unlock()
		if err != nil {
			_ = r.setTaskData(rec, nil, out)
		}
	}()
	if hasItems && len(items) == 0 {
		// DoWhile.execute completes a loop over an empty list at once,
		// its output iteration 0.
		r.mu.Lock()
		ls.setScalars([]byte(`{"iteration":0}`))
		r.mu.Unlock()
	}
	for ; ; i++ {
		if hasItems && i > len(items) {
			break
		}
		if i > r.e.maxLoop {
			return failLoop(TaskFailedTerminal, fmt.Sprintf("DO_WHILE stopped after %d iterations (limit)", r.e.maxLoop))
		}
		scalars := loopScalars(i, items, hasItems, orkesItems)
		r.mu.Lock()
		ls.setScalars(marshalOr(scalars, `{}`))
		// The loop task's own iteration (${loop['iteration']},
		// ${loop.iteration}) is the current one, as Conductor's DoWhile sets it.
		if rec.Iteration != i {
			rec.Iteration = i
			r.touchLocked(rec)
		}
		r.showLoopLocked(rec, ls)
		r.mu.Unlock()
		if view != nil {
			for k, v := range scalars {
				view.self[k] = v
			}
		}
		iterSfx := suffix + "__" + strconv.Itoa(i)
		if i > 1 {
			// DoWhile.execute maps a later iteration's first task
			// (scheduleNextIteration) inside the try that evaluates the
			// condition: a mapper's throw there fails the loop, the
			// iteration and its loopItem already set, nothing of the
			// iteration mapped. The first iteration's is mapped outside
			// it: the throw ends the run (execList, mapperThrows).
			if reason, ok := r.iterationMapThrows(ctx, wt, iterSfx); ok {
				return failLoop(TaskFailedTerminal, reason)
			}
		}
		r.mu.Lock()
		seqStart := r.doc.NextSeq
		r.mu.Unlock()
		var failed *iterationFailed
		var bi *besideIter
		var iterErr error
		if forked {
			bi = r.startBesideIter(ctx, wt, iterSfx, i)
			if iterErr, failed = bi.await(); failed == nil {
				bi = nil // it ended, as execList does
			}
		} else {
			iterErr = r.execList(ctx, wt.LoopOver, iterSfx, i)
		}
		if iterErr != nil && !errors.As(iterErr, &failed) {
			var stop *stopError
			if errors.As(iterErr, &stop) {
				if entry, ok := r.endingPassEntry(wt, iterSfx); ok {
					r.mu.Lock()
					ls.add(i, entry)
					var dropped []int
					if keep > 0 && i > keep {
						dropped = ls.drop(i - keep)
					}
					r.mu.Unlock()
					if len(dropped) > 0 {
						r.dropIteration(suffix, i-keep, names, seqStart)
					}
				}
			}
			return iterErr
		}
		upTo := ""
		if failed != nil {
			if failed.thrown != nil {
				bi.stop()
				// The loop stays IN_PROGRESS and is cancelled with the run.
				return failed.thrown
			}
			upTo = failed.ref
		}
		entry, outs := r.iterationOutputs(wt, iterSfx, view != nil, upTo)
		r.mu.Lock()
		ls.add(i, entry)
		var dropped []int
		if keep > 0 && i > keep {
			dropped = ls.drop(i - keep)
		}
		// The loop's inputParameters, resolved again below, may read it.
		r.showLoopLocked(rec, ls)
		r.mu.Unlock()
		if view != nil {
			view.add(i, outs)
			for _, d := range dropped {
				view.drop(d)
			}
		}
		if len(dropped) > 0 {
			r.dropIteration(suffix, i-keep, names, seqStart)
		}
		if failed != nil {
			// Conductor's DoWhile.execute: a loop-over task of the
			// iteration whose status is not successful (a permissive one
			// FAILED, FAILED_WITH_TERMINAL_ERROR, CANCELED, TIMED_OUT with
			// no retry left) fails the loop with its reason and a space,
			// after the iteration's output (and keepLastN) is recorded; no
			// loopCondition is evaluated.
			if err := r.setTaskData(rec, nil, ls.bytes()); err != nil {
				return err
			}
			// Conductor's DoWhile.execute of the enclosing loop counts the
			// tasks whose iteration is its own: this loop's (once past its
			// first iteration it is i, the iteration its tasks carry) and
			// theirs. Where i differs, the enclosing loop sees neither, and
			// this loop's failure is decided as an outermost one.
			if outer != nil && bi == nil && i == iter {
				return r.failNested(ctx, rec, failed)
			}
			err := r.failLoops(ctx, rec, failed)
			if failed.terminated {
				bi.stop()
				return r.afterTerminateSuccessor(err, failed.then)
			}
			if failed.then != nil {
				bi.stop()
				return failed.then
			}
			if bi != nil {
				if err != nil {
					bi.stop()
					return err
				}
				// The iteration goes on beside the tasks after the loop.
				return &loopRest{iter: bi, inner: failed.inner}
			}
			if err != nil || len(failed.rest) == 0 && len(failed.inner) == 0 {
				return err
			}
			// Permissive or optional, the loop lets the run go on; the
			// rest of the iteration runs beside (loopbeside.go), and so
			// do the rests of the failed loops inside it.
			return &loopRest{rest: failed.rest, loop: wt, inner: failed.inner}
		}
		if wt.program == nil && !itemsVary {
			if !hasItems {
				break
			}
			continue
		}
		// As in Conductor, the loop's own inputParameters are resolved again
		// before each evaluation, so "${loop_ref.output.iteration}" in them
		// sees the iteration that just ended.
		cond := map[string]any{}
		if wt.input != nil && (wt.program != nil || itemsVary) {
			b, _, err := wt.input.Execute(ctx, &runEnv{r: r, taskID: rec.TaskID, values: r.e.envValues}, interpolate.DeferSecrets, nil)
			if err != nil {
				return failLoop(TaskFailedTerminal, "loopCondition input: "+err.Error())
			}
			_ = json.Unmarshal(b, &cond)
		} else {
			for k, v := range inMap {
				cond[k] = v
			}
		}
		if itemsVary {
			// DoWhile evaluates the list again, as the iteration left
			// the run, for the condition and the next loopItem: a
			// longer list has more iterations, a shorter one fewer.
			fresh, _, _, err := r.readLoopItems(ctx, wt, rec, cond)
			if err != nil {
				return failLoop(TaskFailedTerminal, "items: "+err.Error())
			}
			items = fresh
		}
		if wt.program == nil {
			continue
		}
		// As Conductor's evaluateCondition: the loop's whole output under
		// its ref, then each loop-over task's latest output, then (over
		// items) the current loopIndex and loopItem.
		cond[wt.TaskReferenceName] = view.self
		for k, v := range view.latest {
			cond[k] = v
		}
		if hasItems {
			cond["loopIndex"] = i - 1
			if i <= len(items) {
				cond["loopItem"] = items[i-1]
			}
		}
		v, err := wt.program.Eval(ctx, cond)
		if err != nil {
			// DoWhile.execute's words.
			return failLoop(TaskFailedTerminal, r.sec.CodeExcerpt(fmt.Sprintf("Unable to evaluate condition %s, exception %v", wt.LoopCondition, err), maxReasonBytes))
		}
		if !truthy(v) {
			break
		}
	}
	if err := r.setTaskData(rec, nil, ls.bytes()); err != nil {
		return err
	}
	return r.transition(ctx, rec, TaskCompleted, "")
}

// iterationMapThrows is the loop's reason when mapping the first task of
// wt's iteration at iterSfx throws (mapperThrows; not a problem Conductor's
// mapping does not throw on, notThrown): DoWhile.execute's "Unable to
// evaluate condition <loopCondition>, exception <what was thrown>", the
// condition "null" when the definition gives none.
func (r *runState) iterationMapThrows(ctx context.Context, wt *WorkflowTask, iterSfx string) (string, bool) {
	err := r.mapperThrows(ctx, wt.LoopOver, 0, iterSfx)
	var stop *stopError
	if err == nil || ctx.Err() != nil || !errors.As(err, &stop) || stop.notThrown {
		return "", false
	}
	cond := wt.LoopCondition
	var f struct {
		LoopCondition *string `json:"loopCondition"`
	}
	if json.Unmarshal(wt.raw, &f) == nil && f.LoopCondition == nil {
		cond = "null"
	}
	return r.sec.CodeExcerpt(fmt.Sprintf("Unable to evaluate condition %s, exception %s", cond, stop.reason), maxReasonBytes), true
}

// loopItems is the list a DO_WHILE wt iterates over, as Conductor's
// DoWhile.isListIteration and evaluateItemsList read it (inMap is the
// loop's resolved input): its top-level "items" template, unless blank;
// else inputParameters._items, when the definition gives it as a non-blank
// string or a list (Conductor OSS's Orkes-compatible form). A value that
// is not a list is a list of that one value; null (the items template
// resolving to null falls back to _items) is an empty list. Conductor OSS
// reads inputParameters.items as an ordinary input; a loop with no
// loopCondition or a blank one (Orkes' list form; Conductor OSS refuses the
// first and runs the second once) iterates over it, and only there is the
// current item also named "item" (orkes). hasItems is false for a loop
// over a condition.
func (r *runState) loopItems(ctx context.Context, wt *WorkflowTask, rec *taskRecord, inMap map[string]any) (items []any, hasItems, orkes bool, err error) {
	items, hasItems, orkes, err = r.readLoopItems(ctx, wt, rec, inMap)
	if err != nil {
		return nil, false, false, r.failTask(ctx, rec, TaskFailedTerminal, "items: "+err.Error())
	}
	return items, hasItems, orkes, nil
}

// readLoopItems is loopItems, a template's error returned as it is.
func (r *runState) readLoopItems(ctx context.Context, wt *WorkflowTask, rec *taskRecord, inMap map[string]any) (items []any, hasItems, orkes bool, err error) {
	if wt.items != nil && !blankJSONString(wt.Items) {
		b, _, err := wt.items.Execute(ctx, &runEnv{r: r, taskID: rec.TaskID, values: r.e.envValues}, interpolate.DeferSecrets, nil)
		if err != nil {
			return nil, false, false, err
		}
		var v any
		_ = json.Unmarshal(b, &v)
		if v == nil {
			v = inMap["_items"]
		}
		return listOf(v), true, false, nil
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(wt.InputParameters, &raw)
	if v, ok := raw["_items"]; ok && (isJSONList(v) || isJSONString(v) && !blankJSONString(v)) {
		return listOf(inMap["_items"]), true, false, nil
	}
	if _, ok := raw["items"]; ok && strings.TrimSpace(wt.LoopCondition) == "" {
		return listOf(inMap["items"]), true, true, nil
	}
	return nil, false, false, nil
}

// loopItemsVary reports whether the list DO_WHILE wt iterates over may be
// another after an iteration: Conductor's DoWhile evaluates it again for
// each condition and each next loopItem, so a list read from the run's
// variables or a task's output follows them. One given as it is, or read
// whole from the run's input (which no task changes), is read once: a
// loop over a long list then costs no more per iteration than a short one.
func loopItemsVary(wt *WorkflowTask) bool {
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(wt.InputParameters, &raw)
	for _, src := range []json.RawMessage{wt.Items, raw["_items"]} {
		if bytes.Contains(src, []byte("${")) && !fromRunInput(src) {
			return true
		}
	}
	return false
}

// fromRunInput: src is a JSON string that is one whole reference into the
// run's input, with no expression nested in it.
func fromRunInput(src json.RawMessage) bool {
	var s string
	if json.Unmarshal(src, &s) != nil {
		return false
	}
	s = strings.TrimSpace(s)
	const head = "${workflow.input"
	if !strings.HasPrefix(s, head) || !strings.HasSuffix(s, "}") {
		return false
	}
	rest := s[len(head) : len(s)-1]
	return (rest == "" || rest[0] == '.' || rest[0] == '[') && !strings.ContainsAny(rest, "${}")
}

// listOf is v as the list a DO_WHILE iterates over (evaluateItemsList): a
// list as it is, null none, any other value a list of that one value.
func listOf(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case nil:
		return []any{}
	default:
		return []any{v}
	}
}

func isJSONList(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '['
}

// blankJSONString: b is a JSON string of white space only.
func blankJSONString(b json.RawMessage) bool {
	var s string
	return isJSONString(b) && json.Unmarshal(b, &s) == nil && strings.TrimSpace(s) == ""
}

// loopScalars are the members of a DO_WHILE's output for iteration i:
// iteration, and over items loopItem and loopIndex (Orkes also names the
// current item "item", ${loop.output.item}).
func loopScalars(i int, items []any, hasItems, orkes bool) map[string]any {
	scalars := map[string]any{"iteration": i}
	if hasItems {
		scalars["loopItem"], scalars["loopIndex"] = items[i-1], i-1
		if orkes {
			scalars["item"] = items[i-1]
		}
	}
	return scalars
}

// iterationFailed is the error a permissive task inside a DO_WHILE
// iteration returns when it ends unsuccessfully with no retry left: the
// enclosing loop (execDoWhile) fails with its reason.
type iterationFailed struct {
	ref, reason string
	// next: the task's successor in the iteration was scheduled (or
	// needs none).
	next bool
	// rest: in a permissive or optional loop, the rest of the iteration
	// (loopbeside.go); broken: none (it went through a fork).
	rest   []restSegment
	broken bool
	// thrown: the successor's mapper throws (a DYNAMIC naming no task it
	// can run, a fork it cannot map): the decision ends the run with its
	// reason before the loop is judged (loopmap.go, mapperThrows).
	thrown error
	// terminated: the successor is a TERMINATE, executed in the decision
	// that fails the loop; then, when it fails, its failure. The next
	// decision ends the run (see execDoWhile). then, for a DO_WHILE
	// successor: its first task's mapper threw, which ends the run in that
	// decision once the loop has failed.
	terminated bool
	then       error
	// loops: the DO_WHILEs inside the judging one that this failure
	// failed already, innermost first (failNested); inner: the rests of
	// their iterations, to run beside when the run goes on.
	loops []*taskRecord
	inner []*loopRest
}

// resumedRest is the rest of the failed iteration of the DO_WHILE wt (its
// record at ref, found ended by a resumed run's replay; settled: what its
// outcome decides) when the run goes on past the loop: nil otherwise.
// Conductor's resumeWorkflow decides the run again, and the decider
// schedules the next task of every task of the iteration that ended
// (getNextTask, filterNextLoopOverTasks), the loop's status aside. So the
// iteration is replayed as such a rest runs (besideLoop): its ended tasks
// stand, a permissive task's failure goes on past it, and its unfinished
// or unscheduled tasks run, beside the tasks after the loop. A loop that
// failed inside another loop's failed iteration (failNested) is replayed so
// too. An iteration that had ended replays nothing.
func (r *runState) resumedRest(ctx context.Context, wt *WorkflowTask, ref, suffix string, settled error) *loopRest {
	if !r.resumed {
		return nil
	}
	var failed *iterationFailed
	switch {
	case settled == nil:
	case errors.As(settled, &failed) && enclosingLoop(ctx) == nil && ctx.Value(loopKey{}) != nil:
		// In the rest of the enclosing loop's failed iteration.
	default:
		return nil
	}
	rec := r.lookup(ref)
	if rec == nil {
		return nil
	}
	r.mu.Lock()
	status, n := rec.Status, rec.Iteration
	r.mu.Unlock()
	if n < 1 || (status != TaskFailed && status != TaskCompletedWithErrors) {
		return nil
	}
	return &loopRest{rest: []restSegment{{list: wt.LoopOver, suffix: suffix + "__" + strconv.Itoa(n), iter: n}}, loop: wt, resumed: true}
}

// enclosingLoop is the DO_WHILE whose iteration ctx runs in, while it
// judges that iteration: nil outside any loop, and in the rest of an
// iteration that failed its loop already (besideLoop, besideIter).
func enclosingLoop(ctx context.Context) *WorkflowTask {
	loop, _ := ctx.Value(loopKey{}).(*WorkflowTask)
	if loop == nil {
		return nil
	}
	if bi, _ := ctx.Value(besideIterKey{}).(*besideIter); bi != nil && bi.loop == loop && bi.loopFailed.Load() {
		return nil
	}
	return loop
}

// failNested fails rec, the DO_WHILE whose iteration failed (failed: its
// unsuccessful task), inside the iteration of a loop that judges it in the
// same decision. Conductor's DoWhile.execute of the enclosing loop walks
// every task under it of its iteration, at any depth: it fails on the same
// task, with the same reason, before the inner loop is executed (the outer
// one comes first in the run's tasks). Only the next decision's retry()
// walks the failed loops, outermost first (failLoops), so nothing is
// decided of the run here, and the successor of this loop is not mapped
// in this decision (getNextTask of the loop comes with that next one).
func (r *runState) failNested(ctx context.Context, rec *taskRecord, failed *iterationFailed) error {
	reason := r.sec.Excerpt(failed.reason+" ", maxReasonBytes)
	if err := r.transition(ctx, rec, TaskFailed, reason); err != nil {
		return err
	}
	failed.loops = append(failed.loops, rec)
	if len(failed.rest) > 0 {
		failed.inner = append(failed.inner, &loopRest{rest: failed.rest, loop: rec.wt})
	}
	// In the enclosing iteration, the failure is this loop's: its entry
	// ends with it, the tasks after it are that iteration's rest.
	failed.ref, failed.rest, failed.broken, failed.next = rec.Ref, nil, false, true
	return failed
}

// failLoops fails rec, the outermost DO_WHILE failed by its iteration
// (failed), and decides the run as the next decision's retry() does,
// walking the failed loops outermost first: the first that is neither
// optional nor permissive fails the run with its reason; an optional one
// is COMPLETED_WITH_ERRORS; a permissive one stays FAILED. nil when the
// run goes on.
func (r *runState) failLoops(ctx context.Context, rec *taskRecord, failed *iterationFailed) error {
	if err := r.failTask(ctx, rec, TaskFailed, failed.reason+" "); err != nil {
		return err
	}
	for k := len(failed.loops) - 1; k >= 0; k-- {
		l := failed.loops[k]
		switch {
		case l.wt.Optional:
			if err := r.transition(ctx, l, TaskCompletedWithErrors, l.Reason); err != nil {
				return err
			}
		case l.wt.Permissive:
		default:
			return r.afterFailure(ctx, l, TaskFailed, l.Reason)
		}
	}
	return nil
}

// loopKey is the context key of the DO_WHILE (its *WorkflowTask) whose
// iteration a task runs in.
type loopKey struct{}

// scheduleLoopSuccessor does what Conductor's decider does after a
// permissive task of a DO_WHILE iteration ended unsuccessfully (err, an
// *iterationFailed, from list[i]): DeciderService.decide schedules the
// task's successor in the iteration (getNextTask, filterNextLoopOverTasks)
// in the same decision in which DoWhile.execute fails the loop, and
// WorkflowExecutor.decide then executes the synchronous ones. The next
// decision fails the run (retry() of the loop), which cancels what was
// scheduled. The successor is mapped as its task mapper maps it
// (scheduleMapped, loopmap.go): a synchronous task runs, a SWITCH and a
// fork bring their first inner tasks, any other task is recorded as its
// mapper creates it (IN_PROGRESS or SCHEDULED), never started, and
// cancelled with the run. The successor is
// the next task of the failed task's list; for the last task of a SWITCH
// case it is the task after the SWITCH (the error goes up to that list),
// of a fork branch the JOIN (recorded already), of the iteration the loop
// itself (none).
//
// A permissive or optional loop does not fail the run: the rest of the
// iteration runs beside the tasks after the loop (loopbeside.go); the
// successor, when it is a task the decider maps alone, is recorded (a
// synchronous one executed) here, with the loop's failure. In a fork
// branch of such a loop's iteration (or once the loop has failed), the
// iteration goes on past the failed task as the run goes on past a
// permissive task (besideIter): goOn reports that list goes on at i+1.
func (r *runState) scheduleLoopSuccessor(ctx context.Context, err error, list []*WorkflowTask, i int, suffix string, iter int) (goOn bool) {
	var failed *iterationFailed
	if !errors.As(err, &failed) {
		return false
	}
	loop, _ := ctx.Value(loopKey{}).(*WorkflowTask)
	beside := loop != nil && (loop.Optional || loop.Permissive)
	bi := goesOn(ctx, loop)
	if beside && bi == nil {
		failed.addRest(list, i, suffix, iter)
	}
	if bi == nil && (failed.next || i+1 >= len(list)) {
		return false
	}
	failed.next = true
	if loop == nil {
		return false
	}
	if i+1 < len(list) {
		r.mapLoopSuccessor(ctx, failed, list, i, suffix, iter, beside)
	}
	if bi == nil {
		return false
	}
	return bi.fail(ctx, failed)
}

// mapLoopSuccessor maps list[i+1], the successor of the failed task
// list[i] (scheduleLoopSuccessor), recording in failed what its mapping
// decides of the run.
func (r *runState) mapLoopSuccessor(ctx context.Context, failed *iterationFailed, list []*WorkflowTask, i int, suffix string, iter int, beside bool) {
	if err := r.mapperThrows(ctx, list, i+1, suffix); err != nil {
		failed.thrown = err
		return
	}
	next := list[i+1]
	if beside && (mappedWithFirstTask[next.Type] || next.Type == TypeDoWhile) {
		return // it runs with the rest
	}
	// Inside a fork, the branch takes its turn once; the mapping is one
	// decision's and takes no other turns.
	if awaitTurn(ctx) != nil {
		return
	}
	mctx := context.WithValue(context.WithValue(ctx, branchKey{}, (*branchTurn)(nil)), mapOnlyKey{}, true)
	merr := r.scheduleMapped(mctx, list, i+1, suffix, iter)
	switch next.Type {
	case TypeTerminate:
		failed.terminated = true
		if rec := r.lookup(next.TaskReferenceName + suffix); rec == nil || rec.Status != TaskCompleted {
			failed.then = merr
		}
	case TypeDoWhile:
		// Its first task's mapper threw as DoWhile.execute scheduled it,
		// after the failed loop was judged in that decision.
		failed.then = merr
	}
}

// successorScheduled marks err's iteration failure (if any) as needing no
// successor, and leaving no rest to run beside (it went through a fork).
func successorScheduled(err error) {
	var failed *iterationFailed
	if errors.As(err, &failed) {
		failed.next = true
	}
	restBroken(err)
}

func (e *iterationFailed) Error() string {
	return "DO_WHILE iteration: task " + e.ref + " did not succeed"
}

// showLoopLocked shows the loop's output, as it stands, to expressions
// (env.go reads it through rec.loop). It is not written: the iteration's
// task records are, and the loop record is written whole when the loop
// ends. Callers hold r.mu.
func (r *runState) showLoopLocked(rec *taskRecord, ls *loopState) {
	rec.loop, rec.envDoc, rec.headDoc, rec.outIdx = ls, nil, nil, nil
}

// iterationOutputs is the loop-output entry of the iteration with suffix
// iterSfx ({taskRef: output} of its tasks, as bytes) and, when decode is
// set, the same decoded for loopCondition. With upTo (an exact ref) the
// entry ends with that task, as DoWhile.execute stops at the iteration's
// first unsuccessful task (its successor may have a record).
func (r *runState) iterationOutputs(wt *WorkflowTask, iterSfx string, decode bool, upTo string) ([]byte, map[string]any) {
	return r.iterationEntry(wt, iterSfx, decode, upTo, nil)
}

// iterationEntry is iterationOutputs that has the outputs of the tasks
// blank names (exact refs) empty; with blank the members come in the order
// they were scheduled, as with upTo.
func (r *runState) iterationEntry(wt *WorkflowTask, iterSfx string, decode bool, upTo string, blank map[string]bool) ([]byte, map[string]any) {
	var outs map[string]any
	if decode {
		outs = map[string]any{}
	}
	entry := []byte{'{'}
	r.mu.Lock()
	defer r.mu.Unlock()
	type member struct {
		name string
		tr   *taskRecord
	}
	var members []member
	walkTasks(wt.LoopOver, func(t *WorkflowTask) {
		if tr := r.byRef[t.TaskReferenceName+iterSfx]; tr != nil {
			members = append(members, member{t.TaskReferenceName, tr})
		}
	})
	if upTo != "" || blank != nil {
		// DoWhile.execute walks the iteration's tasks in the order they
		// were scheduled (a task's first attempt's place) and stops after
		// the first unsuccessful one: in a fork, the other branches'
		// tasks and the JOIN scheduled before it are in the entry.
		first := map[string]int{}
		for _, t := range r.tasks {
			if _, ok := first[t.Ref]; !ok {
				first[t.Ref] = t.Seq
			}
		}
		sort.SliceStable(members, func(a, b int) bool { return first[members[a].tr.Ref] < first[members[b].tr.Ref] })
		for k, m := range members {
			if m.tr.Ref == upTo {
				members = members[:k+1]
				break
			}
		}
	}
	for _, m := range members {
		t, tr := m, m.tr
		if len(entry) > 1 {
			entry = append(entry, ',')
		}
		entry = append(entry, marshalOr(t.name, `""`)...)
		entry = append(entry, ':')
		out := orEmpty(tr.outMem)
		if blank[tr.Ref] {
			out = []byte("{}")
		}
		entry = append(entry, out...)
		if decode {
			var o any
			_ = json.Unmarshal(out, &o)
			outs[t.name] = o
		}
	}
	return append(entry, '}'), outs
}

// endingPassEntry is the entry of the iteration with suffix iterSfx that
// the loop's output keeps when a task the decider executes (INLINE,
// LAMBDA, JSON_JQ_TRANSFORM, SET_VARIABLE, TERMINATE) ends the run in it,
// in the iteration's last pass: Conductor's DoWhile.execute ran in that
// decision's pass before the pass's synchronous tasks were executed (the
// loop comes first among the pass's tasks), and the run ends in the same
// decide with the loop cancelled as it stood then (cancelNonTerminalTasks,
// from terminate or endExecution) — its entry the iteration's tasks, those
// the pass scheduled with no output yet: the one that ended the run and,
// in a fork, the other branches' synchronous tasks of that pass, executed
// after the loop whatever their place. A task that ends the run in a
// decision of its own (a worker's, a timer's, a child run's) leaves the
// loop's output as it was when the iteration began: no entry (ok false).
func (r *runState) endingPassEntry(wt *WorkflowTask, iterSfx string) ([]byte, bool) {
	names := map[string]bool{}
	walkTasks(wt.LoopOver, func(t *WorkflowTask) { names[t.TaskReferenceName] = true })
	r.mu.Lock()
	var last *taskRecord
	var recs []*taskRecord
	for _, t := range r.tasks {
		if names[t.BaseRef] && t.Ref == t.BaseRef+iterSfx {
			recs = append(recs, t)
			if last == nil || t.Seq > last.Seq {
				last = t
			}
		}
	}
	// The last pass: the last record's (its fork's round), or that record
	// alone outside a fork.
	blank := map[string]bool{}
	ended := false
	for _, t := range recs {
		if t != last && (last.passes == nil || t.passes != last.passes || t.passRound != last.passRound) {
			continue
		}
		if t.wt == nil || !executedByDecider[t.wt.Type] {
			continue
		}
		blank[t.Ref] = true
		if t.wt.Type != TypeDoWhile && (terminalTask(t.Status) && !successfulTask(t.Status) || t.wt.Type == TypeTerminate) {
			ended = true
		}
	}
	r.mu.Unlock()
	if !ended {
		return nil, false
	}
	entry, _ := r.iterationEntry(wt, iterSfx, false, "", blank)
	return entry, true
}

// loopIteration returns N when ref is a loop task's ref of the loop with
// suffix in iteration N (name + suffix + "__N", possibly followed by an
// inner loop's "__M").
func loopIteration(ref, suffix string, names map[string]bool) (int, bool) {
	base := baseRef(ref)
	if !names[base] {
		return 0, false
	}
	rest, ok := strings.CutPrefix(ref, base+suffix+"__")
	if !ok {
		return 0, false
	}
	if j := strings.Index(rest, "__"); j >= 0 {
		rest = rest[:j]
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 1
}

// resumeLoop rebuilds, for a loop that ran before this process, the output
// entries of the iterations that ended and returns the iteration to go on
// with (1 for a new loop). The last iteration with records is replayed: its
// completed tasks are skipped, the rest run.
func (r *runState) resumeLoop(rec *taskRecord, suffix string, names map[string]bool, ls *loopState, view *loopView) int {
	r.mu.Lock()
	if !r.resumed {
		// Started by this process: no iteration ran before.
		r.mu.Unlock()
		return 1
	}
	last := 0
	seen := map[int]bool{}
	for _, t := range r.tasks {
		if n, ok := loopIteration(t.Ref, suffix, names); ok {
			seen[n] = true
			last = max(last, n)
		}
	}
	// A loop persisted by an earlier version recorded its iteration.
	var prev struct {
		Iteration int `json:"iteration"`
	}
	if json.Unmarshal(rec.outMem, &prev) == nil && prev.Iteration > last {
		last = prev.Iteration
	}
	r.mu.Unlock()
	if last == 0 {
		return 1
	}
	var its []int
	for n := range seen {
		if n < last {
			its = append(its, n)
		}
	}
	sort.Ints(its)
	for _, n := range its {
		wt := rec.wt
		entry, outs := r.iterationOutputs(wt, suffix+"__"+strconv.Itoa(n), view != nil, "")
		ls.add(n, entry)
		if view != nil {
			view.add(n, outs)
		}
	}
	return last
}

// dropIteration forgets the task records of iteration n of a loop
// (keepLastN): from memory now, from the store with the next write. seqFrom
// bounds the search: records of iteration n have a seq below it.
func (r *runState) dropIteration(suffix string, n int, names map[string]bool, seqFrom int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropLocked(func(t *taskRecord) bool {
		if t.Seq > seqFrom {
			return false
		}
		it, ok := loopIteration(t.Ref, suffix, names)
		return ok && it == n
	})
}

// reopenOnRetryLocked is what Conductor's retry does to a cancelled DO_WHILE
// or JOIN and to an ended JOIN or EXCLUSIVE_JOIN: the record itself goes
// back to IN_PROGRESS (no retried copy), and the replay resumes it like the
// unfinished record of a previous process.
// It reports whether t was reopened. Callers hold r.mu.
func (r *runState) reopenOnRetryLocked(t *taskRecord) bool {
	joins := t.TaskType == TypeJoin || t.TaskType == TypeExclusiveJoin
	switch {
	case t.Status == TaskCanceled && (t.TaskType == TypeDoWhile || t.TaskType == TypeJoin):
	case t.Status == TaskFailed && joins && r.joinOnFailedPermissiveLocked(t):
	case (t.Status == TaskCanceled || t.Status == TaskFailed || t.Status == TaskFailedTerminal || t.Status == TaskTimedOut) && joins:
		// Any other ended join is retried in place too, its retryCount
		// moving on.
		t.RetryCount++
	default:
		return false
	}
	t.Status, t.Reason, t.End = TaskInProgress, "", 0
	r.touchLocked(t)
	return true
}

// joinOnFailedPermissiveLocked: a task the join waits on is permissive, not
// optional, and FAILED (Conductor's retry reopens such a join as it is).
func (r *runState) joinOnFailedPermissiveLocked(join *taskRecord) bool {
	var in struct {
		JoinOn []string `json:"joinOn"`
	}
	_ = json.Unmarshal(join.inMem, &in)
	suffix := strings.TrimPrefix(join.Ref, join.BaseRef)
	// The latest record of each ref (r.byRef is being rebuilt).
	latest := map[string]*taskRecord{}
	for _, t := range r.tasks {
		latest[t.Ref] = t
	}
	for _, ref := range in.JoinOn {
		if t := latest[ref+suffix]; t != nil && t.wt != nil && t.wt.Permissive && !t.wt.Optional && t.Status == TaskFailed {
			return true
		}
	}
	return false
}
