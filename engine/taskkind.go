package engine

import "github.com/wfrun/wfrun/tasks"

// TaskKind says what moves a task of a run on: a worker, the decision that
// scheduled it, the engine after that decision, or the outside world.
type TaskKind int

// Task kinds.
const (
	// KindWorker: a worker polls it (a SIMPLE task, IsWorkerTask).
	KindWorker TaskKind = iota
	// KindDecided: Conductor's decider executes (or resolves) it within
	// the decision that schedules it — SWITCH, DECISION, the forks,
	// DYNAMIC, SET_VARIABLE, TERMINATE, INLINE, LAMBDA,
	// JSON_JQ_TRANSFORM, NOOP, EXCLUSIVE_JOIN: while one is unfinished the
	// decision is still going on.
	KindDecided
	// KindSystem: the engine runs it after the decision that scheduled it
	// (HTTP, HTTP_POLL, EVENT, JOIN, DO_WHILE, START_WORKFLOW,
	// UPDATE_SECRET, any other type of the registry), without anyone
	// outside.
	KindSystem
	// KindOutside: it waits for the outside world: a WAIT or HUMAN task's
	// completion, a SUB_WORKFLOW's child run.
	KindOutside
)

// decidedTypes are the KindDecided types, as task records carry them.
var decidedTypes = map[string]bool{
	TypeSwitch: true, TypeDecision: true, TypeForkJoin: true, TypeFork: true, TypeForkJoinDynamic: true,
	TypeDynamic: true, TypeSetVariable: true, TypeTerminate: true, TypeLambda: true, TypeExclusiveJoin: true,
	tasks.TypeInline: true, tasks.TypeJSONJQTransform: true, tasks.TypeNoop: true,
}

// TaskKind is the kind of a run's task of taskType and taskDefName (as its
// record shows them). The one place that says which task types the engine
// runs itself: a new type is a system task unless it is listed here.
func (e *Engine) TaskKind(taskType, taskDefName string) TaskKind {
	switch {
	case e.IsWorkerTask(taskType, taskDefName):
		return KindWorker
	case decidedTypes[taskType]:
		return KindDecided
	case taskType == TypeWait || taskType == TypeHuman || taskType == TypeSubWorkflow:
		return KindOutside
	}
	return KindSystem
}
