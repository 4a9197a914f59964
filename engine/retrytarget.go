package engine

// failedSubWorkflowToResume is where a retry with resumeSubworkflowTasks
// goes down from run d, as Conductor's findLastFailedSubWorkflowIfAny
// does: the child of d's first unsuccessful task when that task is a
// SUB_WORKFLOW; when it is a DO_WHILE (a loop whose iteration failed ends
// unsuccessful before the tasks of its iterations in the list), the child
// of d's first unsuccessful SUB_WORKFLOW task. "" when there is none.
func failedSubWorkflowToResume(d *runDoc) string {
	for i := range d.Tasks {
		t := &d.Tasks[i]
		if !terminalTask(t.Status) || successfulTask(t.Status) {
			continue
		}
		switch t.TaskType {
		case TypeSubWorkflow:
			return t.SubWorkflowID
		case TypeDoWhile:
			// The tasks before i all ended successfully or are still
			// open: the search starts after it.
			for j := i + 1; j < len(d.Tasks); j++ {
				s := &d.Tasks[j]
				if s.TaskType == TypeSubWorkflow && s.SubWorkflowID != "" && terminalTask(s.Status) && !successfulTask(s.Status) {
					return s.SubWorkflowID
				}
			}
		}
		return ""
	}
	return ""
}
