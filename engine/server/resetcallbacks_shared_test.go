package server_test

import (
	"encoding/json"
	"testing"
	"time"
)

// TestResetCallbacksThroughAnotherProcess: two serve processes share a
// Redis queue. A's run's task, answered IN_PROGRESS with a callback an
// hour away, is not handed out again; POST
// /api/workflow/{id}/resetcallbacks sent to B (which does not execute the
// run) makes A offer it at once, and a poll on B gets it.
func TestResetCallbacksThroughAnotherProcess(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := a.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
	poll := func(s *testServer, wait time.Duration) []map[string]any {
		t.Helper()
		_, _, body := s.do(t, "GET", "/api/tasks/poll/batch/slow_task?workerid=w&count=1&timeout="+itoa(int(wait/time.Millisecond)), "")
		var got []map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("poll: %s", body)
		}
		return got
	}
	first := poll(b, 5*time.Second)
	if len(first) != 1 {
		t.Fatalf("first poll: %v", first)
	}
	upd, _ := json.Marshal(map[string]any{"taskId": first[0]["taskId"], "workflowInstanceId": id, "status": "IN_PROGRESS",
		"callbackAfterSeconds": 3600, "outputData": map[string]any{}})
	if st, _, body := b.do(t, "POST", "/api/tasks", string(upd)); st != 200 {
		t.Fatalf("IN_PROGRESS through B: %d %s", st, body)
	}
	// The owner takes the callback (told over Redis): no poll gets the task.
	time.Sleep(300 * time.Millisecond)
	for _, s := range []*testServer{a, b} {
		if again := poll(s, 200*time.Millisecond); len(again) != 0 {
			t.Fatalf("handed out before its callback: %v", again)
		}
	}
	if st, _, body := b.do(t, "POST", "/api/workflow/"+id+"/resetcallbacks", ""); st != 200 {
		t.Fatalf("resetcallbacks through B: %d %s", st, body)
	}
	again := poll(b, 3*time.Second)
	if len(again) != 1 || again[0]["taskId"] != first[0]["taskId"] {
		t.Fatalf("poll on B after a reset through B: %v", again)
	}
}
