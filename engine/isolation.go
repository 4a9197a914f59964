package engine

// Conductor's mappers copy some of a task definition's settings onto the
// tasks they schedule, each mapper its own set:
//
//   - isolationGroupId to the tasks of some system types, and
//     executionNameSpace to fewer (HTTPTaskMapper and KafkaPublishTaskMapper
//     copy both; ForkJoinTaskMapper, InlineTaskMapper, JoinTaskMapper,
//     JsonJQTransformTaskMapper and WaitTaskMapper the isolation group only;
//     the others, SimpleTaskMapper included, neither);
//   - rateLimitPerFrequency and rateLimitFrequencyInSeconds (TaskDef's
//     getters: 0 and 1 when absent) to SIMPLE and DO_WHILE tasks (a
//     default TaskDef when none is registered) and to HTTP and
//     KAFKA_PUBLISH tasks that have a definition (a task of the run's
//     definition always has one: the ad-hoc one when none is registered,
//     adHocTaskDef);
//   - responseTimeoutSeconds to SIMPLE tasks (3600 without a definition).
//
// DynamicTaskMapper copies the responseTimeoutSeconds of the DYNAMIC
// task's definition alone, whatever the type of the task it maps.
//
// wfrun records them on the same task records, from the same definition
// (the task's inline taskDefinition, else the one registered for its
// name, else the ad-hoc one), so clients read them where Conductor shows them. Nothing in wfrun
// routes by the isolation group or namespace; the limits themselves are
// enforced from the definition (limits.go).

// isolate records the definition settings wt's mapper copies to rec.
// given is wt's policy when the caller has it (nil: looked up).
func (r *runState) isolate(rec *taskRecord, wt *WorkflowTask, given *taskPolicy) {
	if wt.dynamicOf != nil {
		rec.ResponseTimeoutSeconds = remoteResponseTimeout(r.policyOr(given, wt))
		return
	}
	both, groupOnly, limits := false, false, false
	switch wt.Type {
	case "HTTP", "KAFKA_PUBLISH":
		both, limits = true, true
	case TypeForkJoin, TypeJoin, TypeWait, "INLINE", "JSON_JQ_TRANSFORM":
		groupOnly = true
	case TypeSimple, TypeDoWhile:
		limits = true
	default:
		return
	}
	pol := r.policyOr(given, wt)
	if limits && (pol.hasDef() || wt.Type != "HTTP" && wt.Type != "KAFKA_PUBLISH") {
		rec.RateLimitPerFrequency, rec.RateLimitFrequencyInSeconds = pol.ratePerFreq, pol.rateFreqSeconds
		if !pol.hasDef() {
			rec.RateLimitFrequencyInSeconds = 1 // a default TaskDef's
		}
	}
	if wt.Type == TypeSimple {
		rec.ResponseTimeoutSeconds = remoteResponseTimeout(pol)
	}
	if !both && !groupOnly {
		return
	}
	rec.IsolationGroupID = pol.isolationGroup
	if both {
		rec.ExecutionNameSpace = pol.executionNS
	}
}
