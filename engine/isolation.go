package engine

// Conductor's mappers copy a task definition's isolationGroupId to the
// tasks of some system types as they schedule them, and its
// executionNameSpace to fewer (HTTPTaskMapper and KafkaPublishTaskMapper
// copy both; ForkJoinTaskMapper, InlineTaskMapper, JoinTaskMapper,
// JsonJQTransformTaskMapper and WaitTaskMapper the isolation group only;
// the others, SimpleTaskMapper included, neither). wfrun records them on
// the same task records, from the same definition (the task's inline
// taskDefinition, else the one registered for its name), so clients read
// them where Conductor shows them; nothing in wfrun routes by them.

// isolate records the isolation group and namespace wt's definition gives
// rec, for the types Conductor's mappers record them on.
func (r *runState) isolate(rec *taskRecord, wt *WorkflowTask) {
	both, groupOnly := false, false
	switch wt.Type {
	case "HTTP", "KAFKA_PUBLISH":
		both = true
	case TypeForkJoin, TypeJoin, TypeWait, "INLINE", "JSON_JQ_TRANSFORM":
		groupOnly = true
	}
	if !both && !groupOnly {
		return
	}
	pol := r.policy(wt)
	rec.IsolationGroupID = pol.isolationGroup
	if both {
		rec.ExecutionNameSpace = pol.executionNS
	}
}
