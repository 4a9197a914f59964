package engine

import (
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
// when the run started. A name the run holds no definition for is left
// out, and so is the member when the run has none: no snapshot (a run
// without a registry, or stored by an older wfrun) or one this engine
// cannot open (another keyring's: the view does not guess). A definition
// holds no secret's value by design; one pasted into an inputTemplate is
// masked with the run's values like the run's copy of its workflow
// definition (showRunHead).

// taskDefsMember is the view member that names the run's task definitions.
const taskDefsMember = "taskDefinitions"

// withTaskDefs is doc, a stored run, with its task definitions added as
// taskDefsMember (before showRunHead masks the view's definitions). sec is
// the run's secrets when the view has them already (nil: a handle is made
// to open the snapshot).
func (e *Engine) withTaskDefs(id string, doc []byte, sec *runsecrets.Run) []byte {
	var snap map[string]*TaskDef
	if r := e.activeRun(id); r != nil {
		r.mu.Lock()
		snap = r.taskDefSnap
		r.mu.Unlock()
	} else {
		sealed := gjson.GetBytes(doc, "taskDefs")
		if sealed.Type != gjson.String || sealed.Str == "" || e.keyring == nil {
			return doc
		}
		if sec == nil {
			var err error
			if sec, err = runsecrets.New(id, nil, e.keyring); err != nil {
				return doc
			}
		}
		plain, err := sec.Open(sealed.Str, taskDefsPointer)
		if err != nil || json.Unmarshal(plain, &snap) != nil {
			return doc
		}
	}
	held := make(map[string]*TaskDef, len(snap))
	for name, d := range snap {
		if d != nil {
			held[name] = d
		}
	}
	if len(held) == 0 {
		return doc
	}
	b, err := json.Marshal(held)
	if err != nil {
		return doc
	}
	if out, err := sjson.SetRawBytes(doc, taskDefsMember, b); err == nil {
		return out
	}
	return doc
}
