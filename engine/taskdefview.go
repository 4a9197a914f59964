package engine

import (
	"bytes"
	"encoding/json"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/runsecrets"
)

// A run's view (Show) names the task definitions the run applies — its
// snapshot (taskdefsnap.go), opened for the view — as "taskDefinitions",
// an object of task name to definition, so that what shows a run's tasks
// (serve's Conductor Task records, their workflowTask.taskDefinition) shows
// the settings the run uses, not the registry's of the moment, as
// Conductor's Task carries the TaskDef its WorkflowTask was populated with
// when the run started (or the one a dynamic task took when it was
// mapped: holdMapped). A name the run holds no definition for is null,
// and the member is left out when the run has none: no snapshot (a run
// without a registry, or stored by an older wfrun) or one this engine
// cannot open (another keyring's: the view does not guess). A definition
// holds no secret's value by design; one pasted into an inputTemplate is
// masked with the run's values like the run's copy of its workflow
// definition (showRunHead).

// taskDefsMember is the view member that names the run's task definitions.
const taskDefsMember = "taskDefinitions"

// mappedDefsMember is the view member that names what the run's mappings
// took that differs from the definition it holds for the name (its
// mappedDefs as stored: "defs", each distinct definition once, and "by",
// under the task id of the FORK_JOIN_DYNAMIC record whose mapping made a
// task, the task's reference and the name mapped — its own, or for a
// DYNAMIC task the name it resolves — the index in defs of the definition
// taken, -1 for none), so that what shows a forked task's record (serve's
// records) shows the definition its own mapping took: none where the
// registry had none then, and for a forked DYNAMIC task the one of the
// name it resolved. Left out when no mapping differs.
const mappedDefsMember = "mappedTaskDefinitions"

// withTaskDefs is doc, a stored run, with its task definitions added as
// taskDefsMember (before showRunHead masks the view's definitions). sec is
// the run's secrets when the view has them already (nil: a handle is made
// to open the snapshot). archived: doc is the run's archived form, whose
// snapshot the archive masked; it is the one shown, never the snapshot of
// the execution still letting go of the run, which is unmasked and which
// no view of an archived run masks (maskedRunHead).
func (e *Engine) withTaskDefs(id string, doc []byte, sec *runsecrets.Run, archived bool) []byte {
	var snap map[string]*TaskDef
	var mapped *mappedDefs
	if r := e.activeRun(id); r != nil && !archived {
		snap, mapped = r.snap(), r.mappedSnap.Load()
	} else {
		sealed := gjson.GetBytes(doc, "taskDefs")
		if sealed.Type != gjson.String || sealed.Str == "" || e.keyring == nil {
			return doc
		}
		if sec == nil {
			var err error
			if sec, err = e.newRunSecrets(id, nil); err != nil {
				return doc
			}
		}
		plain, err := openSnapshot(sec, sealed.Str, gjson.GetBytes(doc, taskDefsMaskedMember).Bool())
		if err != nil {
			return doc
		}
		if trimmed := bytes.TrimSpace(plain); len(trimmed) > 0 && trimmed[0] == '[' {
			// [task definitions, sub-workflow pins] or [task
			// definitions, pins or null, mappedDefs] (keepTaskDefs).
			var parts []json.RawMessage
			if json.Unmarshal(trimmed, &parts) != nil || len(parts) < 2 || len(parts) > 3 {
				return doc
			}
			if len(parts) == 3 && (json.Unmarshal(parts[2], &mapped) != nil || mapped.check() != nil) {
				return doc
			}
			plain = parts[0]
		}
		if json.Unmarshal(plain, &snap) != nil {
			return doc
		}
	}
	// A name held with none shows as null: none applies to the tasks of
	// that name, whatever is registered since (a task of the run's
	// definition then takes the ad-hoc one, as it would without the
	// member; one a mapping made takes none: holdMapped).
	held := snap
	if len(held) == 0 {
		return doc
	}
	b, err := json.Marshal(held)
	if err != nil {
		return doc
	}
	out, err := sjson.SetRawBytes(doc, taskDefsMember, b)
	if err != nil {
		return doc
	}
	if mapped != nil && len(mapped.By) > 0 {
		if m, err := json.Marshal(mapped); err == nil {
			if o, err := sjson.SetRawBytes(out, mappedDefsMember, m); err == nil {
				out = o
			}
		}
	}
	return out
}

// withMappedDefs is doc, a view with its task definitions (withTaskDefs)
// masked (showRunHead), with the definition each forked task's mapping
// took, where it differs from the one the run holds for the name, as its
// taskDefinition in its fork record's inputData.forkedTaskDefs:
// ForkJoinDynamicTaskMapper records the WorkflowTasks it forked with the
// definitions it copied onto them. The definitions are taken from the
// view's mappedDefsMember as masked, so that a value pasted into one is
// masked there as it is in the member.
//
// The view is read once and written once: each definition goes in as the
// last member of its WorkflowTask, before the object's closing brace, the
// rest of the view copied as it is around them, so a run whose forks took
// many changed definitions costs what its view is long, not that length
// once per definition.
func withMappedDefs(doc []byte) []byte {
	m := gjson.GetBytes(doc, mappedDefsMember)
	if !m.IsObject() {
		return doc
	}
	var mapped struct {
		Defs []json.RawMessage                    `json:"defs"`
		By   map[string]map[string]map[string]int `json:"by"`
	}
	if json.Unmarshal([]byte(m.Raw), &mapped) != nil || len(mapped.By) == 0 {
		return doc
	}
	// Where each definition goes: the offset of its WorkflowTask's
	// closing brace in doc, in increasing order (the tasks and their
	// forked WorkflowTasks are met in the order doc holds them).
	type insert struct {
		at    int
		empty bool // the WorkflowTask has no member: no comma before it
		def   json.RawMessage
	}
	var ins []insert
	grow := 0
	located := true
	gjson.GetBytes(doc, "tasks").ForEach(func(_, t gjson.Result) bool {
		refs := mapped.By[t.Get("taskId").String()]
		if refs == nil {
			return true
		}
		t.Get("inputData.forkedTaskDefs").ForEach(func(_, wt gjson.Result) bool {
			if !wt.IsObject() || wt.Get("taskDefinition").Exists() {
				return true
			}
			k, ok := refs[wt.Get("taskReferenceName").String()][wt.Get("name").String()]
			if !ok || k < 0 || k >= len(mapped.Defs) {
				return true
			}
			end := wt.Index + len(wt.Raw) - 1
			if wt.Index <= 0 || end >= len(doc) || string(doc[wt.Index:end+1]) != wt.Raw {
				// Not where the parse says (it cannot be, for a view
				// wfrun encoded): no definition is added rather than
				// one in the wrong place.
				located = false
				return false
			}
			empty := true
			wt.ForEach(func(_, _ gjson.Result) bool {
				empty = false
				return false
			})
			ins = append(ins, insert{at: end, empty: empty, def: mapped.Defs[k]})
			grow += len(`,"taskDefinition":`) + len(mapped.Defs[k])
			return true
		})
		return located
	})
	if !located || len(ins) == 0 {
		return doc
	}
	out := make([]byte, 0, len(doc)+grow)
	from := 0
	for _, in := range ins {
		out = append(out, doc[from:in.at]...)
		if !in.empty {
			out = append(out, ',')
		}
		out = append(append(out, `"taskDefinition":`...), in.def...)
		from = in.at
	}
	return append(out, doc[from:]...)
}
