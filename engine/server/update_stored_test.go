package server_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/store/seal"
)

// QueueResiliencySpec "Verify updateTask with IN_PROGRESS state fails when
// QueueDAO is unavailable", through wfrun serve on a shared Redis (runs and
// task queue alike), and the same question for every status a worker sends:
// with the runs' Redis down, a worker's update of a task this process
// executes is not acknowledged — a one-line 500, retryable, as Conductor
// answers a TransientException — since it cannot be stored; nothing of it
// shows once Redis is back (the task is still IN_PROGRESS with its worker),
// and the worker sending it again, as Conductor's clients retry, has it
// taken: IN_PROGRESS with callbackAfterSeconds puts the task back SCHEDULED
// with its callback; COMPLETED schedules integration_task_2; FAILED retries
// integration_task_1 (retryCount 1); FAILED_WITH_TERMINAL_ERROR fails the
// run. Before, the process took each of them in memory and answered 200,
// and an update it could not write was lost with the process.
func TestTaskUpdateIsAcknowledgedOnceStored(t *testing.T) {
	for _, tc := range []struct {
		status   string
		callback int
		run      string // the run's status once the update is taken
		tasks    string
	}{
		{"IN_PROGRESS", 120, "RUNNING", "integration_task_1:SCHEDULED"},
		{"COMPLETED", 0, "RUNNING", "integration_task_1:COMPLETED integration_task_2:SCHEDULED"},
		{"FAILED", 0, "RUNNING", "integration_task_1:FAILED integration_task_1:SCHEDULED"},
		{"FAILED_WITH_TERMINAL_ERROR", 0, "FAILED", "integration_task_1:FAILED_WITH_TERMINAL_ERROR"},
	} {
		t.Run(tc.status, func(t *testing.T) {
			rs := redistest.StartServer(t, redistest.Persistent())
			ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
			if err != nil {
				t.Fatal(err)
			}
			// A short lease and a takeover loop: a run whose executor
			// stopped on the failed write is resumed once Redis is back.
			ss := &sharedServers{addr: rs.Addr(), url: "redis://" + rs.Addr() + "/0", defs: t.TempDir(), ring: ring,
				opts: []engine.Option{engine.WithLeaseTTL(time.Second)}}
			a, _ := ss.start(t, server.WithTakeover(200*time.Millisecond))
			defs, err := os.ReadFile("../../testdata/conductor/taskdefs/test_harness_taskdefs.json")
			if err != nil {
				t.Fatal(err)
			}
			if st, _, body := a.do(t, "POST", "/api/metadata/taskdefs", string(defs)); st != 200 {
				t.Fatalf("taskdefs: %d %s", st, body)
			}
			wf, err := os.ReadFile("../../testdata/conductor/simple_workflow_1_integration_test.json")
			if err != nil {
				t.Fatal(err)
			}
			if st, _, body := a.do(t, "POST", "/api/metadata/workflow", string(wf)); st != 200 {
				t.Fatalf("register: %d %s", st, body)
			}
			id := rsStart(t, a, "integration_test_wf", "", `{"param1":"p1 value","param2":"p2 value"}`)
			rsWait(t, a, id, "integration_task_1 SCHEDULED", func(d rsDoc) bool { return len(d.Tasks) == 1 })
			got := rsPoll(t, a, "integration_task_1", 2000)
			if len(got) != 1 || got[0]["workflowInstanceId"] != id {
				t.Fatalf("poll: %v", got)
			}
			taskID := got[0]["taskId"].(string)
			// The poll is stored (IN_PROGRESS) before Redis goes.
			rsWait(t, a, id, "integration_task_1 IN_PROGRESS", func(d rsDoc) bool { return rsTasks(d) == "integration_task_1:IN_PROGRESS" })
			update := func() (int, string) {
				st, _, body := a.do(t, "POST", "/api/tasks", `{"workflowInstanceId":"`+id+`","taskId":"`+taskID+
					`","workerId":"test","status":"`+tc.status+`","callbackAfterSeconds":`+itoa(tc.callback)+`,"outputData":{"k":"v"}}`)
				return st, body
			}

			rs.Stop()
			st, body := update()
			var e struct {
				Retryable bool `json:"retryable"`
			}
			if st != 500 || json.Unmarshal([]byte(body), &e) != nil || !e.Retryable || strings.Count(strings.TrimSpace(body), "\n") > 0 {
				t.Fatalf("%s update with Redis down: %d %s; want a one-line 500, retryable", tc.status, st, body)
			}
			rs.Restart()
			var d rsDoc
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if st, _, body := a.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", ""); st == 200 && json.Unmarshal([]byte(body), &d) == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the run never came back with Redis")
				}
			}
			// Still the worker's (IN_PROGRESS), or offered again
			// (SCHEDULED) by a resume of a run whose failed write stopped
			// it: nothing of the update either way.
			if tk := rsTasks(d); d.Status != "RUNNING" || (tk != "integration_task_1:IN_PROGRESS" && tk != "integration_task_1:SCHEDULED") || d.Tasks[0].Callback != 0 {
				t.Fatalf("after the refused update: %s %s, callbackAfterSeconds %d; want the task as it was", d.Status, tk, d.Tasks[0].Callback)
			}
			// The worker sends it again until it is taken.
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				st, body := update()
				if st == 200 {
					break
				}
				if st < 500 || time.Now().After(deadline) {
					t.Fatalf("%s update once Redis is back: %d %s", tc.status, st, body)
				}
			}
			d = rsWait(t, a, id, tc.tasks, func(d rsDoc) bool { return rsTasks(d) == tc.tasks && d.Status == tc.run })
			if tc.callback > 0 && d.Tasks[0].Callback != int64(tc.callback) {
				t.Fatalf("callbackAfterSeconds %d, want %d", d.Tasks[0].Callback, tc.callback)
			}
		})
	}
}
