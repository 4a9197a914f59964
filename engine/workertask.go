package engine

// IsWorkerTask reports whether a run's task of taskType and taskDefName
// (as its record shows them) is a worker task: a SIMPLE task, handed to
// the workers that poll its name. A SIMPLE task's record carries its name
// as its type (as Conductor's does); every other task's record carries its
// type, which a control type or a leaf type of the engine's registry names.
// A SIMPLE task named as such a type is not told apart from one of it and
// is not reported.
func (e *Engine) IsWorkerTask(taskType, taskDefName string) bool {
	if taskType == "" || taskType != taskDefName || controlTypes[taskType] || taskType == TypeFork {
		return false
	}
	_, leaf := e.registry.Lookup(taskType)
	return !leaf
}
