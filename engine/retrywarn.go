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
