package engine

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/wfrun/wfrun/tasks"
)

// exclusiveJoinInput is an EXCLUSIVE_JOIN record's inputData, as
// Conductor's mapper writes it: joinOn, and defaultExclusiveJoinTask when
// the task has one.
func exclusiveJoinInput(wt *WorkflowTask) []byte {
	in := map[string]any{"joinOn": orEmptyList(wt.JoinOn)}
	if wt.DefaultExclusiveJoinTask != nil {
		in["defaultExclusiveJoinTask"] = wt.DefaultExclusiveJoinTask
	}
	b, _ := json.Marshal(in)
	return b
}

// exclusiveJoinOutcome is what an EXCLUSIVE_JOIN decides from the records
// it reads; decided false means it waits.
type exclusiveJoinOutcome struct {
	decided bool
	failed  bool
	reason  string
	output  json.RawMessage
}

// exclusiveJoin completes with the output of the task it joins, as
// Conductor's ExclusiveJoin decides it. The first task of joinOn (refs of
// this iteration inside a DO_WHILE) that was scheduled and not skipped is
// the candidate; if it has not ended, or none ran, the first such task of
// defaultExclusiveJoinTask (exact refs) is. A candidate that ended
// unsuccessfully fails the join with its reason (a permissive joinOn task
// only once every joinOn task has ended). Until a candidate has ended the
// join waits, re-reading the run's records.
func (r *runState) exclusiveJoin(ctx context.Context, wt *WorkflowTask, rec *taskRecord) tasks.Result {
	suffix := strings.TrimPrefix(rec.Ref, wt.TaskReferenceName)
	var tick *time.Ticker
	for {
		o := r.exclusiveJoinDecide(wt, suffix)
		if o.failed {
			return tasks.Result{Status: tasks.Failed, Reason: o.reason}
		}
		if o.decided {
			out := o.output
			if len(out) == 0 {
				out = json.RawMessage("{}")
			}
			return tasks.Result{Status: tasks.Completed, Output: out}
		}
		if tick == nil {
			r.emit(Event{Kind: EventWaiting, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskInProgress,
				Reason: "EXCLUSIVE_JOIN waits for one of " + strings.Join(append(append([]string{}, wt.JoinOn...), wt.DefaultExclusiveJoinTask...), ", ")})
			tick = time.NewTicker(r.e.pollInterval)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return tasks.Result{Status: tasks.Failed, Reason: ctx.Err().Error()}
		case <-tick.C:
		}
	}
}

func (r *runState) exclusiveJoinDecide(wt *WorkflowTask, suffix string) exclusiveJoinOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	var o exclusiveJoinOutcome
	for _, ref := range wt.JoinOn {
		t := r.byRef[ref+suffix]
		if t == nil || t.Status == TaskSkipped {
			continue
		}
		o.decided = terminalTask(t.Status)
		if !successfulTask(t.Status) && o.decided && (t.wt == nil || !t.wt.Permissive || r.allEndedLocked(wt.JoinOn, suffix)) {
			var reasons []string
			for _, j := range wt.JoinOn {
				if x := r.byRef[j+suffix]; x != nil && terminalTask(x.Status) && !successfulTask(x.Status) {
					reasons = append(reasons, x.Reason)
				}
			}
			o.failed, o.reason = true, strings.Join(reasons, " ")
		}
		o.output = t.outMem
		break
	}
	if o.decided || o.failed {
		return o
	}
	for _, ref := range wt.DefaultExclusiveJoinTask {
		t := r.byRef[ref]
		if t == nil || t.Status == TaskSkipped {
			continue
		}
		o.decided = terminalTask(t.Status)
		if o.decided && !successfulTask(t.Status) {
			o.failed, o.reason = true, t.Reason+" "
		}
		o.output = t.outMem
		break
	}
	return o
}

// allEndedLocked: every ref (of this iteration) was scheduled and has ended.
func (r *runState) allEndedLocked(refs []string, suffix string) bool {
	for _, ref := range refs {
		if t := r.byRef[ref+suffix]; t == nil || !terminalTask(t.Status) {
			return false
		}
	}
	return true
}

// exclusiveJoin checks an EXCLUSIVE_JOIN's configuration: something to join
// on, and only refs of the definition's tasks.
func (v *validator) exclusiveJoin(t *WorkflowTask) {
	if len(t.JoinOn) == 0 && len(t.DefaultExclusiveJoinTask) == 0 {
		v.add(t.loc+"/joinOn", "EXCLUSIVE_JOIN needs joinOn or defaultExclusiveJoinTask (the refs of the tasks it may join)")
	}
	for i, ref := range t.JoinOn {
		if _, ok := v.refs[ref]; !ok {
			v.add(t.loc+"/joinOn/"+itoa(i), "EXCLUSIVE_JOIN waits on unknown task %q", ref)
		}
	}
	for i, ref := range t.DefaultExclusiveJoinTask {
		if _, ok := v.refs[ref]; !ok {
			v.add(t.loc+"/defaultExclusiveJoinTask/"+itoa(i), "EXCLUSIVE_JOIN defaults to unknown task %q", ref)
		}
	}
}
