package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/store/seal"
)

// TestConductorQueueResiliencySpec follows QueueResiliencySpec's cases whose
// call fails when the queue is unavailable, on integration_test_wf through
// wfrun serve on a shared Redis (which holds wfrun's runs and task queue
// alike, so the whole Redis goes down). With it down: starting a workflow,
// restarting, rerunning or retrying a terminated one, resuming a paused
// one and resetting a run's callbacks each answer a one-line 5xx error,
// and a poll answers no task. (The spec's IN_PROGRESS update with
// callbackAfterSeconds failing is TestTaskUpdateIsAcknowledgedOnceStored.)
// Once Redis is back nothing of those calls shows: no run was
// added, the terminated runs are TERMINATED with integration_task_1
// CANCELED (as the spec asserts for retry; for restart and rerun the spec
// expects a run left with no tasks, which wfrun never leaves), the paused
// run is PAUSED with integration_task_1 SCHEDULED, and the polled task is
// still the worker's: its COMPLETED update is taken and integration_task_2
// is SCHEDULED.
func TestConductorQueueResiliencySpec(t *testing.T) {
	rs := redistest.StartServer(t, redistest.Persistent())
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	ss := &sharedServers{addr: rs.Addr(), url: "redis://" + rs.Addr() + "/0", defs: t.TempDir(), ring: ring}
	a := rsShared(t, ss, "simple_workflow_1_integration_test.json")
	const input = `{"param1":"p1 value","param2":"p2 value"}`
	start := func() string {
		id := rsStart(t, a, "integration_test_wf", "", input)
		d := rsWait(t, a, id, "integration_task_1 SCHEDULED", func(d rsDoc) bool { return len(d.Tasks) == 1 })
		if d.Status != "RUNNING" || rsTasks(d) != "integration_task_1:SCHEDULED" {
			t.Fatalf("after start: %s %s", d.Status, rsTasks(d))
		}
		return id
	}
	waitCallback := start()
	got := rsPoll(t, a, "integration_task_1", 2000)
	if len(got) != 1 || got[0]["workflowInstanceId"] != waitCallback {
		t.Fatalf("poll: %v", got)
	}
	update := func(id, taskID, status string, callback int) (int, string) {
		st, _, body := a.do(t, "POST", "/api/tasks", `{"workflowInstanceId":"`+id+`","taskId":"`+taskID+
			`","workerId":"test","status":"`+status+`","callbackAfterSeconds":`+itoa(callback)+`}`)
		return st, body
	}
	if st, body := update(waitCallback, got[0]["taskId"].(string), "IN_PROGRESS", 120); st != 200 {
		t.Fatalf("IN_PROGRESS update: %d %s", st, body)
	}
	withWorker := start()
	got = rsPoll(t, a, "integration_task_1", 2000)
	if len(got) != 1 || got[0]["workflowInstanceId"] != withWorker {
		t.Fatalf("poll: %v", got)
	}
	polledTask := got[0]["taskId"].(string)
	terminated := map[string]string{} // call → run
	for _, call := range []string{"restart", "rerun", "retry"} {
		id := start()
		if st, _, body := a.do(t, "POST", "/api/workflow/"+id+"/terminate?reason=Terminated+from+a+test", ""); st != 200 {
			t.Fatalf("terminate: %d %s", st, body)
		}
		d := rsWait(t, a, id, "TERMINATED", func(d rsDoc) bool { return d.Status == "TERMINATED" })
		if rsTasks(d) != "integration_task_1:CANCELED" {
			t.Fatalf("terminated run: %s", rsTasks(d))
		}
		terminated[call] = id
	}
	paused := start()
	if st, _, body := a.do(t, "PUT", "/api/workflow/"+paused+"/pause", ""); st != 200 {
		t.Fatalf("pause: %d %s", st, body)
	}
	rsWait(t, a, paused, "PAUSED", func(d rsDoc) bool { return d.Status == "PAUSED" })
	count := func() string {
		st, _, body := a.do(t, "GET", "/api/workflow/search?query=workflowType%3Dintegration_test_wf", "")
		var res struct {
			TotalHits int `json:"totalHits"`
		}
		if st != 200 || json.Unmarshal([]byte(body), &res) != nil {
			t.Fatalf("search: %d %s", st, body)
		}
		return itoa(res.TotalHits)
	}
	before := count()

	rs.Stop()
	for _, tc := range []struct{ name, method, path, body string }{
		{"start", "POST", "/api/workflow", `{"name":"integration_test_wf","version":1,"input":` + input + `}`},
		{"restart", "POST", "/api/workflow/" + terminated["restart"] + "/restart?useLatestDefinitions=false", ""},
		{"rerun", "POST", "/api/workflow/" + terminated["rerun"] + "/rerun", `{"reRunFromWorkflowId":"` + terminated["rerun"] + `"}`},
		{"retry", "POST", "/api/workflow/" + terminated["retry"] + "/retry?resumeSubworkflowTasks=false", ""},
		{"resume", "PUT", "/api/workflow/" + paused + "/resume", ""},
		{"reset callbacks", "POST", "/api/workflow/" + waitCallback + "/resetcallbacks", ""},
	} {
		began := time.Now()
		st, _, body := a.do(t, tc.method, tc.path, tc.body)
		if st < 500 || strings.Count(strings.TrimSpace(body), "\n") > 0 {
			t.Errorf("%s with Redis down: %d %s; want a one-line 5xx", tc.name, st, body)
		}
		if took := time.Since(began); took > 15*time.Second {
			t.Errorf("%s with Redis down took %v", tc.name, took)
		}
	}
	if st, _, body := a.do(t, "GET", "/api/tasks/poll/integration_task_1", ""); st != 204 || body != "" {
		t.Errorf("poll with Redis down: %d %s; want 204", st, body)
	}

	rs.Restart()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if st, _, _ := a.do(t, "GET", "/api/workflow/"+paused, ""); st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the runs never came back with Redis")
		}
	}
	if after := count(); after != before {
		t.Errorf("%s runs after the failed start, %s before", after, before)
	}
	for call, id := range terminated {
		if d := rsGet(t, a, id); d.Status != "TERMINATED" || rsTasks(d) != "integration_task_1:CANCELED" {
			t.Errorf("after the failed %s: %s %s", call, d.Status, rsTasks(d))
		}
	}
	if d := rsGet(t, a, paused); d.Status != "PAUSED" || rsTasks(d) != "integration_task_1:SCHEDULED" {
		t.Errorf("after the failed resume: %s %s", d.Status, rsTasks(d))
	}
	if d := rsGet(t, a, waitCallback); d.Status != "RUNNING" || rsTasks(d) != "integration_task_1:SCHEDULED" || d.Tasks[0].Callback != 120 {
		t.Errorf("after the failed reset: %s %s, callbackAfterSeconds %d", d.Status, rsTasks(d), d.Tasks[0].Callback)
	}
	if st, body := update(withWorker, polledTask, "COMPLETED", 0); st != 200 {
		t.Fatalf("COMPLETED update after Redis came back: %d %s", st, body)
	}
	d := rsWait(t, a, withWorker, "integration_task_2", func(d rsDoc) bool { return len(d.Tasks) == 2 })
	if d.Status != "RUNNING" || rsTasks(d) != "integration_task_1:COMPLETED integration_task_2:SCHEDULED" {
		t.Fatalf("after the update: %s %s", d.Status, rsTasks(d))
	}
}
