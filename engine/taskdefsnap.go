package engine

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/internal/jsonenc"
)

// A run keeps the task definitions it started with, as Conductor does: its
// start embeds each task's definition in the WorkflowDef stored with the
// workflow (MetadataMapperService.populateTaskDefinitions), and a restart
// without useLatestDefinitions runs that stored WorkflowDef again, while
// useLatestDefinitions populates the latest WorkflowDef with the task
// definitions registered now. wfrun's run keeps, sealed (bound to the run,
// so an edited or copied snapshot fails to open), the registered
// definition of each task name of its definition that has one; the run's
// tasks take their settings from there, and a name of the definition none
// was registered for keeps having none (the names are the definition's, so
// they are found again when the run is loaded rather than stored). A name
// the definition does not hold (a FORK_JOIN_DYNAMIC's task, the task a
// DYNAMIC task of one resolves) is looked up when the task is mapped, as
// Conductor's mappers do, and the snapshot holds it from then on
// (holdMapped, "none" included): ForkJoinDynamicTaskMapper and
// DynamicTaskMapper copy the definition onto the WorkflowTask stored with
// the task, so a definition registered or changed later applies neither
// to the task's retries and timeouts nor to its record. A run stored by an
// older wfrun has no snapshot: it keeps taking the registry's current
// definitions, as it always did.
//
// The same snapshot holds the versions the run's start pinned its
// version-less SUB_WORKFLOW names to (subpin.go), which Conductor's
// populateTaskDefinitions sets in the same pass.
//
// The snapshot is a part of the stored run of its own ("taskDefs",
// runstore.Change.TaskDefs): written when the run is created and when it
// takes other definitions (a restart with useLatestDefinitions, a restore),
// not with each write of the run (SPEC §8: the definition once). A run
// stored by an earlier wfrun kept it in its head; it is read from there and
// moved to its part by the run's next (full) write.

// taskDefsPointer binds a run's sealed task definitions.
const taskDefsPointer = "/taskDefs"

// snapshotTaskDefs records the registered definitions of the run
// definition's task names as they are now, and the versions its
// SUB_WORKFLOW tasks named without one are pinned to (subpin.go), to be
// written with the run's next write; a name to pin without a definition
// refuses it (noSubWorkflowDef). Without a registry there are no task
// definitions to record (a run keeps the ones it has).
func (r *runState) snapshotTaskDefs() error {
	pins, err := r.pinSubWorkflows()
	if err != nil {
		return err
	}
	snap := r.snap()
	if r.e.taskDefs != nil {
		snap = map[string]*TaskDef{}
		r.registeredTaskNames(func(name string) {
			if d, ok := r.e.taskDefs.TaskDef(name); ok && d != nil {
				snap[name] = d
			}
		})
	}
	var plain []byte
	switch {
	case len(pins) == 0 && snap == nil && r.subPins == nil:
		return nil // nothing to keep, nothing kept
	case len(pins) == 0 && snap != nil:
		plain, err = json.Marshal(snap)
	default:
		// With pins: [task definitions or null, pins].
		plain, err = json.Marshal([]any{snap, pins})
	}
	if err != nil {
		return fmt.Errorf("task definitions: %w", err)
	}
	sealed, err := r.sec.Seal(plain, taskDefsPointer)
	if err != nil {
		return err
	}
	return r.keepTaskDefs(sealed, plain, true)
}

// registeredTaskNames calls fn once for each task name of the run's
// definition whose settings come from the registry (a task with an inline
// taskDefinition has them in the definition itself).
func (r *runState) registeredTaskNames(fn func(name string)) {
	seen := map[string]bool{}
	walkTasks(r.def.Tasks, func(wt *WorkflowTask) {
		if wt.Name == "" || wt.TaskDefinition != nil || seen[wt.Name] {
			return
		}
		seen[wt.Name] = true
		fn(wt.Name)
	})
}

// openTaskDefs restores a stored run's snapshot: authenticated, bound to
// this run.
func (r *runState) openTaskDefs(sealed string) error {
	plain, err := r.sec.Open(sealed, taskDefsPointer)
	if err != nil {
		return fmt.Errorf("taskDefs: %w", err)
	}
	return r.keepTaskDefs(sealed, plain, false)
}

// keepTaskDefs makes plain (sealed: its stored form) the run's snapshot;
// changed: the next write carries it. plain is the task definitions by
// name or, when the run pins sub-workflow versions, the JSON list [task
// definitions or null, versions by name]. A name of the definition it
// holds no definition for is held as none (snapshots written before held
// it as null).
func (r *runState) keepTaskDefs(sealed string, plain []byte, changed bool) error {
	var snap map[string]*TaskDef
	var pins map[string]int
	if trimmed := bytes.TrimSpace(plain); len(trimmed) > 0 && trimmed[0] == '[' {
		var parts []json.RawMessage
		if json.Unmarshal(trimmed, &parts) != nil || len(parts) != 2 || json.Unmarshal(parts[0], &snap) != nil ||
			json.Unmarshal(parts[1], &pins) != nil || pins == nil {
			return fmt.Errorf("taskDefs: damaged")
		}
		for name, v := range pins {
			if v <= 0 {
				return fmt.Errorf("taskDefs: sub-workflow %s pinned to version %d", name, v)
			}
		}
	} else if err := json.Unmarshal(plain, &snap); err != nil || snap == nil {
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
	if snap != nil {
		r.registeredTaskNames(func(name string) {
			if _, held := snap[name]; !held {
				snap[name] = nil
			}
		})
	}
	r.mu.Lock()
	r.doc.TaskDefs, r.subPins = sealed, pins
	if snap != nil {
		r.taskDefSnap.Store(&snap)
	} else {
		r.taskDefSnap.Store(nil)
	}
	r.changedTaskDefs = r.changedTaskDefs || changed
	r.mu.Unlock()
	return nil
}

// snap is the run's snapshot, nil when it has none.
func (r *runState) snap() map[string]*TaskDef {
	if p := r.taskDefSnap.Load(); p != nil {
		return *p
	}
	return nil
}

// holdMapped adds to the run's snapshot the registered definition of each
// name it does not hold yet (none when none is registered), as a dynamic
// fork or a DYNAMIC task made at run time maps tasks of those names: the
// snapshot, a part of the stored run written once per change, holds a
// definition once per run however many tasks take it (SPEC §8). The next
// write carries it, with the record of the mapping. A run without a
// snapshot (no registry, or stored by an older wfrun) is left as it is.
//
// A name the snapshot holds keeps its definition: the one the run started
// with for a name of its definition, the one of the first mapping for
// another (Conductor's mapper would take the registry's of each mapping).
func (r *runState) holdMapped(names []string) error {
	if r.e.taskDefs == nil || r.snap() == nil {
		return nil
	}
	r.mapMu.Lock()
	defer r.mapMu.Unlock()
	old := r.snap()
	var add map[string]*TaskDef
	for _, name := range names {
		if name == "" {
			continue
		}
		if _, held := old[name]; held {
			continue
		}
		if _, dup := add[name]; dup {
			continue
		}
		if add == nil {
			add = map[string]*TaskDef{}
		}
		d, ok := r.e.taskDefs.TaskDef(name)
		if !ok {
			d = nil
		}
		add[name] = d
	}
	if len(add) == 0 {
		return nil
	}
	merged := make(map[string]*TaskDef, len(old)+len(add))
	for name, d := range old {
		merged[name] = d
	}
	for name, d := range add {
		merged[name] = d
	}
	r.mu.Lock()
	pins := r.subPins // set with the snapshot, before the run executes
	r.mu.Unlock()
	var plain []byte
	var err error
	if len(pins) > 0 {
		plain, err = json.Marshal([]any{merged, pins}) // keepTaskDefs' form with pins
	} else {
		plain, err = json.Marshal(merged)
	}
	if err != nil {
		return fmt.Errorf("task definitions: %w", err)
	}
	sealed, err := r.sec.Seal(plain, taskDefsPointer)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.doc.TaskDefs = sealed
	r.taskDefSnap.Store(&merged)
	r.changedTaskDefs = true
	r.mu.Unlock()
	return nil
}

// mappedDef is the definition a task of name made at run time takes (nil:
// none), held from its first mapping on (holdMapped); the registry's of
// the moment for a run without a snapshot.
func (r *runState) mappedDef(name string) (*TaskDef, error) {
	if r.e.taskDefs == nil {
		return nil, nil
	}
	if err := r.holdMapped([]string{name}); err != nil {
		return nil, err
	}
	if snap := r.snap(); snap != nil {
		return snap[name], nil
	}
	d, _ := r.e.taskDefs.TaskDef(name)
	return d, nil
}

// taskDefsPartLocked is the run's snapshot as its stored part, a JSON
// string (nil: the run has none). Callers hold r.mu.
func (r *runState) taskDefsPartLocked() []byte {
	if r.doc.TaskDefs == "" {
		return nil
	}
	return jsonenc.AppendString(nil, r.doc.TaskDefs)
}

// policy is wt's effective settings for this run: from the run's snapshot
// for a name it holds, else as Engine.policy finds them; a task of the
// run's definition that has no definition there either takes the ad-hoc
// one (adHocTaskDef), as Conductor populates every task of the
// WorkflowDef it starts. The snapshot is set before the run executes
// (when it is created, loaded or prepared for a restart) and replaced
// whole when a mapping adds to it (holdMapped): read without a lock.
func (r *runState) policy(wt *WorkflowTask) taskPolicy {
	if d := wt.dynamicOf; d != nil && wt.TaskDefinition == nil {
		// A DYNAMIC task's resolved task: the DYNAMIC task's definition
		// when it has one (dynamicTask), with the task-level settings
		// (the same: the resolved task copies them).
		if p := r.policy(d); p.hasDef() {
			return policyOf(wt, p.def)
		}
	}
	if snap := r.snap(); wt.TaskDefinition == nil && snap != nil {
		if td, held := snap[wt.Name]; held {
			if td == nil {
				td = r.adHocDef(wt)
			}
			return policyOf(wt, td)
		}
	}
	p := r.e.policy(wt)
	if !p.hasDef() {
		if td := r.adHocDef(wt); td != nil {
			return policyOf(wt, td)
		}
	}
	return p
}

// adHocDef is the ad-hoc definition of wt when it is a task of the run's
// definition (ownsTask), nil otherwise: the one the definition built when
// it was validated (policy runs twice per task: not rebuilt each time).
func (r *runState) adHocDef(wt *WorkflowTask) *TaskDef {
	if !r.ownsTask(wt) {
		return nil
	}
	if td := r.def.adHoc[wt]; td != nil {
		return td
	}
	return adHocTaskDef(wt)
}

// ownsTask reports whether wt is a task of the run's definition, nested
// ones included, rather than one made at run time (a DYNAMIC task's
// resolved task, a FORK_JOIN_DYNAMIC's branches): Conductor populates the
// definitions of the WorkflowDef's tasks when the run starts, and the
// tasks made later take the registry's definition or none.
func (r *runState) ownsTask(wt *WorkflowTask) bool {
	return wt.Name != "" && r.def != nil && r.def.refs[wt.TaskReferenceName] == wt
}
