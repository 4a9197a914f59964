package server_test

import (
	"encoding/json"
	"testing"
	"time"
)

const (
	reopenChildDef = `{"name":"reopen_child","version":1,"schemaVersion":2,"tasks":[
 {"name":"child_task","taskReferenceName":"work","type":"SIMPLE"}]}`
	reopenParentDef = `{"name":"reopen_parent","version":1,"schemaVersion":2,"tasks":[
 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","retryCount":0,"subWorkflowParam":{"name":"reopen_child","version":1}},
 {"name":"after_task","taskReferenceName":"after","type":"SIMPLE"}]}`
)

// TestRetryReopensTheParent: through /api/workflow/{id}/retry, a failed
// child run retried (directly, or through its parent with
// resumeSubworkflowTasks=true) re-opens its parent: the parent's
// SUB_WORKFLOW task, the same record with the same child, completes when
// the child does, and the parent goes on to its next task.
func TestRetryReopensTheParent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		retry  func(parent, child string) string
		parent bool
	}{
		{"retry of the child", func(_, child string) string { return "/api/workflow/" + child + "/retry" }, false},
		{"retry of the parent with resumeSubworkflowTasks", func(parent, _ string) string {
			return "/api/workflow/" + parent + "/retry?resumeSubworkflowTasks=true"
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newConductorServer(t, nil)
			for _, d := range []string{reopenChildDef, reopenParentDef} {
				if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", d); st != 200 {
					t.Fatalf("register: %d %s", st, body)
				}
			}
			st, _, parent := ts.do(t, "POST", "/api/workflow/reopen_parent", `{}`)
			if st != 200 {
				t.Fatalf("start: %d %s", st, parent)
			}
			answer := func(name, status string) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
					_, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/"+name+"?count=1&timeout=200", "")
					var got []struct {
						TaskID             string `json:"taskId"`
						WorkflowInstanceID string `json:"workflowInstanceId"`
					}
					if err := json.Unmarshal([]byte(body), &got); err != nil {
						t.Fatalf("poll: %s", body)
					}
					if len(got) == 0 {
						continue
					}
					res, _ := json.Marshal(map[string]any{"workflowInstanceId": got[0].WorkflowInstanceID, "taskId": got[0].TaskID,
						"status": status, "outputData": map[string]any{"by": name}})
					if st, _, body := ts.do(t, "POST", "/api/tasks", string(res)); st != 200 {
						t.Fatalf("update: %d %s", st, body)
					}
					return
				}
				t.Fatalf("nothing to poll for %s", name)
			}
			answer("child_task", "FAILED_WITH_TERMINAL_ERROR")
			failed := ts.waitRun(t, parent, "FAILED", func(d runDoc) bool { return d.Status == "FAILED" })
			if len(failed.Tasks) != 1 || failed.Tasks[0].Status != "FAILED" {
				t.Fatalf("parent after the child failed: %+v", failed)
			}
			sub := failed.Tasks[0]
			_, _, body := ts.do(t, "GET", "/api/workflow/"+parent+"?includeTasks=true", "")
			var v struct {
				Tasks []struct {
					SubWorkflowID string `json:"subWorkflowId"`
				} `json:"tasks"`
			}
			if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Tasks) != 1 || v.Tasks[0].SubWorkflowID == "" {
				t.Fatalf("parent: %s", body)
			}
			child := v.Tasks[0].SubWorkflowID
			ts.waitRun(t, child, "FAILED", func(d runDoc) bool { return d.Status == "FAILED" })

			if st, _, body := ts.do(t, "POST", tc.retry(parent, child), ""); st != 204 {
				t.Fatalf("retry: %d %s", st, body)
			}
			ts.waitRun(t, parent, "RUNNING", func(d runDoc) bool { return d.Status == "RUNNING" })
			answer("child_task", "COMPLETED")
			c := ts.waitRun(t, child, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
			if len(c.Tasks) != 2 || c.Tasks[1].RetriedTaskID != c.Tasks[0].TaskID || c.Tasks[1].RetryCount != 1 {
				t.Fatalf("child after the retry: %+v", c)
			}
			answer("after_task", "COMPLETED")
			p := ts.waitRun(t, parent, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
			if len(p.Tasks) != 2 || p.Tasks[0].TaskID != sub.TaskID || p.Tasks[0].Status != "COMPLETED" || p.Tasks[1].Status != "COMPLETED" {
				t.Fatalf("parent after the retry: %+v", p)
			}
			_, _, body = ts.do(t, "GET", "/api/workflow/"+parent+"?includeTasks=true", "")
			if err := json.Unmarshal([]byte(body), &v); err != nil || v.Tasks[0].SubWorkflowID != child {
				t.Fatalf("the parent's SUB_WORKFLOW task has child %s, want %s", v.Tasks[0].SubWorkflowID, child)
			}
		})
	}
}
