package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/model"

	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/store/seal"
)

// TestQueueEndpointsWhileRedisIsDown follows Conductor's
// QueueResiliencySpec for a serve process on a shared queue whose Redis is
// gone: a poll answers no task (200 [] for a batch poll, 204 for a single
// one) within its timeout, the queue size endpoints fail with a one-line
// 500 naming the task queue, the poll data of one type too; nothing
// panics, and once Redis is back the same endpoints answer again.
func TestQueueEndpointsWhileRedisIsDown(t *testing.T) {
	rs := redistest.StartServer(t, redistest.Persistent())
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	ss := &sharedServers{addr: rs.Addr(), url: "redis://" + rs.Addr() + "/0", defs: t.TempDir(), ring: ring}
	a, _ := ss.start(t)
	c := newSDK(t, a.URL, taskFlow("resilient_flow", "resilient_task"))
	c.start(t, model.StartWorkflowRequest{Name: "resilient_flow", Version: 1})
	c.waitSize(t, "resilient_task", 1)

	rs.Stop()
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/api/tasks/poll/batch/resilient_task?timeout=300", 200, "[]"},
		{"GET", "/api/tasks/poll/resilient_task", http.StatusNoContent, ""},
		{"GET", "/api/tasks/queue/sizes?taskType=resilient_task", 500, "task queue: "},
		{"GET", "/api/tasks/queue/size?taskType=resilient_task", 500, "task queue: "},
		{"GET", "/api/tasks/queue/all", 500, "task queue: "},
		{"GET", "/api/tasks/queue/all/verbose", 500, "task queue: "},
		{"GET", "/api/tasks/queue/polldata?taskType=resilient_task", 500, "task queue: "},
		{"GET", "/api/tasks/queue/polldata/all", 500, "task queue: "},
		{"POST", "/api/tasks/queue/requeue/resilient_task", 500, "task queue: "},
	} {
		began := time.Now()
		st, _, body := a.do(t, tc.method, tc.path, "")
		if st != tc.status || !strings.Contains(body, tc.body) || strings.Count(body, "\n") > 1 {
			t.Errorf("%s %s with Redis down = %d %s; want %d %s", tc.method, tc.path, st, body, tc.status, tc.body)
		}
		t.Logf("%s %s: %v", tc.method, tc.path, time.Since(began))
		if took := time.Since(began); took > 10*time.Second {
			t.Errorf("%s %s took %v with Redis down", tc.method, tc.path, took)
		}
	}

	rs.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _, body := a.do(t, "GET", "/api/tasks/queue/size?taskType=resilient_task", "")
		if st == 200 && body == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Redis came back: size = %d %s, want the task still queued", st, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := c.poll(t, "resilient_task", "", 1, 5*time.Second)
	if len(got) != 1 {
		t.Fatalf("poll after Redis came back: %+v", got)
	}
	c.complete(t, got[0])
	if st := waitStatus(t, c.wf, got[0].WorkflowInstanceId, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("run %s", st.Status)
	}
}
