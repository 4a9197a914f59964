package engine

import (
	"errors"
	"slices"
	"strings"
)

// A run pins the children its SUB_WORKFLOW tasks name without a version
// when it starts, as Conductor's MetadataMapperService does in
// populateTaskDefinitions (WorkflowExecutor.startWorkflow): every
// SUB_WORKFLOW task of the definition (in decision cases, fork branches
// and loops too, not in an inline child definition, which its own start
// pins) whose subWorkflowParam has no version gets the latest version of
// its name as it is then, and the start is refused when the name has no
// definition. A version registered later changes nothing for that run: its
// tasks start the pinned version, and so do its retries, reruns and
// restarts, which run the definition the run keeps; a restart with the
// latest definitions pins again. A version given as 0 is not pinned: the
// child is the latest when the task starts (SubWorkflow.start reads 0 as
// none). A name given by an expression is not pinned either (wfrun looks
// it up when the task is mapped, failing the run then if it has no
// definition, subWorkflowMapperThrows; Conductor would look the
// expression's text up as a name at the start), nor a version given by
// one, nor a task made at run time (a dynamic fork's), which the mapper
// looks up. The pins are kept with the run's task definitions
// (taskdefsnap.go), written when those are.

// pinnable: wt is a SUB_WORKFLOW task the run's start pins: a static name,
// no version, no inline definition.
func pinnable(wt *WorkflowTask) bool {
	p := wt.SubWorkflowParam
	return wt.Type == TypeSubWorkflow && p != nil && !p.versionGiven && p.VersionExpr == "" && wt.subDef == nil &&
		strings.TrimSpace(p.Name) != "" && !strings.Contains(p.Name, "${")
}

// pinSubWorkflows returns the latest version of each name the run's
// definition pins (pinnable), or the refusal of the start for a name
// without a definition (the first of them in name order).
func (r *runState) pinSubWorkflows() (map[string]int, error) {
	pins := map[string]int{}
	var missing []string
	var err error
	find := r.e.definitionsLookup() // one look at the directory for every name
	walkTasks(r.def.Tasks, func(wt *WorkflowTask) {
		if err != nil || !pinnable(wt) {
			return
		}
		name := wt.SubWorkflowParam.Name
		if _, done := pins[name]; done || slices.Contains(missing, name) {
			return
		}
		def, ferr := find(name, 0)
		switch {
		case errors.Is(ferr, ErrDefinitionNotFound):
			missing = append(missing, name)
		case ferr != nil:
			err = ferr
		default:
			pins[name] = def.Version
		}
	})
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, &noSubWorkflowDef{name: missing[0]}
	}
	return pins, nil
}

// pinnedVersion is the version the run pinned for wt, a task of its
// definition it pins (ok false: none, as for a run stored by a wfrun
// that did not pin).
func (r *runState) pinnedVersion(wt *WorkflowTask) (int, bool) {
	if r.subPins == nil || !pinnable(wt) || !r.ownsTask(wt) {
		return 0, false
	}
	v, ok := r.subPins[wt.SubWorkflowParam.Name]
	return v, ok
}

// noSubWorkflowDef refuses a run's start: a SUB_WORKFLOW task of its
// definition names, without a version, a workflow that has no
// definition (MetadataMapperService's TerminateWorkflowException, in its
// words). A SUB_WORKFLOW task whose child's start is refused so fails
// (FAILED, retried as its definition says), as SubWorkflow.start fails
// its task with the start's error.
type noSubWorkflowDef struct{ name string }

func (n *noSubWorkflowDef) Error() string { return noSubWorkflowDefinition(n.name) }

func (n *noSubWorkflowDef) Unwrap() error { return ErrDefinitionNotFound }
