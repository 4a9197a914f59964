package engine

import "sort"

// UnretriedTasks lists, in document order, the tasks whose own retryCount
// asks for retries that will not happen: as in Conductor, only a task with a
// task definition (an inline taskDefinition, or one src holds under the
// task's name) is ever retried, and the control-flow operators never are.
// A caller shows them as warnings, so a retryCount written without a task
// definition is not silently ignored. src may be nil (no registry).
func (d *Definition) UnretriedTasks(src TaskDefSource) []*WorkflowTask {
	var out []*WorkflowTask
	for _, t := range d.refs {
		if t.RetryCount == nil || *t.RetryCount <= 0 || builtIn(t.Type) || t.TaskDefinition != nil {
			continue
		}
		if src != nil {
			if _, ok := src.TaskDef(t.Name); ok {
				continue
			}
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return pointerLess(out[i].loc, out[j].loc) })
	return out
}

// UnjoinedForks lists, in document order, the FORK_JOIN and
// FORK_JOIN_DYNAMIC tasks not followed by a JOIN in their list. Conductor
// registers and starts such a definition and fails the run when it reaches
// the fork ("… is not followed by a join task"), and so does wfrun; a
// caller shows them as warnings before a run.
func (d *Definition) UnjoinedForks() []*WorkflowTask {
	var out []*WorkflowTask
	var walk func(list []*WorkflowTask)
	walk = func(list []*WorkflowTask) {
		for i, t := range list {
			if t == nil {
				continue
			}
			if (t.Type == TypeForkJoin || t.Type == TypeForkJoinDynamic) && unjoined(list, i) {
				out = append(out, t)
			}
			for _, c := range t.DecisionCases {
				walk(c)
			}
			walk(t.DefaultCase)
			for _, b := range t.ForkTasks {
				walk(b)
			}
			walk(t.LoopOver)
		}
	}
	walk(d.Tasks)
	return out
}

// unjoined reports whether list[i] is not followed by a JOIN.
func unjoined(list []*WorkflowTask, i int) bool {
	return i+1 >= len(list) || list[i+1] == nil || list[i+1].Type != TypeJoin
}

// UnknownReferences lists the references to tasks the definition does not
// hold where Conductor accepts them — in a nested task (a SWITCH case, a
// fork branch, a DO_WHILE), the outputParameters, an inline sub-workflow —
// each with its location: a run resolves them to null (a task a dynamic
// fork adds at run time is the one way to make one name something). In a
// top-level task's inputParameters such a reference is invalid, as there.
func (d *Definition) UnknownReferences() []Problem {
	out := append([]Problem(nil), d.unknownRefs...)
	walkTasks(d.Tasks, func(t *WorkflowTask) {
		if t.subDef != nil {
			out = append(out, t.subDef.UnknownReferences()...)
		}
	})
	return out
}
