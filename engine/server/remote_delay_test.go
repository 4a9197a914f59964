package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// A worker task that waits before a worker may take it — a retry during
// its retryDelaySeconds, a first attempt during its startDelay — is in
// Conductor a task its queue holds with a delay: no poll gets it before
// the delay has passed, and an update by its task id (POST /api/tasks)
// is taken at once. The tests run on the real clock with delays of 60 s,
// so an update that waited for the delay would time the test out.

const delayedTaskDefs = `[{"name":"delayed_task","retryCount":1,"retryDelaySeconds":60,"timeoutSeconds":3600,"responseTimeoutSeconds":600}]`

const delayedRetryDef = `{"name":"delayed_retry","version":1,"schemaVersion":2,
 "tasks":[{"name":"delayed_task","taskReferenceName":"work","type":"SIMPLE"}],
 "outputParameters":{"r":"${work.output.r}"}}`

const delayedStartDef = `{"name":"delayed_start","version":1,"schemaVersion":2,
 "tasks":[{"name":"delayed_task","taskReferenceName":"work","type":"SIMPLE","startDelay":60}],
 "outputParameters":{"r":"${work.output.r}"}}`

// delayOK sends a request to s that must answer 200 or 204.
func delayOK(t *testing.T, s *testServer, method, path, body string) string {
	t.Helper()
	st, _, b := s.do(t, method, path, body)
	if st != 200 && st != 204 {
		t.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	return b
}

// delayAwait reads run id from s until check passes.
func delayAwait(t *testing.T, s *testServer, id string, check func(ctlDoc) string) ctlDoc {
	t.Helper()
	var d ctlDoc
	why := ""
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := json.Unmarshal([]byte(delayOK(t, s, "GET", "/api/workflow/"+id+"?includeTasks=true", "")), &d); err != nil {
			t.Fatal(err)
		}
		if why = check(d); why == "" {
			return d
		}
	}
	t.Fatalf("run %s: %s (%s)", id, why, d.shape())
	return d
}

// delayUpdate answers task taskID of run id through s.
func delayUpdate(t *testing.T, s *testServer, id, taskID, status, extra string) {
	t.Helper()
	delayOK(t, s, "POST", "/api/tasks", fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":%q%s}`, id, taskID, status, extra))
}

// delayPoll polls delayed_task on s, waiting up to ms.
func delayPoll(t *testing.T, s *testServer, ms int) []map[string]any {
	t.Helper()
	var got []map[string]any
	body := delayOK(t, s, "GET", fmt.Sprintf("/api/tasks/poll/batch/delayed_task?workerid=w&count=1&timeout=%d", ms), "")
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("poll: %v: %s", err, body)
	}
	return got
}

// delayRetried starts delayed_retry on exec, has a worker polling poll
// take its first attempt and fail it: the run's second task is the retry,
// SCHEDULED with callbackAfterSeconds 60, which no poll of any server gets.
func delayRetried(t *testing.T, exec, poll *testServer, servers ...*testServer) (id string, retry ctlTask) {
	t.Helper()
	id = delayOK(t, exec, "POST", "/api/workflow/delayed_retry", `{}`)
	got := delayPoll(t, poll, 5000)
	if len(got) != 1 {
		t.Fatalf("the first attempt was not handed out: %v", got)
	}
	first, _ := got[0]["taskId"].(string)
	delayUpdate(t, poll, id, first, "FAILED", `,"reasonForIncompletion":"try again"`)
	d := delayAwait(t, exec, id, func(d ctlDoc) string {
		if d.Status != "RUNNING" || len(d.Tasks) != 2 || d.Tasks[0].Status != "FAILED" || d.Tasks[1].Status != "SCHEDULED" {
			return "want RUNNING, the first attempt FAILED, its retry SCHEDULED"
		}
		return ""
	})
	if cb := d.Tasks[1].CallbackAfterSeconds; cb != 60 {
		t.Errorf("the retry's callbackAfterSeconds = %d, want 60", cb)
	}
	for _, s := range servers {
		if got := delayPoll(t, s, 0); len(got) != 0 {
			t.Fatalf("a poll during the retry's delay got %v", got)
		}
	}
	return id, d.Tasks[1]
}

// delayCompleted waits for run id to complete with output r.
func delayCompleted(t *testing.T, s *testServer, id, r string) {
	t.Helper()
	delayAwait(t, s, id, func(d ctlDoc) string {
		if d.Status != "COMPLETED" || d.Output["r"] != r {
			return fmt.Sprintf("want COMPLETED with output r %q; output %v", r, d.Output)
		}
		return ""
	})
}

// TestRemoteRetryUpdatedDuringDelay: the retry of a failed worker task is
// answered by its id during its retryDelaySeconds, with COMPLETED, or with
// IN_PROGRESS (callbackAfterSeconds 0: a poll gets it at once, as
// Conductor's updateTask puts it back in the queue without a delay).
func TestRemoteRetryUpdatedDuringDelay(t *testing.T) {
	t.Run("COMPLETED", func(t *testing.T) {
		ts := ctlServer(t)
		ctlTaskDefs(t, ts, delayedTaskDefs)
		ctlUpdateDefs(t, ts, "["+delayedRetryDef+"]")
		id, retry := delayRetried(t, ts.testServer, ts.testServer, ts.testServer)
		delayUpdate(t, ts.testServer, id, retry.TaskID, "COMPLETED", `,"outputData":{"r":"during the delay"}`)
		delayCompleted(t, ts.testServer, id, "during the delay")
	})
	t.Run("IN_PROGRESS", func(t *testing.T) {
		ts := ctlServer(t)
		ctlTaskDefs(t, ts, delayedTaskDefs)
		ctlUpdateDefs(t, ts, "["+delayedRetryDef+"]")
		id, retry := delayRetried(t, ts.testServer, ts.testServer, ts.testServer)
		delayUpdate(t, ts.testServer, id, retry.TaskID, "IN_PROGRESS", `,"callbackAfterSeconds":0`)
		got := delayPoll(t, ts.testServer, 5000)
		if len(got) != 1 || got[0]["taskId"] != retry.TaskID {
			t.Fatalf("a poll after the IN_PROGRESS update got %v, want the retry %s", got, retry.TaskID)
		}
		delayUpdate(t, ts.testServer, id, retry.TaskID, "COMPLETED", `,"outputData":{"r":"polled"}`)
		delayCompleted(t, ts.testServer, id, "polled")
	})
}

// TestRemoteRetryUpdatedDuringDelayShared: two serve processes share a
// Redis run store and task queue; A executes the run, a worker polls its
// task from B and fails it. During the retry's delay no poll of either
// gets it, and its answer is taken at once through either process.
func TestRemoteRetryUpdatedDuringDelayShared(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	delayOK(t, a, "POST", "/api/metadata/taskdefs", delayedTaskDefs)
	delayOK(t, a, "POST", "/api/metadata/workflow", delayedRetryDef)
	for _, tc := range []struct {
		name    string
		through *testServer
	}{{"through the executing process", a}, {"through another process", b}} {
		t.Run(tc.name, func(t *testing.T) {
			id, retry := delayRetried(t, a, b, a, b)
			delayUpdate(t, tc.through, id, retry.TaskID, "COMPLETED", `,"outputData":{"r":"shared"}`)
			delayCompleted(t, b, id, "shared")
		})
	}
}

// TestRemoteStartDelayUpdated: a worker task with startDelay is SCHEDULED
// at once; no poll gets it during the delay, and an update by its id is
// taken then.
func TestRemoteStartDelayUpdated(t *testing.T) {
	ts := ctlServer(t)
	ctlTaskDefs(t, ts, delayedTaskDefs)
	ctlUpdateDefs(t, ts, "["+delayedStartDef+"]")
	id := ctlStart(t, ts, `{"name":"delayed_start","version":1}`)
	d := delayAwait(t, ts.testServer, id, func(d ctlDoc) string {
		if len(d.Tasks) != 1 || d.Tasks[0].Status != "SCHEDULED" {
			return "want the task SCHEDULED"
		}
		return ""
	})
	if got := delayPoll(t, ts.testServer, 0); len(got) != 0 {
		t.Fatalf("a poll during the start delay got %v", got)
	}
	delayUpdate(t, ts.testServer, id, d.Tasks[0].TaskID, "COMPLETED", `,"outputData":{"r":"early"}`)
	delayCompleted(t, ts.testServer, id, "early")
}
