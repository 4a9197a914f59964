package engine

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
