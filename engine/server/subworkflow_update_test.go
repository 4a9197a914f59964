package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
)

// subUpdateDef: a SUB_WORKFLOW task whose inline child waits for a worker
// (child_task), then the parent's own worker task (after_task).
const subUpdateDef = `{"name":"sub_update_parent","version":1,"schemaVersion":2,"tasks":[
 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"sub_update_child","version":1,
  "workflowDefinition":{"name":"sub_update_child","version":1,"schemaVersion":2,
   "tasks":[{"name":"child_task","taskReferenceName":"child_task","type":"SIMPLE"}]}}},
 {"name":"after_task","taskReferenceName":"after","type":"SIMPLE"}]}`

// TestSubWorkflowTaskUpdatedAcrossProcesses: two serve processes share a
// Redis run store and task queue; A executes the parent. An update of its
// SUB_WORKFLOW task (POST /api/tasks with its task id) sent to either
// process, naming the parent or the child as workflowInstanceId (as
// Conductor's e2e tests send it), completes the task: the parent moves on
// to its next task, and the child stays RUNNING, its task still offered
// to workers.
func TestSubWorkflowTaskUpdatedAcrossProcesses(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	delayOK(t, a, "POST", "/api/metadata/workflow", subUpdateDef)
	for _, tc := range []struct {
		name    string
		through *testServer
		asChild bool
	}{
		{"through the executing process, the parent's id", a, false},
		{"through the executing process, the child's id", a, true},
		{"through another process, the parent's id", b, false},
		{"through another process, the child's id", b, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := delayOK(t, a, "POST", "/api/workflow/sub_update_parent", `{}`)
			d := delayAwait(t, a, id, func(d ctlDoc) string {
				if len(d.Tasks) != 1 || d.Tasks[0].Status != "IN_PROGRESS" || d.Tasks[0].SubWorkflowID == "" {
					return "want the SUB_WORKFLOW task IN_PROGRESS with its child"
				}
				return ""
			})
			sub, child := d.Tasks[0], d.Tasks[0].SubWorkflowID
			delayAwait(t, a, child, func(c ctlDoc) string {
				if len(c.Tasks) != 1 || c.Tasks[0].Status != "SCHEDULED" {
					return "want the child's task SCHEDULED"
				}
				return ""
			})
			named := id
			if tc.asChild {
				named = child
			}
			delayOK(t, tc.through, "POST", "/api/tasks", fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":"COMPLETED","outputData":{"by":"update"}}`, named, sub.TaskID))
			d = delayAwait(t, b, id, func(d ctlDoc) string {
				if d.Status != "RUNNING" || len(d.Tasks) != 2 || d.Tasks[0].Status != "COMPLETED" || d.Tasks[1].Status != "SCHEDULED" {
					return "want RUNNING, the SUB_WORKFLOW task COMPLETED, after SCHEDULED"
				}
				return ""
			})
			if d.Tasks[0].OutputData["by"] != "update" {
				t.Errorf("the SUB_WORKFLOW task's output %v, want the update's", d.Tasks[0].OutputData)
			}
			if c := delayAwait(t, b, child, func(ctlDoc) string { return "" }); c.Status != "RUNNING" || c.Tasks[0].Status != "SCHEDULED" {
				t.Fatalf("the child: %s", c.shape())
			}
			// Both worker tasks are offered: the child's and the parent's next.
			got := map[string]string{}
			for _, name := range []string{"child_task", "after_task"} {
				var batch []map[string]any
				body := delayOK(t, b, "GET", "/api/tasks/poll/batch/"+name+"?workerid=w&count=1&timeout=5000", "")
				if err := json.Unmarshal([]byte(body), &batch); err != nil || len(batch) != 1 {
					t.Fatalf("poll %s: %s", name, body)
				}
				got[name], _ = batch[0]["taskId"].(string)
				run, _ := batch[0]["workflowInstanceId"].(string)
				delayUpdate(t, a, run, got[name], "COMPLETED", "")
			}
			delayAwait(t, b, id, ctlStatus("COMPLETED"))
			delayAwait(t, b, child, ctlStatus("COMPLETED"))
		})
	}
}

// TestUpdateOfChildTaskNamingParent: POST /api/tasks for a child's WAIT
// task naming the parent as workflowInstanceId is taken, as Conductor's
// updateTask finds a task by its id (the run it names must exist): the
// child completes, and with it the parent.
func TestUpdateOfChildTaskNamingParent(t *testing.T) {
	ts := ctlServer(t)
	ctlUpdateDefs(t, ts, `[{"name":"wait_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"wait_child","version":1,
	  "workflowDefinition":{"name":"wait_child","version":1,"schemaVersion":2,"tasks":[{"name":"hold","taskReferenceName":"hold","type":"WAIT"}]}}}]}]`)
	id := ctlStart(t, ts, `{"name":"wait_parent","version":1}`)
	child := ctlSubWorkflowID(t, ts, id, 0)
	c := ctlAwait(t, ts, child, func(d ctlDoc) string {
		if len(d.Tasks) != 1 || d.Tasks[0].Status != "IN_PROGRESS" {
			return "want the child's WAIT IN_PROGRESS"
		}
		return ""
	})
	ctlUpdate(t, ts, id, c.Tasks[0].TaskID, "COMPLETED", `{"done":true}`)
	ctlAwait(t, ts, child, ctlStatus("COMPLETED"))
	ctlAwait(t, ts, id, ctlStatus("COMPLETED"))
}
