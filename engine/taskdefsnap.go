package engine

import (
	"encoding/json"
	"fmt"
)

// A run keeps the task definitions it started with, as Conductor does: its
// start embeds each task's definition in the WorkflowDef stored with the
// workflow (MetadataMapperService.populateTaskDefinitions), and a restart
// without useLatestDefinitions runs that stored WorkflowDef again, while
// useLatestDefinitions populates the latest WorkflowDef with the task
// definitions registered now. wfrun's run keeps, sealed in its head (bound
// to the run, so an edited or copied snapshot fails to open), the
// registered definition of every task name of its definition, or null for
// a name none was registered for; the run's tasks take their settings from
// there. A name the definition does not hold (a DYNAMIC or
// FORK_JOIN_DYNAMIC task's) is looked up when the task is scheduled, as
// Conductor's mappers do. A run stored by an older wfrun has no snapshot:
// it keeps taking the registry's current definitions, as it always did.

// taskDefsPointer binds a run's sealed task definitions.
const taskDefsPointer = "/taskDefs"

// snapshotTaskDefs records the registered definitions of the run
// definition's task names as they are now. Without a registry there is
// nothing to record.
func (r *runState) snapshotTaskDefs() error {
	if r.e.taskDefs == nil {
		return nil
	}
	snap := map[string]*TaskDef{}
	walkTasks(r.def.Tasks, func(wt *WorkflowTask) {
		if wt.Name == "" || wt.TaskDefinition != nil {
			return // an inline taskDefinition is in the definition itself
		}
		if _, seen := snap[wt.Name]; seen {
			return
		}
		snap[wt.Name] = nil
		if d, ok := r.e.taskDefs.TaskDef(wt.Name); ok && d != nil {
			snap[wt.Name] = d
		}
	})
	plain, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("task definitions: %w", err)
	}
	sealed, err := r.sec.Seal(plain, taskDefsPointer)
	if err != nil {
		return err
	}
	return r.keepTaskDefs(sealed, plain)
}

// openTaskDefs restores a stored run's snapshot: authenticated, bound to
// this run.
func (r *runState) openTaskDefs(sealed string) error {
	plain, err := r.sec.Open(sealed, taskDefsPointer)
	if err != nil {
		return fmt.Errorf("taskDefs: %w", err)
	}
	return r.keepTaskDefs(sealed, plain)
}

func (r *runState) keepTaskDefs(sealed string, plain []byte) error {
	var snap map[string]*TaskDef
	if err := json.Unmarshal(plain, &snap); err != nil || snap == nil {
		return fmt.Errorf("taskDefs: damaged")
	}
	for name, d := range snap {
		if d == nil {
			continue
		}
		if err := d.Validate(); err != nil {
			return fmt.Errorf("taskDefs: %s: %w", name, err)
		}
	}
	r.mu.Lock()
	r.doc.TaskDefs, r.taskDefSnap = sealed, snap
	r.mu.Unlock()
	return nil
}

// policy is wt's effective settings for this run: from the run's snapshot
// for a name it holds, else as Engine.policy finds them. The snapshot is
// set before the run executes (when it is created, loaded or prepared for
// a restart) and only read while it does: no lock.
func (r *runState) policy(wt *WorkflowTask) taskPolicy {
	if wt.TaskDefinition == nil && r.taskDefSnap != nil {
		if td, held := r.taskDefSnap[wt.Name]; held {
			return policyOf(wt, td)
		}
	}
	return r.e.policy(wt)
}
