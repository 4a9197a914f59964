package server_test

import (
	"fmt"
	"testing"
)

// TestUpdateOfWaitAsSoonAsItShows: a WAIT task updated by its id
// (POST /api/tasks) as soon as a read shows it IN_PROGRESS is taken,
// whatever the run is doing (its record may show before its execution
// waits for the update), as Conductor's updateTask takes an update of an
// IN_PROGRESS WAIT. It used to answer 500 ("its attempt is ending on this
// server") when the update came before the execution had marked the
// attempt as awaiting one: the server took the WAIT for a worker's task
// missing from its queue. A WAIT in a child run, updated naming the
// parent (found by its id), is taken the same way.
func TestUpdateOfWaitAsSoonAsItShows(t *testing.T) {
	ts := ctlServer(t)
	ctlUpdateDefs(t, ts, `[{"name":"early_wait","version":1,"schemaVersion":2,"tasks":[{"name":"hold","taskReferenceName":"hold","type":"WAIT"}]},
	 {"name":"early_wait_parent","version":1,"schemaVersion":2,"tasks":[
	  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"early_wait","version":1}}]}]`)
	for i := 0; i < 60; i++ {
		nested := i%2 == 1
		var run, named string
		if nested {
			named = ctlStart(t, ts, `{"name":"early_wait_parent","version":1}`)
			run = ctlSubWorkflowID(t, ts, named, 0)
		} else {
			run = ctlStart(t, ts, `{"name":"early_wait","version":1}`)
			named = run
		}
		var taskID string
		for taskID == "" {
			if d := ctlGet(t, ts, run); len(d.Tasks) == 1 && d.Tasks[0].Status == "IN_PROGRESS" {
				taskID = d.Tasks[0].TaskID
			}
		}
		st, _, body := ts.do(t, "POST", "/api/tasks", fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":"COMPLETED","outputData":{"n":%d}}`, named, taskID, i))
		if st != 200 {
			t.Fatalf("update %d (nested %v) as soon as the WAIT showed: %d %s", i, nested, st, body)
		}
		ctlAwait(t, ts, run, ctlStatus("COMPLETED"))
		if nested {
			ctlAwait(t, ts, named, ctlStatus("COMPLETED"))
		}
	}
}
