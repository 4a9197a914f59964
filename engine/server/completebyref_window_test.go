package server_test

import (
	"strings"
	"testing"
)

// TestCompleteByRefOfWorkerTaskJustScheduled: a worker's task is stored
// SCHEDULED before it is handed to the task queue (a read of the run
// writes it at once; a startDelay keeps it there a while). An update by ref
// (POST /api/tasks/{workflowId}/{ref}/{status}) sent as soon as the run
// shows the task waits for the hand-over, as an update by id does, and is
// taken; it was refused as for a task "completed by wfrun itself". One
// held back from polls by its startDelay is in the queue with its delay,
// and taken as well, as Conductor's updateTask takes it.
func TestCompleteByRefOfWorkerTaskJustScheduled(t *testing.T) {
	for _, tc := range []struct {
		name       string
		startDelay int
		want       int
		wantBody   string
	}{
		{"handed over within the wait", 1, 200, ""},
		{"held back by its startDelay", 30, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newConductorServer(t, nil)
			if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", `{"name":"wants_approval","version":1,"schemaVersion":2,"tasks":[
			  {"name":"approve_worker","taskReferenceName":"approve","type":"SIMPLE","startDelay":`+itoa(tc.startDelay)+`}]}`); st != 200 {
				t.Fatalf("register: %d %s", st, body)
			}
			_, _, id := ts.do(t, "POST", "/api/workflow", `{"name":"wants_approval","input":{}}`)
			waitView(t, ts.testServer, id, `"referenceTaskName":"approve"`)
			st, _, body := ts.do(t, "POST", "/api/tasks/"+id+"/approve/COMPLETED", `{"by":"bob"}`)
			if st != tc.want || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("update by ref of the task the run showed: %d %s, want %d %s", st, body, tc.want, tc.wantBody)
			}
			if st != 200 {
				return
			}
			view := waitView(t, ts.testServer, id, `"status":"COMPLETED"`)
			if !strings.Contains(view, `"by":"bob"`) {
				t.Errorf("the answer is not the task's output: %s", view)
			}
		})
	}
}
