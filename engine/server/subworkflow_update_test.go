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
			if f := freshDoc(t, b, id).Tasks[0]; f.OutputData["by"] != "update" || f.SubWorkflowID != "" {
				t.Errorf("the SUB_WORKFLOW task's output %v and child %q, want the update's and none (Conductor's record after an update without subWorkflowId)",
					f.OutputData, f.SubWorkflowID)
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

// freshDoc reads run id from s into a new ctlDoc (delayAwait decodes each
// read into the same one, where a member a later read omits keeps its
// earlier value).
func freshDoc(t *testing.T, s *testServer, id string) ctlDoc {
	t.Helper()
	var d ctlDoc
	if err := json.Unmarshal([]byte(delayOK(t, s, "GET", "/api/workflow/"+id+"?includeTasks=true", "")), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSubWorkflowTaskUpdatedInProgressAcrossProcesses: POST /api/tasks
// with status IN_PROGRESS for a SUB_WORKFLOW task is taken, as Conductor's
// updateTask takes it, through the executing process or another one: the
// task stays IN_PROGRESS with the update's output and
// callbackAfterSeconds. Naming its child (subWorkflowId) it still ends
// with that child; naming none it no longer has a child and waits for a
// final update, while the child runs on.
func TestSubWorkflowTaskUpdatedInProgressAcrossProcesses(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	delayOK(t, a, "POST", "/api/metadata/workflow", subUpdateDef)
	for _, tc := range []struct {
		name      string
		through   *testServer
		nameChild bool
	}{
		{"through the executing process, naming none", a, false},
		{"through another process, naming none", b, false},
		{"through the executing process, naming its child", a, true},
		{"through another process, naming its child", b, true},
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
			named := ""
			if tc.nameChild {
				named = child
			}
			delayOK(t, tc.through, "POST", "/api/tasks", fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":"IN_PROGRESS","outputData":{"step":"one"},"callbackAfterSeconds":7,"subWorkflowId":%q}`,
				id, sub.TaskID, named))
			d = delayAwait(t, b, id, func(d ctlDoc) string {
				if len(d.Tasks) != 1 || d.Tasks[0].Status != "IN_PROGRESS" || d.Tasks[0].OutputData["step"] != "one" {
					return "want the SUB_WORKFLOW task IN_PROGRESS with the update's output"
				}
				return ""
			})
			if got := freshDoc(t, b, id).Tasks[0].SubWorkflowID; got != named {
				t.Errorf("the task's child %q, want %q", got, named)
			}
			var raw struct {
				Tasks []struct {
					Callback int64 `json:"callbackAfterSeconds"`
				} `json:"tasks"`
			}
			_ = json.Unmarshal([]byte(delayOK(t, b, "GET", "/api/workflow/"+id+"?includeTasks=true", "")), &raw)
			if len(raw.Tasks) != 1 || raw.Tasks[0].Callback != 7 {
				t.Errorf("callbackAfterSeconds %+v, want 7", raw.Tasks)
			}
			// The child's worker task is answered: the child completes.
			var batch []map[string]any
			body := delayOK(t, b, "GET", "/api/tasks/poll/batch/child_task?workerid=w&count=1&timeout=5000", "")
			if err := json.Unmarshal([]byte(body), &batch); err != nil || len(batch) != 1 {
				t.Fatalf("poll child_task: %s", body)
			}
			delayUpdate(t, a, child, batch[0]["taskId"].(string), "COMPLETED", `,"outputData":{"from":"child"}`)
			delayAwait(t, b, child, ctlStatus("COMPLETED"))
			if !tc.nameChild {
				// No child any more: the task waits for its final update.
				d = delayAwait(t, b, id, func(ctlDoc) string { return "" })
				if d.Status != "RUNNING" || len(d.Tasks) != 1 || d.Tasks[0].Status != "IN_PROGRESS" {
					t.Fatalf("after its former child ended: %s", d.shape())
				}
				delayOK(t, tc.through, "POST", "/api/tasks", fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":"COMPLETED","outputData":{"from":"update"}}`, id, sub.TaskID))
			}
			d = delayAwait(t, b, id, func(d ctlDoc) string {
				if len(d.Tasks) != 2 || d.Tasks[0].Status != "COMPLETED" {
					return "want the SUB_WORKFLOW task COMPLETED and the next task"
				}
				return ""
			})
			want := "update"
			if tc.nameChild {
				want = "child"
			}
			if d.Tasks[0].OutputData["from"] != want {
				t.Errorf("the SUB_WORKFLOW task's output %v, want its %s's", d.Tasks[0].OutputData, want)
			}
			body = delayOK(t, b, "GET", "/api/tasks/poll/batch/after_task?workerid=w&count=1&timeout=5000", "")
			if err := json.Unmarshal([]byte(body), &batch); err != nil || len(batch) != 1 {
				t.Fatalf("poll after_task: %s", body)
			}
			delayUpdate(t, a, id, batch[0]["taskId"].(string), "COMPLETED", "")
			delayAwait(t, b, id, ctlStatus("COMPLETED"))
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

// TestSubWorkflowTaskInProgressByRefAPI: POST
// /api/tasks/{workflowId}/{ref}/IN_PROGRESS for a SUB_WORKFLOW task is
// taken (200, the task's id), as Conductor's updateTask by reference takes
// it (its TaskResult built from the pending task): the task stays
// IN_PROGRESS with the body over its output, still naming its child, and
// ends with that child.
func TestSubWorkflowTaskInProgressByRefAPI(t *testing.T) {
	ts := ctlServer(t)
	ctlCall(t, ts, "POST", "/api/metadata/workflow", subUpdateDef)
	id := ctlCall(t, ts, "POST", "/api/workflow/sub_update_parent", `{}`)
	d := ctlAwait(t, ts, id, func(d ctlDoc) string {
		if len(d.Tasks) != 1 || d.Tasks[0].Status != "IN_PROGRESS" || d.Tasks[0].SubWorkflowID == "" {
			return "want the SUB_WORKFLOW task IN_PROGRESS with its child"
		}
		return ""
	})
	sub, child := d.Tasks[0], d.Tasks[0].SubWorkflowID
	st, _, body := ts.do(t, "POST", "/api/tasks/"+id+"/sub/IN_PROGRESS", `{"step":"one"}`)
	if st != 200 || body != sub.TaskID {
		t.Fatalf("POST /api/tasks/%s/sub/IN_PROGRESS: %d %s, want 200 and the task's id %s", id, st, body, sub.TaskID)
	}
	d = ctlAwait(t, ts, id, func(d ctlDoc) string {
		if d.Tasks[0].OutputData["step"] != "one" {
			return "want the update's output"
		}
		return ""
	})
	if tk := d.Tasks[0]; tk.Status != "IN_PROGRESS" || tk.SubWorkflowID != child || tk.OutputData["subWorkflowId"] != child {
		t.Fatalf("the task updated IN_PROGRESS by reference: %s, want IN_PROGRESS naming %s", d.shape(), child)
	}
	var batch []map[string]any
	b := ctlCall(t, ts, "GET", "/api/tasks/poll/batch/child_task?workerid=w&count=1&timeout=5000", "")
	if err := json.Unmarshal([]byte(b), &batch); err != nil || len(batch) != 1 {
		t.Fatalf("poll child_task: %s", b)
	}
	ctlCall(t, ts, "POST", "/api/tasks", fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":"COMPLETED","outputData":{"from":"child"}}`, child, batch[0]["taskId"]))
	d = ctlAwait(t, ts, id, func(d ctlDoc) string {
		if len(d.Tasks) != 2 || d.Tasks[0].Status != "COMPLETED" {
			return "want the SUB_WORKFLOW task COMPLETED and the next task"
		}
		return ""
	})
	if d.Tasks[0].OutputData["from"] != "child" || d.Tasks[0].SubWorkflowID != child {
		t.Errorf("the SUB_WORKFLOW task ended with %v naming %q, want its child's output", d.Tasks[0].OutputData, d.Tasks[0].SubWorkflowID)
	}
	ctlCall(t, ts, "POST", "/api/workflow/"+id+"/terminate", "")
}
