package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestWholeUpdateThroughAnotherProcess: a worker's update of a task whose
// run another serve process executes is applied whole, as one made there:
// IN_PROGRESS, its outputData, reasonForIncompletion and log lines are
// stored before the answer (a read right after it shows them), the task
// SCHEDULED again as Conductor's updateTask puts a worker task; FAILED, its
// reasonForIncompletion is the task's and words the run's failure, the
// task's end stored before the answer.
func TestWholeUpdateThroughAnotherProcess(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	for path, body := range map[string]string{
		"/api/metadata/taskdefs": `[{"name":"mp_task","retryCount":0,"timeoutSeconds":0,"responseTimeoutSeconds":3600}]`,
		"/api/metadata/workflow": `{"name":"mp_flow","version":1,"schemaVersion":2,"tasks":[{"name":"mp_task","taskReferenceName":"work","type":"SIMPLE"}]}`,
	} {
		if st, _, out := a.do(t, "POST", path, body); st != 200 && st != 204 {
			t.Fatalf("%s: %d %s", path, st, out)
		}
	}
	_, _, id := a.do(t, "POST", "/api/workflow/mp_flow", `{}`)
	pollB := func() string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			_, _, body := b.do(t, "GET", "/api/tasks/poll/batch/mp_task?workerid=wb&count=1&timeout=500", "")
			var got []map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("poll on B: %s", body)
			}
			if len(got) == 1 {
				return got[0]["taskId"].(string)
			}
		}
		t.Fatal("B handed out no task of A's run")
		return ""
	}
	update := func(task, status string, more map[string]any) {
		t.Helper()
		upd := map[string]any{"taskId": task, "workflowInstanceId": id, "status": status}
		for k, v := range more {
			upd[k] = v
		}
		body, _ := json.Marshal(upd)
		if st, _, out := b.do(t, "POST", "/api/tasks", string(body)); st != 200 {
			t.Fatalf("%s update through B: %d %s", status, st, out)
		}
	}
	type record struct {
		TaskID string         `json:"taskId"`
		Status string         `json:"status"`
		Reason string         `json:"reasonForIncompletion"`
		Output map[string]any `json:"outputData"`
	}
	read := func() (string, string, record) {
		t.Helper()
		_, _, body := b.do(t, "GET", "/api/workflow/"+id, "")
		var wf struct {
			Status string   `json:"status"`
			Reason string   `json:"reasonForIncompletion"`
			Tasks  []record `json:"tasks"`
		}
		if err := json.Unmarshal([]byte(body), &wf); err != nil || len(wf.Tasks) != 1 {
			t.Fatalf("run: %s", body)
		}
		return wf.Status, wf.Reason, wf.Tasks[0]
	}

	task := pollB()
	update(task, "IN_PROGRESS", map[string]any{"outputData": map[string]any{"p": "half"}, "reasonForIncompletion": "halfway",
		"callbackAfterSeconds": 0, "logs": []map[string]any{{"log": "first line"}}})
	// Read at once: stored before the update's answer.
	if _, _, tk := read(); tk.Status != "SCHEDULED" || tk.Output["p"] != "half" || tk.Reason != "halfway" {
		t.Fatalf("after an IN_PROGRESS update through B: %+v, want SCHEDULED with outputData p half and reason halfway", tk)
	}
	if _, _, logs := b.do(t, "GET", "/api/tasks/"+task+"/log", ""); !strings.Contains(logs, "first line") {
		t.Fatalf("the update's log lines: %s", logs)
	}

	if again := pollB(); again != task {
		t.Fatalf("polled %s after the IN_PROGRESS update, want %s again", again, task)
	}
	update(task, "FAILED", map[string]any{"outputData": map[string]any{"f": "out"}, "reasonForIncompletion": "broke"})
	// Read at once: the task's end is stored before the update's answer.
	if _, _, tk := read(); tk.Status != "FAILED" || tk.Reason != "broke" || tk.Output["f"] != "out" {
		t.Fatalf("after a FAILED update through B: %+v, want FAILED with reason broke and outputData f out", tk)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, reason, tk := read()
		if st == "RUNNING" && time.Now().Before(deadline) {
			continue
		}
		if want := "Task " + task + " failed with status: FAILED and reason: 'broke'"; st != "FAILED" || reason != want || tk.Reason != "broke" || tk.Output["f"] != "out" {
			t.Fatalf("after a FAILED update through B: run %s %q, task %+v; want FAILED %q, the task's reason broke", st, reason, tk, want)
		}
		break
	}
}
