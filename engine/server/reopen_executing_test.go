package server_test

import (
	"encoding/json"
	"testing"
	"time"
)

// execView is the part of GET /api/workflow/{id} these tests read.
type execView struct {
	Status string `json:"status"`
	Tasks  []struct {
		TaskID        string         `json:"taskId"`
		Ref           string         `json:"referenceTaskName"`
		TaskType      string         `json:"taskType"`
		Status        string         `json:"status"`
		SubWorkflowID string         `json:"subWorkflowId"`
		Output        map[string]any `json:"outputData"`
	} `json:"tasks"`
}

// waitExec reads run id through s until ok accepts it.
func waitExec(t *testing.T, s *testServer, id, what string, ok func(v execView) bool) execView {
	t.Helper()
	var v execView
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, body := s.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
		v = execView{}
		if json.Unmarshal([]byte(body), &v) == nil && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s never got %s: %s", id, what, body)
		}
	}
}

// answerTask polls a task of type name through s (waiting for one) and
// answers it with output {"by": by}.
func answerTask(t *testing.T, s *testServer, name, by string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		_, _, body := s.do(t, "GET", "/api/tasks/poll/batch/"+name+"?workerid=w&count=1&timeout=200", "")
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
			"status": "COMPLETED", "outputData": map[string]any{"by": by}})
		if st, _, body := s.do(t, "POST", "/api/tasks", string(res)); st != 200 {
			t.Fatalf("update: %d %s", st, body)
		}
		return
	}
	t.Fatalf("nothing to poll for %s", name)
}

// TestRestartOfAChildReopensTheParentAServeProcessExecutes: two serve
// processes share a Redis run store and task queue; A executes the parent,
// which waits for a worker on its next task after its child completed.
// The child restarted or rerun through A (the executor itself) or through B
// (the re-open travels to A through the run store) re-opens the parent's
// SUB_WORKFLOW task, as Conductor's updateAndPushParents does: the same
// record IN_PROGRESS with the same child, the parent RUNNING; when the
// child completes again the record completes with its new output, and the
// parent completes once its next task does.
func TestRestartOfAChildReopensTheParentAServeProcessExecutes(t *testing.T) {
	for _, tc := range []struct{ op, through string }{{"restart", "A"}, {"restart", "B"}, {"rerun", "A"}, {"rerun", "B"}} {
		through := tc.through
		t.Run(tc.op+" through "+through, func(t *testing.T) {
			ss := newSharedServers(t)
			a, _ := ss.start(t)
			b, _ := ss.start(t)
			restarter := map[string]*testServer{"A": a, "B": b}[through]
			for _, d := range []string{reopenChildDef, reopenParentDef} {
				if st, _, body := a.do(t, "POST", "/api/metadata/workflow", d); st != 200 {
					t.Fatalf("register: %d %s", st, body)
				}
			}
			st, _, parent := a.do(t, "POST", "/api/workflow/reopen_parent", `{}`)
			if st != 200 {
				t.Fatalf("start: %d %s", st, parent)
			}
			answerTask(t, b, "child_task", "first")
			before := waitExec(t, b, parent, "its next task", func(v execView) bool {
				return len(v.Tasks) == 2 && v.Tasks[0].Status == "COMPLETED" && v.Tasks[1].Status == "SCHEDULED"
			})
			sub := before.Tasks[0]
			if tc.op == "restart" {
				if st, _, body := restarter.do(t, "POST", "/api/workflow/"+sub.SubWorkflowID+"/restart", ""); st != 204 {
					t.Fatalf("restart of the child: %d %s", st, body)
				}
			} else if st, _, body := restarter.do(t, "POST", "/api/workflow/"+sub.SubWorkflowID+"/rerun", `{}`); st != 200 {
				t.Fatalf("rerun of the child: %d %s", st, body)
			}
			reopened := waitExec(t, b, parent, "its SUB_WORKFLOW task re-opened", func(v execView) bool {
				return len(v.Tasks) == 2 && v.Tasks[0].Status == "IN_PROGRESS"
			})
			if reopened.Status != "RUNNING" || reopened.Tasks[0].TaskID != sub.TaskID || reopened.Tasks[0].SubWorkflowID != sub.SubWorkflowID {
				t.Fatalf("parent after the restart of its child: %+v, want RUNNING with %s IN_PROGRESS on child %s", reopened, sub.TaskID, sub.SubWorkflowID)
			}
			waitExec(t, b, sub.SubWorkflowID, "RUNNING", func(v execView) bool { return v.Status == "RUNNING" })
			answerTask(t, b, "child_task", "second")
			waitExec(t, b, sub.SubWorkflowID, "COMPLETED", func(v execView) bool { return v.Status == "COMPLETED" })
			p := waitExec(t, b, parent, "its SUB_WORKFLOW task completed again", func(v execView) bool {
				return len(v.Tasks) == 2 && v.Tasks[0].Status == "COMPLETED"
			})
			if p.Status != "RUNNING" || p.Tasks[0].Output["by"] != "second" || p.Tasks[0].TaskID != sub.TaskID {
				t.Fatalf("parent after its child completed again: %+v", p)
			}
			answerTask(t, b, "after_task", "after")
			p = waitExec(t, b, parent, "COMPLETED", func(v execView) bool { return v.Status == "COMPLETED" })
			if len(p.Tasks) != 2 || p.Tasks[0].TaskID != sub.TaskID || p.Tasks[0].SubWorkflowID != sub.SubWorkflowID || p.Tasks[1].Status != "COMPLETED" {
				t.Fatalf("parent at its end: %+v", p)
			}
		})
	}
}

// TestPausedParentAnotherServeProcessExecutesIsReopenedAtOnce: A executes
// the parent, paused through B; the child restarted through B re-opens it
// in A, as Conductor's updateAndPushParents does whatever the parent's
// status: its SUB_WORKFLOW task IN_PROGRESS and the parent RUNNING again.
// B stores the pause and the re-open as signals and tells A over Redis, so
// A takes each at once rather than at its lease keeper's next look (about
// a second; the pause is taken at such a look without the notice, and the
// re-open would then wait for the next).
func TestPausedParentAnotherServeProcessExecutesIsReopenedAtOnce(t *testing.T) {
	const quick = 500 * time.Millisecond
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	for _, d := range []string{reopenChildDef, reopenParentDef} {
		if st, _, body := a.do(t, "POST", "/api/metadata/workflow", d); st != 200 {
			t.Fatalf("register: %d %s", st, body)
		}
	}
	st, _, parent := a.do(t, "POST", "/api/workflow/reopen_parent", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, parent)
	}
	answerTask(t, b, "child_task", "first")
	before := waitExec(t, b, parent, "its next task", func(v execView) bool {
		return len(v.Tasks) == 2 && v.Tasks[0].Status == "COMPLETED" && v.Tasks[1].Status == "SCHEDULED"
	})
	sub := before.Tasks[0]
	t0 := time.Now()
	if st, _, body := b.do(t, "PUT", "/api/workflow/"+parent+"/pause", ""); st != 200 {
		t.Fatalf("pause: %d %s", st, body)
	}
	if d := time.Since(t0); d > quick {
		t.Errorf("pause through B took %v, want under %v", d, quick)
	}
	waitExec(t, b, parent, "PAUSED", func(v execView) bool { return v.Status == "PAUSED" })
	t0 = time.Now()
	if st, _, body := b.do(t, "POST", "/api/workflow/"+sub.SubWorkflowID+"/restart", ""); st != 204 {
		t.Fatalf("restart of the child: %d %s", st, body)
	}
	reopened := waitExec(t, b, parent, "its SUB_WORKFLOW task re-opened", func(v execView) bool {
		return len(v.Tasks) == 2 && v.Tasks[0].Status == "IN_PROGRESS"
	})
	if d := time.Since(t0); d > quick {
		t.Errorf("the re-open reached A after %v, want under %v", d, quick)
	}
	if reopened.Status != "RUNNING" || reopened.Tasks[0].TaskID != sub.TaskID || reopened.Tasks[0].SubWorkflowID != sub.SubWorkflowID {
		t.Fatalf("paused parent after the restart of its child: %+v, want RUNNING with %s IN_PROGRESS on child %s", reopened, sub.TaskID, sub.SubWorkflowID)
	}
	answerTask(t, b, "child_task", "second")
	waitExec(t, b, sub.SubWorkflowID, "COMPLETED", func(v execView) bool { return v.Status == "COMPLETED" })
	answerTask(t, b, "after_task", "after")
	p := waitExec(t, b, parent, "COMPLETED", func(v execView) bool { return v.Status == "COMPLETED" })
	if len(p.Tasks) != 2 || p.Tasks[0].TaskID != sub.TaskID || p.Tasks[0].Output["by"] != "second" || p.Tasks[1].Status != "COMPLETED" {
		t.Fatalf("parent at its end: %+v", p)
	}
}
