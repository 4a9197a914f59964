package engine

import (
	"errors"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
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
// none). A name given by an expression is looked up as it is written, as
// Conductor does: the start is refused unless a definition has that very
// name, whose latest version the task then starts under the name the
// expression gives (SubWorkflowTaskMapper resolves the name and keeps the
// version). A version given by an expression is not pinned, nor a task
// made at run time (a dynamic fork's), which the mapper looks up
// (subWorkflowMapperThrows). The pins are kept with the run's task
// definitions (taskdefsnap.go), written when those are.

// pinnable: wt is a SUB_WORKFLOW task the run's start pins: a name, no
// version, no inline definition.
func pinnable(wt *WorkflowTask) bool {
	p := wt.SubWorkflowParam
	return wt.Type == TypeSubWorkflow && p != nil && !p.versionGiven && p.VersionExpr == "" && wt.subDef == nil &&
		strings.TrimSpace(p.Name) != ""
}

// pinSubWorkflows returns the latest version of each name the run's
// definition pins (pinnable), or the refusal of the start at the first
// task, in the order Conductor's WorkflowDef.collectTasks lists them
// (collectTasks), whose name has no definition.
func (r *runState) pinSubWorkflows() (map[string]int, error) {
	pins := map[string]int{}
	var err error
	find := r.e.definitionsLookup() // one look at the directory for every name
	collectTasks(r.def.Tasks, func(wt *WorkflowTask) bool {
		if !pinnable(wt) {
			return true
		}
		name := wt.SubWorkflowParam.Name
		if _, done := pins[name]; done {
			return true
		}
		def, ferr := find(name, 0)
		switch {
		case errors.Is(ferr, ErrDefinitionNotFound):
			err = &noSubWorkflowDef{name: name}
		case ferr != nil:
			err = ferr
		default:
			pins[name] = def.Version
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return pins, nil
}

// collectTasks calls fn with the tasks of list and those nested in them
// in the order of Conductor's WorkflowDef.collectTasks, until fn returns
// false: each task, then the tasks of its children (WorkflowTask.children)
// — a DECISION's or SWITCH's cases in the order the definition writes
// them, then its default case; a FORK_JOIN's branches in order; a
// DO_WHILE's loopOver — before the next task. Tasks of other types have
// no children there, whatever lists they hold.
func collectTasks(list []*WorkflowTask, fn func(*WorkflowTask) bool) bool {
	for _, t := range list {
		if t == nil {
			continue
		}
		if !fn(t) {
			return false
		}
		var children [][]*WorkflowTask
		switch t.Type {
		case TypeDecision, TypeSwitch:
			for _, k := range caseOrder(t) {
				children = append(children, t.DecisionCases[k])
			}
			children = append(children, t.DefaultCase)
		case TypeForkJoin:
			children = t.ForkTasks
		case TypeDoWhile:
			children = [][]*WorkflowTask{t.LoopOver}
		}
		for _, c := range children {
			if !collectTasks(c, fn) {
				return false
			}
		}
	}
	return true
}

// caseOrder is the keys of t's decision cases in the order its JSON
// writes them (the order of Conductor's LinkedHashMap: a key given twice
// where it is first), or sorted for a task not read from JSON.
func caseOrder(t *WorkflowTask) []string {
	keys := make([]string, 0, len(t.DecisionCases))
	if len(t.raw) > 0 {
		seen := map[string]bool{}
		gjson.GetBytes(t.raw, "decisionCases").ForEach(func(k, _ gjson.Result) bool {
			if key := k.String(); !seen[key] {
				if _, ok := t.DecisionCases[key]; ok {
					seen[key] = true
					keys = append(keys, key)
				}
			}
			return true
		})
	}
	if len(keys) != len(t.DecisionCases) {
		keys = keys[:0]
		for k := range t.DecisionCases {
			keys = append(keys, k)
		}
		slices.Sort(keys)
	}
	return keys
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
