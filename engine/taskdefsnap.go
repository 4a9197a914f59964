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
// to the task's retries and timeouts nor to its record. Each mapping takes
// the registry's definition of its moment: a later mapping of a name (a
// dynamic fork in a DO_WHILE's next iteration, another fork) whose
// registered definition differs from the one the snapshot holds for the
// name (the start's, for a name of the run's definition too, or the first
// mapping's) has it noted under the fork's record and the task's
// reference (mappedDefs), each distinct definition once, so that the
// task keeps it, also across a resume. A run stored by an older wfrun has
// no snapshot: it keeps taking the registry's current definitions, as it
// always did.
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
		plain, err = encodeSnap(snap, nil, nil)
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
// this run, and masked by its archive or not as the run says (masked).
func (r *runState) openTaskDefs(sealed string, masked bool) error {
	plain, err := openSnapshot(r.sec, sealed, masked)
	if err != nil {
		return fmt.Errorf("taskDefs: %w", err)
	}
	return r.keepTaskDefs(sealed, plain, false)
}

// keepTaskDefs makes plain (sealed: its stored form) the run's snapshot;
// changed: the next write carries it. plain is the task definitions by
// name or, when the run pins sub-workflow versions, the JSON list [task
// definitions or null, versions by name], or, when mappings took
// definitions that differ from the ones held by name, the list [task
// definitions, versions or null, mappedDefs]. A name of the definition it
// holds no definition for is held as none (snapshots written before held
// it as null).
func (r *runState) keepTaskDefs(sealed string, plain []byte, changed bool) error {
	var snap map[string]*TaskDef
	var pins map[string]int
	var mapped *mappedDefs
	if trimmed := bytes.TrimSpace(plain); len(trimmed) > 0 && trimmed[0] == '[' {
		var parts []json.RawMessage
		if json.Unmarshal(trimmed, &parts) != nil || len(parts) < 2 || len(parts) > 3 || json.Unmarshal(parts[0], &snap) != nil ||
			json.Unmarshal(parts[1], &pins) != nil || (pins == nil && len(parts) == 2) {
			return fmt.Errorf("taskDefs: damaged")
		}
		if len(parts) == 3 {
			if snap == nil || json.Unmarshal(parts[2], &mapped) != nil || mapped.check() != nil {
				return fmt.Errorf("taskDefs: damaged")
			}
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
	r.mappedSnap.Store(mapped)
	r.changedTaskDefs = r.changedTaskDefs || changed
	r.mu.Unlock()
	return nil
}

// mappedDefs is what the run's mappings took that differs from the
// definition its snapshot holds for the name: under the task id of the
// FORK_JOIN_DYNAMIC record whose mapping made the task, the task's
// reference and the name mapped (its own, or for a DYNAMIC task the name
// it resolves), the index in Defs of the definition taken, -1 for none.
// Defs holds each distinct definition once however many mappings took it.
type mappedDefs struct {
	Defs []*TaskDef                           `json:"defs"`
	By   map[string]map[string]map[string]int `json:"by"`
}

// check reports a damaged mappedDefs: an index out of Defs, a definition
// that does not validate.
func (m *mappedDefs) check() error {
	if m == nil || m.By == nil {
		return fmt.Errorf("no mappings")
	}
	for _, d := range m.Defs {
		if d == nil {
			return fmt.Errorf("a null definition")
		}
		if err := d.Validate(); err != nil {
			return err
		}
	}
	for _, refs := range m.By {
		for _, names := range refs {
			for _, i := range names {
				if i < -1 || i >= len(m.Defs) {
					return fmt.Errorf("index %d", i)
				}
			}
		}
	}
	return nil
}

// encodeSnap is the plain form of a snapshot (keepTaskDefs' forms).
func encodeSnap(snap map[string]*TaskDef, pins map[string]int, mapped *mappedDefs) ([]byte, error) {
	switch {
	case mapped != nil && len(mapped.By) > 0:
		var p any
		if len(pins) > 0 {
			p = pins
		}
		return json.Marshal([]any{snap, p, mapped})
	case len(pins) > 0:
		return json.Marshal([]any{snap, pins})
	}
	return json.Marshal(snap)
}

// mappedOverride is the definition the mapping by the fork record forkID
// took for name as the task ref (nil: none), when it differs from the one
// the snapshot holds for name; ok false when it does not.
func (r *runState) mappedOverride(forkID, ref, name string) (td *TaskDef, ok bool) {
	m := r.mappedSnap.Load()
	if m == nil {
		return nil, false
	}
	i, ok := m.By[forkID][ref][name]
	if !ok {
		return nil, false
	}
	if i < 0 {
		return nil, true
	}
	return m.Defs[i], true
}

// mapping is a name a fork's mapping gives the task ref.
type mapping struct{ ref, name string }

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
func (r *runState) holdMapped(names []string) error {
	ms := make([]mapping, 0, len(names))
	for _, n := range names {
		ms = append(ms, mapping{name: n})
	}
	return r.holdMappings("", ms)
}

// holdMappings is holdMapped for the tasks the fork record forkID maps
// ("": a mapping outside a fork's): a name the snapshot holds keeps its
// definition there (the one the run started with for a name of its
// definition, the first mapping's for another), and when the registry's
// definition of the moment differs from it, the mapping's task takes the
// registry's, noted under forkID and its reference (mappedDefs), as
// ForkJoinDynamicTaskMapper and DynamicTaskMapper take the registered
// definition at each mapping.
func (r *runState) holdMappings(forkID string, ms []mapping) error {
	if r.e.taskDefs == nil || r.snap() == nil {
		return nil
	}
	r.mapMu.Lock()
	defer r.mapMu.Unlock()
	old, oldMapped := r.snap(), r.mappedSnap.Load()
	var add map[string]*TaskDef
	var over []mapping
	var overDefs []*TaskDef
	for _, m := range ms {
		if m.name == "" {
			continue
		}
		d, ok := r.e.taskDefs.TaskDef(m.name)
		if !ok {
			d = nil
		}
		if held, ok := old[m.name]; ok {
			if _, noted := r.mappedOverride(forkID, m.ref, m.name); forkID != "" && !noted && !sameTaskDef(held, d) {
				over, overDefs = append(over, m), append(overDefs, d)
			}
			continue
		}
		if _, dup := add[m.name]; dup {
			continue
		}
		if add == nil {
			add = map[string]*TaskDef{}
		}
		add[m.name] = d
	}
	if len(add) == 0 && len(over) == 0 {
		return nil
	}
	merged := old
	if len(add) > 0 {
		merged = make(map[string]*TaskDef, len(old)+len(add))
		for name, d := range old {
			merged[name] = d
		}
		for name, d := range add {
			merged[name] = d
		}
	}
	mapped := oldMapped
	if len(over) > 0 {
		mapped = withOverrides(oldMapped, forkID, over, overDefs)
	}
	r.mu.Lock()
	pins := r.subPins // set with the snapshot, before the run executes
	r.mu.Unlock()
	plain, err := encodeSnap(merged, pins, mapped)
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
	r.mappedSnap.Store(mapped)
	r.changedTaskDefs = true
	r.mu.Unlock()
	return nil
}

// withOverrides is old (nil: none) with the definitions defs the fork
// record forkID's mappings ms took, a new value (old is never changed in
// place): a definition equal to one Defs holds is that one.
func withOverrides(old *mappedDefs, forkID string, ms []mapping, defs []*TaskDef) *mappedDefs {
	m := &mappedDefs{By: map[string]map[string]map[string]int{}}
	index := map[string]int{}
	if old != nil {
		m.Defs = append(m.Defs, old.Defs...)
		for id, refs := range old.By {
			m.By[id] = refs
		}
		for i, d := range old.Defs {
			if b, err := json.Marshal(d); err == nil {
				index[string(b)] = i
			}
		}
	}
	refs := map[string]map[string]int{}
	for ref, names := range m.By[forkID] {
		refs[ref] = names
	}
	for k, mp := range ms {
		i := -1
		if defs[k] != nil {
			b, err := json.Marshal(defs[k])
			if j, ok := index[string(b)]; ok && err == nil {
				i = j
			} else {
				i = len(m.Defs)
				m.Defs = append(m.Defs, defs[k])
				if err == nil {
					index[string(b)] = i
				}
			}
		}
		names := make(map[string]int, len(refs[mp.ref])+1)
		for n, x := range refs[mp.ref] {
			names[n] = x
		}
		names[mp.name] = i
		refs[mp.ref] = names
	}
	m.By[forkID] = refs
	return m
}

// sameTaskDef reports whether a and b (nil: none) are the same definition.
func sameTaskDef(a, b *TaskDef) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// mappedDef is the definition task wt takes for name, a name it maps at
// run time (nil: none): the one its fork's mapping took when that
// differs from the run's (mappedOverride), else the one the run holds
// from the name's first mapping on (holdMapped); the registry's of the
// moment for a run without a snapshot.
func (r *runState) mappedDef(wt *WorkflowTask, name string) (*TaskDef, error) {
	if r.e.taskDefs == nil {
		return nil, nil
	}
	if err := r.holdMapped([]string{name}); err != nil {
		return nil, err
	}
	if snap := r.snap(); snap != nil {
		if wt != nil && wt.mappedBy != "" {
			if td, ok := r.mappedOverride(wt.mappedBy, wt.TaskReferenceName, name); ok {
				return td, nil
			}
		}
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
		if wt.mappedBy != "" {
			// The definition its fork's mapping took, where it differs
			// from the run's (none: no ad-hoc one for a forked task).
			if td, ok := r.mappedOverride(wt.mappedBy, wt.TaskReferenceName, wt.Name); ok {
				return policyOf(wt, td)
			}
		}
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

// policyOr is *given when the caller looked wt's policy up already (an
// attempt's execution reads it once: execLeaf), else policy's.
func (r *runState) policyOr(given *taskPolicy, wt *WorkflowTask) taskPolicy {
	if given != nil {
		return *given
	}
	return r.policy(wt)
}

// adHocDef is the ad-hoc definition of wt when it is a task of the run's
// definition (ownsTask), nil otherwise: the one the definition built when
// it was validated (policy runs for every attempt and record: not rebuilt each time).
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
