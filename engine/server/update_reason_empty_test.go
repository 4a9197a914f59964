package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// rawTaskReason is the reasonForIncompletion of run id's only task as the
// API sends it, has false when the member is absent (Conductor's null,
// which its JSON leaves out), and the run's status and reason.
func rawTaskReason(t *testing.T, do func(t *testing.T, method, path, body string, hdr ...string) (int, string, string), id string) (status, reason string, has bool, runStatus, runReason string) {
	t.Helper()
	st, _, body := do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
	if st != 200 {
		t.Fatalf("get %s: %d %s", id, st, body)
	}
	var wf struct {
		Status string                       `json:"status"`
		Reason string                       `json:"reasonForIncompletion"`
		Tasks  []map[string]json.RawMessage `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(body), &wf); err != nil || len(wf.Tasks) != 1 {
		t.Fatalf("run %s: %s", id, body)
	}
	_ = json.Unmarshal(wf.Tasks[0]["status"], &status)
	raw, has := wf.Tasks[0]["reasonForIncompletion"]
	if has {
		if err := json.Unmarshal(raw, &reason); err != nil {
			t.Fatalf("task reasonForIncompletion %s", raw)
		}
	}
	return status, reason, has, wf.Status, wf.Reason
}

// TestTaskUpdateEmptyReasonIsNotNull: Conductor keeps a TaskResult's
// reasonForIncompletion as it is (TaskResult.setReasonForIncompletion
// cuts it, StringUtils.substring keeping "" and null apart;
// WorkflowExecutorOps.updateTask sets it on the task), and its JSON
// leaves a null member out. So a worker's update giving "" shows "" on
// the task, one giving none shows none (the member absent), and the run
// failing on the task words it ” or 'null' (DeciderService formats the
// task's reason as Java does). An IN_PROGRESS update's "" stays through
// the next poll and an update by reference (TaskResult(pending)).
func TestTaskUpdateEmptyReasonIsNotNull(t *testing.T) {
	c := newE2EClient(t, nil)
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"ers_worker","retryCount":0,"timeoutSeconds":0,"responseTimeoutSeconds":3600}]`); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", `{"name":"ers_flow","version":1,"schemaVersion":2,
	  "tasks":[{"name":"ers_worker","taskReferenceName":"w","type":"SIMPLE"}]}`); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	poll := func(id string) string {
		t.Helper()
		var task model.Task
		c.await("a poll finds "+id+"'s task", func() error {
			var err error
			task, _, err = c.tc.Poll(c.ctx, "ers_worker", &client.TaskResourceApiPollOpts{Workerid: optional.NewString("ers")})
			if err != nil || task.WorkflowInstanceId != id {
				return fmt.Errorf("polled %q: %v", task.WorkflowInstanceId, err)
			}
			return nil
		})
		return task.TaskId
	}
	// update sends the TaskResult as JSON (the Go client's model leaves an
	// empty reason out).
	update := func(id, task, status string, reason *string) {
		t.Helper()
		res := map[string]any{"workflowInstanceId": id, "taskId": task, "status": status, "outputData": map[string]any{}}
		if reason != nil {
			res["reasonForIncompletion"] = *reason
		}
		b, _ := json.Marshal(res)
		if st, _, body := c.ts.do(t, "POST", "/api/tasks", string(b)); st != 200 {
			t.Fatalf("update %s %s: %d %s", task, status, st, body)
		}
	}
	expect := func(id, status string, reason *string) {
		t.Helper()
		c.await(fmt.Sprintf("%s's task %s with reason %v", id, status, show(reason)), func() error {
			st, got, has, _, _ := rawTaskReason(t, c.ts.do, id)
			if st != status || has != (reason != nil) || (reason != nil && got != *reason) {
				return fmt.Errorf("task %s, reason %q (present %v)", st, got, has)
			}
			return nil
		})
	}
	runReason := func(id, task, shown string) {
		t.Helper()
		c.awaitStatus(id, "FAILED")
		if _, _, _, _, got := rawTaskReason(t, c.ts.do, id); got != "Task "+task+" failed with status: FAILED and reason: '"+shown+"'" {
			t.Errorf("run %s: reasonForIncompletion %q, want the reason '%s'", id, got, shown)
		}
	}
	empty := ""

	// FAILED giving "": the task's reason is "", the run's ''.
	id := c.start("ers_flow")
	task := poll(id)
	update(id, task, "FAILED", &empty)
	expect(id, "FAILED", &empty)
	runReason(id, task, "")

	// FAILED giving none: none, and 'null'.
	id = c.start("ers_flow")
	task = poll(id)
	update(id, task, "FAILED", nil)
	expect(id, "FAILED", nil)
	runReason(id, task, "null")

	// IN_PROGRESS giving "": "" on the task put back SCHEDULED, kept by
	// the next poll and by an update by reference, which words the run's
	// failure ''.
	id = c.start("ers_flow")
	task = poll(id)
	update(id, task, "IN_PROGRESS", &empty)
	expect(id, "SCHEDULED", &empty)
	if poll(id) != task {
		t.Fatal("the task polled again is another")
	}
	expect(id, "IN_PROGRESS", &empty)
	if _, _, err := c.tc.UpdateTaskByRefName(c.ctx, map[string]any{}, id, "w", "FAILED"); err != nil {
		t.Fatalf("update by reference: %v", err)
	}
	expect(id, "FAILED", &empty)
	runReason(id, task, "")
}

func show(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}

// TestEmptyReasonThroughAnotherProcess: an update giving "" through a
// serve process that does not execute the run is applied as one made
// there (IN_PROGRESS sealed to the owner, FAILED sealed into the run
// store): the task's reason "", not none, and the run's failure ”.
func TestEmptyReasonThroughAnotherProcess(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	for path, body := range map[string]string{
		"/api/metadata/taskdefs": `[{"name":"erp_task","retryCount":0,"timeoutSeconds":0,"responseTimeoutSeconds":3600}]`,
		"/api/metadata/workflow": `{"name":"erp_flow","version":1,"schemaVersion":2,"tasks":[{"name":"erp_task","taskReferenceName":"work","type":"SIMPLE"}]}`,
	} {
		if st, _, out := a.do(t, "POST", path, body); st != 200 && st != 204 {
			t.Fatalf("%s: %d %s", path, st, out)
		}
	}
	pollB := func(id string) string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			_, _, body := b.do(t, "GET", "/api/tasks/poll/batch/erp_task?workerid=wb&count=1&timeout=500", "")
			var got []map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("poll on B: %s", body)
			}
			if len(got) == 1 && got[0]["workflowInstanceId"] == id {
				return got[0]["taskId"].(string)
			}
		}
		t.Fatal("B handed out no task of A's run")
		return ""
	}
	update := func(id, task, status string) {
		t.Helper()
		body := fmt.Sprintf(`{"taskId":%q,"workflowInstanceId":%q,"status":%q,"reasonForIncompletion":""}`, task, id, status)
		if st, _, out := b.do(t, "POST", "/api/tasks", body); st != 200 {
			t.Fatalf("%s update through B: %d %s", status, st, out)
		}
	}
	_, _, id := a.do(t, "POST", "/api/workflow/erp_flow", `{}`)
	task := pollB(id)
	update(id, task, "IN_PROGRESS")
	// Read at once: stored before the update's answer.
	if st, reason, has, _, _ := rawTaskReason(t, b.do, id); st != "SCHEDULED" || !has || reason != "" {
		t.Fatalf("after an IN_PROGRESS update giving \"\" through B: task %s, reason %q (present %v); want SCHEDULED, \"\"", st, reason, has)
	}
	if again := pollB(id); again != task {
		t.Fatalf("polled %s, want %s again", again, task)
	}
	update(id, task, "FAILED")
	if st, reason, has, _, _ := rawTaskReason(t, b.do, id); st != "FAILED" || !has || reason != "" {
		t.Fatalf("after a FAILED update giving \"\" through B: task %s, reason %q (present %v); want FAILED, \"\"", st, reason, has)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, _, st, reason := rawTaskReason(t, b.do, id)
		if st == "RUNNING" && time.Now().Before(deadline) {
			continue
		}
		if want := "Task " + task + " failed with status: FAILED and reason: ''"; st != "FAILED" || reason != want {
			t.Fatalf("run %s %q, want FAILED %q", st, reason, want)
		}
		break
	}
}

// TestCompletedUpdateKeepsReason: WorkflowExecutorOps.updateTask sets the
// TaskResult's reasonForIncompletion on the task whatever its status, so
// a worker completing its task with a reason leaves it on the COMPLETED
// task, and a completion by reference keeps the pending task's
// (TaskResult(pending)): by id here and through a serve process that
// does not execute the run, and by reference after an IN_PROGRESS update
// gave one.
func TestCompletedUpdateKeepsReason(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	for path, body := range map[string]string{
		"/api/metadata/taskdefs": `[{"name":"ckr_task","retryCount":0,"timeoutSeconds":0,"responseTimeoutSeconds":3600}]`,
		"/api/metadata/workflow": `{"name":"ckr_flow","version":1,"schemaVersion":2,"tasks":[{"name":"ckr_task","taskReferenceName":"work","type":"SIMPLE"}]}`,
	} {
		if st, _, out := a.do(t, "POST", path, body); st != 200 && st != 204 {
			t.Fatalf("%s: %d %s", path, st, out)
		}
	}
	poll := func(s *testServer, id string) string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			_, _, body := s.do(t, "GET", "/api/tasks/poll/batch/ckr_task?workerid=w&count=1&timeout=500", "")
			var got []map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("poll: %s", body)
			}
			if len(got) == 1 && got[0]["workflowInstanceId"] == id {
				return got[0]["taskId"].(string)
			}
		}
		t.Fatal("no task of the run handed out")
		return ""
	}
	update := func(s *testServer, id, task, status, reason string) {
		t.Helper()
		body := fmt.Sprintf(`{"taskId":%q,"workflowInstanceId":%q,"status":%q,"reasonForIncompletion":%q}`, task, id, status, reason)
		if st, _, out := s.do(t, "POST", "/api/tasks", body); st != 200 {
			t.Fatalf("%s update: %d %s", status, st, out)
		}
	}
	expect := func(id, reason string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			st, got, has, run, _ := rawTaskReason(t, a.do, id)
			if st == "COMPLETED" && run == "COMPLETED" && has && got == reason {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s, task %s with reason %q (present %v); want both COMPLETED, the task's reason %q", run, st, got, has, reason)
			}
		}
	}
	for _, s := range []*testServer{a, b} {
		_, _, id := a.do(t, "POST", "/api/workflow/ckr_flow", `{}`)
		update(s, id, poll(s, id), "COMPLETED", "done, oddly")
		expect(id, "done, oddly")
	}
	_, _, id := a.do(t, "POST", "/api/workflow/ckr_flow", `{}`)
	update(a, id, poll(a, id), "IN_PROGRESS", "halfway")
	poll(a, id)
	if st, _, out := a.do(t, "POST", "/api/tasks/"+id+"/work/COMPLETED", `{}`); st != 200 {
		t.Fatalf("COMPLETED update by reference: %d %s", st, out)
	}
	expect(id, "halfway")
}

// TestSubWorkflowUpdateAndSignalKeepEmptyReason: the update of a
// SUB_WORKFLOW task (WorkflowExecutorOps.updateTask sets the TaskResult's
// reasonForIncompletion on it, whatever the status) and a signal
// (TaskServiceImpl.signalTask builds its TaskResult from the pending WAIT,
// TaskResult(pending), whose reason it keeps) keep "" apart from none, as
// a worker's update does: "" shows "", none shows none, and the run
// failing on the task words it ” (or 'null'). A signal keeps a text
// reason the pending WAIT has too.
func TestSubWorkflowUpdateAndSignalKeepEmptyReason(t *testing.T) {
	c := newE2EClient(t, nil)
	for _, def := range []string{`{"name":"sre_child","version":1,"schemaVersion":2,
	  "tasks":[{"name":"hold","taskReferenceName":"hold","type":"WAIT"}]}`,
		`{"name":"sre_parent","version":1,"schemaVersion":2,
	  "tasks":[{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"sre_child","version":1}}]}`,
		`{"name":"sre_wait","version":1,"schemaVersion":2,
	  "tasks":[{"name":"gate","taskReferenceName":"gate","type":"WAIT"}]}`} {
		if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
			t.Fatalf("register: %d %s", st, body)
		}
	}
	empty, halfway := "", "halfway"
	update := func(body map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		if st, _, out := c.ts.do(t, "POST", "/api/tasks", string(b)); st != 200 {
			t.Fatalf("update %s: %d %s", b, st, out)
		}
	}
	expect := func(id, status string, reason *string) {
		t.Helper()
		c.await(fmt.Sprintf("%s's task %s with reason %s", id, status, show(reason)), func() error {
			st, got, has, _, _ := rawTaskReason(t, c.ts.do, id)
			if st != status || has != (reason != nil) || (reason != nil && got != *reason) {
				return fmt.Errorf("task %s, reason %q (present %v)", st, got, has)
			}
			return nil
		})
	}
	runReason := func(id, task, shown string) {
		t.Helper()
		c.awaitStatus(id, "FAILED")
		if _, _, _, _, got := rawTaskReason(t, c.ts.do, id); got != "Task "+task+" failed with status: FAILED and reason: '"+shown+"'" {
			t.Errorf("run %s: reasonForIncompletion %q, want the reason '%s'", id, got, shown)
		}
	}
	subTask := func(id string) model.Task {
		t.Helper()
		var tk model.Task
		c.await("the SUB_WORKFLOW task names its child", func() error {
			var err error
			if tk, err = c.onlyTaskByRef(id, "sub"); err != nil || tk.Status != "IN_PROGRESS" || tk.SubWorkflowId == "" {
				return fmt.Errorf("%s %q %v", tk.Status, tk.SubWorkflowId, err)
			}
			return nil
		})
		return tk
	}
	subUpdate := func(id string, tk model.Task, status string, reason *string) {
		t.Helper()
		body := map[string]any{"workflowInstanceId": id, "taskId": tk.TaskId, "status": status, "outputData": map[string]any{},
			"subWorkflowId": tk.SubWorkflowId}
		if reason != nil {
			body["reasonForIncompletion"] = *reason
		}
		update(body)
	}

	// SUB_WORKFLOW, IN_PROGRESS giving "": "" (stored before the answer),
	// kept by a COMPLETED update by reference (the Go client).
	id := c.start("sre_parent")
	tk := subTask(id)
	subUpdate(id, tk, "IN_PROGRESS", &empty)
	expect(id, "IN_PROGRESS", &empty)
	if _, _, err := c.tc.UpdateTaskByRefName(c.ctx, map[string]any{}, id, "sub", "COMPLETED"); err != nil {
		t.Fatalf("COMPLETED update by reference: %v", err)
	}
	expect(id, "COMPLETED", &empty)

	// SUB_WORKFLOW, COMPLETED giving "": "".
	id = c.start("sre_parent")
	subUpdate(id, subTask(id), "COMPLETED", &empty)
	expect(id, "COMPLETED", &empty)

	// SUB_WORKFLOW, FAILED giving "": "", and the run's ''.
	id = c.start("sre_parent")
	tk = subTask(id)
	subUpdate(id, tk, "FAILED", &empty)
	expect(id, "FAILED", &empty)
	runReason(id, tk.TaskId, "")

	// SUB_WORKFLOW, FAILED giving none: none, and 'null'.
	id = c.start("sre_parent")
	tk = subTask(id)
	subUpdate(id, tk, "FAILED", nil)
	expect(id, "FAILED", nil)
	runReason(id, tk.TaskId, "null")

	// A signal of a WAIT an update IN_PROGRESS gave "" (or a text): the
	// WAIT keeps it, COMPLETED or FAILED, and the run words it ''.
	for _, tc := range []struct {
		status string
		reason *string
	}{{"COMPLETED", &empty}, {"FAILED", &empty}, {"COMPLETED", &halfway}, {"FAILED", nil}} {
		id := c.start("sre_wait")
		task := c.awaitActive(id, "gate").TaskId
		body := map[string]any{"workflowInstanceId": id, "taskId": task, "status": "IN_PROGRESS", "outputData": map[string]any{}}
		if tc.reason != nil {
			body["reasonForIncompletion"] = *tc.reason
		}
		update(body)
		expect(id, "IN_PROGRESS", tc.reason)
		if st, _, out := c.ts.do(t, "POST", "/api/tasks/"+id+"/"+tc.status+"/signal", `{"by":"signal"}`); st != 200 {
			t.Fatalf("signal %s: %d %s", tc.status, st, out)
		}
		expect(id, tc.status, tc.reason)
		if tc.status == "FAILED" {
			shown := "null"
			if tc.reason != nil {
				shown = *tc.reason
			}
			runReason(id, task, shown)
		}
	}
}
