package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/server"
)

// TestPollTakesOverASilentOwnersRun: a poll that claims a task of a
// process that no longer listens (here it stopped, releasing its runs'
// leases) makes the polling process take the run over now, not at its
// next takeover tick (an hour here): the task is offered again, under the
// same id, and handed out by the next polls; the run completes with the
// answer.
func TestPollTakesOverASilentOwnersRun(t *testing.T) {
	ss := newSharedServers(t)
	a, stopA := ss.start(t)
	b, _ := ss.start(t, server.WithTakeover(time.Hour))
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := a.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
	for deadline := time.Now().Add(10 * time.Second); ss.queuedTasks(t) != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the task was never offered")
		}
	}
	stopA()
	var got []map[string]any
	for deadline := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		_, _, body := b.do(t, "GET", "/api/tasks/poll/batch/slow_task?workerid=wb&count=1&timeout=200", "")
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("poll on B: %s", body)
		}
	}
	if len(got) != 1 || got[0]["workflowInstanceId"] != id {
		t.Fatalf("B handed out %v, want the task of run %s", got, id)
	}
	upd, _ := json.Marshal(map[string]any{"taskId": got[0]["taskId"], "workflowInstanceId": id, "status": "COMPLETED", "outputData": map[string]any{"r": "done"}})
	if st, _, body := b.do(t, "POST", "/api/tasks", string(upd)); st != 200 {
		t.Fatalf("update: %d %s", st, body)
	}
	waitView(t, b, id, `"status":"COMPLETED"`)
	if _, _, body := b.do(t, "GET", "/api/tasks/poll/batch/slow_task?workerid=wb&count=1&timeout=100", ""); body != "[]" {
		t.Errorf("handed out twice: %s", body)
	}
}
