package server_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/model"

	"github.com/wfrun/wfrun/engine"
)

// TestSharedQueueDomainsAndPriority: two serve processes on one Redis (run
// store and shared task queue). A run A executes keeps its task's domain
// through the hand-off: a worker polling B with that domain gets it (its
// domain shown), polls without a domain or with another get nothing; a
// worker that polled a domain on B makes it the active one for a run A
// schedules; B hands out A's tasks by priority; both count the queues.
func TestSharedQueueDomainsAndPriority(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	ca := newSDK(t, a.URL, taskFlow("shared_dom", "shared_task"))
	cb := newSDK(t, b.URL)

	id := ca.start(t, model.StartWorkflowRequest{Name: "shared_dom", Version: 1, TaskToDomain: map[string]string{"shared_task": "teal"}})
	cb.waitSize(t, "teal:shared_task", 1)
	if n := ca.size(t, "teal:shared_task"); n != 1 {
		t.Errorf("A counts %d tasks in teal:shared_task", n)
	}
	if all, _, err := cb.tasks.All(context.Background()); err != nil || all["teal:shared_task"] != 1 || len(all) != 1 {
		t.Errorf("B's queue/all = %v, %v", all, err)
	}
	for _, other := range []string{"", "olive"} {
		if got := cb.poll(t, "shared_task", other, 1, 300*time.Millisecond); len(got) != 0 {
			t.Fatalf("a poll of B in domain %q got %+v", other, got)
		}
	}
	got := cb.poll(t, "shared_task", "teal", 1, 5*time.Second)
	if len(got) != 1 || got[0].WorkflowInstanceId != id || got[0].Domain != "teal" {
		t.Fatalf("poll of B in domain teal = %+v", got)
	}
	cb.waitSize(t, "teal:shared_task", 0)
	// Put back IN_PROGRESS through B for an hour: counted again by both.
	inProgress(t, cb, got[0], 3600)
	ca.waitSize(t, "teal:shared_task", 1)
	cb.waitSize(t, "teal:shared_task", 1)
	cb.complete(t, got[0])
	cb.waitSize(t, "teal:shared_task", 0)
	if st := waitStatus(t, ca.wf, id, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("run %s", st.Status)
	}
	if wf := ca.workflow(t, id); wf.Tasks[0].Domain != "teal" {
		t.Errorf("task record domain %q", wf.Tasks[0].Domain)
	}

	// A worker polled "amber" on B: A knows it and schedules into it.
	cb.poll(t, "shared_task", "amber", 1, 0)
	if pd, _, err := ca.tasks.GetPollData(context.Background(), "shared_task"); err != nil || !hasDomain(pd, "amber") {
		t.Errorf("A's poll data %+v %v", pd, err)
	}
	if pd, _, err := ca.tasks.GetAllPollData(context.Background()); err != nil || !hasDomain(pd, "amber") || !hasDomain(pd, "teal") {
		t.Errorf("A's poll data of all types %+v %v", pd, err)
	}
	id = ca.start(t, model.StartWorkflowRequest{Name: "shared_dom", Version: 1, TaskToDomain: map[string]string{"*": "cyan,amber,NO_DOMAIN"}})
	cb.waitSize(t, "amber:shared_task", 1)
	if got := cb.poll(t, "shared_task", "amber", 1, 5*time.Second); len(got) != 1 || got[0].WorkflowInstanceId != id {
		t.Fatalf("poll of B in the active domain = %+v", got)
	} else {
		cb.complete(t, got[0])
	}

	// Priority across processes.
	prios := []int32{0, 3, 1, 0, 2}
	ids := make([]string, len(prios))
	for i, p := range prios {
		ids[i] = ca.start(t, model.StartWorkflowRequest{Name: "shared_dom", Version: 1, Priority: p})
		cb.waitSize(t, "shared_task", i+1)
	}
	all := cb.poll(t, "shared_task", "", 10, 5*time.Second)
	for len(all) < len(prios) {
		more := cb.poll(t, "shared_task", "", 10, 5*time.Second)
		if len(more) == 0 {
			break
		}
		all = append(all, more...)
	}
	want := []string{ids[2], ids[4], ids[1], ids[0], ids[3]}
	var order []string
	for _, task := range all {
		order = append(order, task.WorkflowInstanceId)
		cb.complete(t, task)
	}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("B handed A's tasks out in order %v, want %v", order, want)
	}
}

// TestSharedIdempotencyKeys: idempotency keys live in the shared run
// store: a key claimed through A is refused (409) or answered (RETURN_EXISTING)
// through B, and concurrent starts through both with one key start one run.
func TestSharedIdempotencyKeys(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	ca := newSDK(t, a.URL, taskFlow("shared_idem", "idem_shared_task"))
	first := ca.start(t, model.StartWorkflowRequest{Name: "shared_idem", Version: 1, IdempotencyKey: "k1"})
	if st, _, body := b.do(t, "POST", "/api/workflow", `{"name":"shared_idem","idempotencyKey":"k1"}`); st != http.StatusConflict || !strings.Contains(body, first) {
		t.Errorf("B: %d %s", st, body)
	}
	if st, _, body := b.do(t, "POST", "/api/workflow", `{"name":"shared_idem","idempotencyKey":"k1","idempotencyStrategy":"RETURN_EXISTING"}`); st != 200 || body != first {
		t.Errorf("B RETURN_EXISTING: %d %s, want %s", st, body, first)
	}
	assertOneRunPerKey(t, []string{a.URL, b.URL}, "shared_idem", "race-shared")
}

// TestIdempotencyKeysSurviveRestart: with the bolt run store, a key holds
// after the serve process stops and another opens the same store.
func TestIdempotencyKeysSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	defs := t.TempDir()
	open := func() (*testServer, func()) { return boltServe(t, path, defs, nil) }
	a, stop := open()
	newSDK(t, a.URL, taskFlow("kept_idem", "kept_task"))
	st, _, first := a.do(t, "POST", "/api/workflow", `{"name":"kept_idem","idempotencyKey":"once"}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, first)
	}
	stop()
	b, _ := open()
	if st, _, body := b.do(t, "POST", "/api/workflow", `{"name":"kept_idem","idempotencyKey":"once"}`); st != http.StatusConflict || !strings.Contains(body, first) {
		t.Errorf("after a restart: %d %s", st, body)
	}
	if st, _, body := b.do(t, "POST", "/api/workflow", `{"name":"kept_idem","idempotencyKey":"once","idempotencyStrategy":"RETURN_EXISTING"}`); st != 200 || body != first {
		t.Errorf("after a restart, RETURN_EXISTING: %d %s", st, body)
	}
}

func hasDomain(pd []model.PollData, domain string) bool {
	for _, p := range pd {
		if p.Domain == domain {
			return true
		}
	}
	return false
}

// TestLongPollKeepsItsDomainActive: a worker waiting in a long poll is an
// active worker of its domain however long it has waited (Conductor's
// polls last at most 5 s; wfrun's up to 60 s), in its own process and,
// through the shared poll data, in another: a run scheduled meanwhile
// with "late,fallback" goes to "late", and the waiting poll gets it.
func TestLongPollKeepsItsDomainActive(t *testing.T) {
	clock := engine.NewManualClock(time.Now())
	check := func(t *testing.T, starter, poller sdkClients) {
		t.Helper()
		got := make(chan []model.Task, 1)
		go func() { got <- poller.poll(t, "long_task", "late", 1, 20*time.Second) }()
		time.Sleep(300 * time.Millisecond) // the poll waits
		clock.Advance(30 * time.Second)    // far past the 10 s window since it began
		time.Sleep(600 * time.Millisecond) // a waiting poll records itself again (shared)
		id := starter.start(t, model.StartWorkflowRequest{Name: "long_flow", Version: 1, TaskToDomain: map[string]string{"long_task": "late,fallback"}})
		select {
		case tasks := <-got:
			if len(tasks) != 1 || tasks[0].WorkflowInstanceId != id || tasks[0].Domain != "late" {
				t.Fatalf("the waiting poll got %+v", tasks)
			}
			starter.complete(t, tasks[0])
		case <-time.After(15 * time.Second):
			t.Fatal("the waiting poll got nothing")
		}
	}
	t.Run("one process", func(t *testing.T) {
		ts := newConductorServerWith(t, nil, []engine.Option{engine.WithClock(clock)})
		c := newSDK(t, ts.URL, taskFlow("long_flow", "long_task"))
		check(t, c, c)
	})
	t.Run("two processes", func(t *testing.T) {
		ss := newSharedServers(t, engine.WithClock(clock))
		a, _ := ss.start(t)
		b, _ := ss.start(t)
		check(t, newSDK(t, a.URL, taskFlow("long_flow", "long_task")), newSDK(t, b.URL))
	})
}

// TestDomainKeptAfterTakeover: the process executing a run stops while its
// task waits in a domain queue; another process resumes the run and offers
// the task again in the same domain (the record keeps it), so a worker
// polling that domain gets it and one polling without a domain does not.
func TestDomainKeptAfterTakeover(t *testing.T) {
	ss := newSharedServers(t)
	a, stopA := ss.start(t)
	b, _ := ss.start(t)
	ca := newSDK(t, a.URL, taskFlow("moved_flow", "moved_task"))
	cb := newSDK(t, b.URL)
	id := ca.start(t, model.StartWorkflowRequest{Name: "moved_flow", Version: 1, Priority: 2, TaskToDomain: map[string]string{"moved_task": "kept"}})
	ca.waitSize(t, "kept:moved_task", 1)
	stopA()
	if st, _, body := b.do(t, "PUT", "/api/workflow/decide/"+id, ""); st != http.StatusOK {
		t.Fatalf("decide on B: %d %s", st, body)
	}
	if got := cb.poll(t, "moved_task", "", 1, 500*time.Millisecond); len(got) != 0 {
		t.Fatalf("a poll without a domain got %+v", got)
	}
	got := cb.poll(t, "moved_task", "kept", 1, 10*time.Second)
	if len(got) != 1 || got[0].WorkflowInstanceId != id || got[0].Domain != "kept" || got[0].WorkflowPriority != 2 {
		t.Fatalf("poll of B in the domain after the takeover = %+v", got)
	}
	cb.complete(t, got[0])
	if st := waitStatus(t, cb.wf, id, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("run %s", st.Status)
	}
}
