package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
)

// answered is an HTTP answer a test awaits.
type answered struct {
	status int
	body   string
}

// awaitBefore waits for each of steps, failing when the answer comes
// first: what it claims is not stored yet (the run's writes are held).
func awaitBefore(t *testing.T, what string, got <-chan answered, release chan struct{}, steps map[string]<-chan struct{}) {
	t.Helper()
	for step, ch := range steps {
		select {
		case <-ch:
		case a := <-got:
			close(release)
			t.Fatalf("%s answered (%d %s) before %s, while the run's write is held", what, a.status, a.body, step)
		}
	}
}

// TestPollAnswersOnceStored: Conductor's poll stores the task IN_PROGRESS,
// its pollCount and workerId set, before it answers (ExecutionService.poll
// updates each task it hands out). A worker, or a client it tells, that
// reads the run once the poll answered sees the task polled: the poll's
// answer waits for that write, which is held here until the poll is seen
// waiting for it.
func TestPollAnswersOnceStored(t *testing.T) {
	runs, arm := newRunGate()
	ts := newConductorServer(t, runs)
	waiting := make(chan struct{})
	var once sync.Once
	server.OnPollWriteWait(ts.srv, func() { once.Do(func() { close(waiting) }) })
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, _, id := ts.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	c := newE2EClient(t, ts)
	c.awaitActive(id, "work")
	arm(id)
	got := make(chan answered, 1)
	go func() {
		st, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/slow_task?workerid=w1&count=1&timeout=5000", "")
		got <- answered{st, body}
	}()
	awaitBefore(t, "the poll", got, runs.release, map[string]<-chan struct{}{
		"the poll's write": runs.entered, "the poll waiting for its write": waiting})
	close(runs.release)
	a := <-got
	var polled []map[string]any
	if err := json.Unmarshal([]byte(a.body), &polled); err != nil || len(polled) != 1 {
		t.Fatalf("poll: %d %s", a.status, a.body)
	}
	tk := c.mustOnlyTaskByRef(id, "work")
	if tk.Status != "IN_PROGRESS" || tk.PollCount != 1 || tk.WorkerId != "w1" {
		t.Fatalf("the run read once the poll answered: work %s pollCount %d workerId %q, want IN_PROGRESS 1 w1", tk.Status, tk.PollCount, tk.WorkerId)
	}
}

// TestStartAnswersOnceDecisionStored: Conductor's start decides the run
// before it answers (WorkflowExecutor.startWorkflow), its first tasks
// stored: a client that reads the run once the start answered finds its
// WAIT or HUMAN waiting, as a completion by reference made then does. The executor's write of that decision is held here until
// the start is seen waiting for it.
func TestStartAnswersOnceDecisionStored(t *testing.T) {
	// A worker task's record is written awaiting before it is offered to
	// pollers, which the decision waits for: a WAIT's is made waiting in
	// the executor's memory first.
	//
	// heldLook: the start looks at the run only once the write is held
	// (woken then, not by the write's start): it finds the decision in
	// the executor's memory, not stored, and waits for the write. A look
	// that wrote the run itself first waited behind the held write, seen
	// waiting by nothing until the write ended.
	for _, tc := range []struct {
		name, task string
		heldLook   bool
	}{
		{"WAIT", `{"name":"sd_wait","taskReferenceName":"first","type":"WAIT"}`, false},
		{"HUMAN", `{"name":"sd_human","taskReferenceName":"first","type":"HUMAN"}`, false},
		{"HUMAN looked at while its write is held", `{"name":"sd_human","taskReferenceName":"first","type":"HUMAN"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The first write that records a task waiting is held. The
			// executor's memory shows the task waiting before that write
			// begins, but nothing announces it until the write is done (an
			// event, engine.WithWritten): the start, woken by an earlier
			// change, may have looked before and wait, unwoken, for its
			// deadline. So the held write wakes it, as any change of the
			// run may then: it looks again while the write is held.
			var srv *server.Server // set before the gate is armed
			heldID := make(chan string, 1)
			runs := newGatedStore(func(_ context.Context, _ runstore.Store, id string, ch *runstore.Change) bool {
				for _, tk := range ch.Tasks {
					if bytes.Contains(tk.Doc, []byte(`"awaitingCompletion":true`)) {
						if tc.heldLook {
							heldID <- id
						} else {
							server.WakeDeciding(srv, id)
						}
						return true
					}
				}
				return false
			})
			ts := newConductorServer(t, runs)
			srv = ts.srv
			waiting := make(chan struct{})
			var once sync.Once
			server.OnDecideWait(ts.srv, func() { once.Do(func() { close(waiting) }) })
			if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", `{"name":"sd_flow","version":1,"schemaVersion":2,"tasks":[`+tc.task+`]}`); st != 200 {
				t.Fatalf("register: %d %s", st, body)
			}
			runs.armed.Store(true)
			got := make(chan answered, 1)
			go func() {
				st, _, body := ts.do(t, "POST", "/api/workflow/sd_flow", `{}`)
				got <- answered{st, body}
			}()
			if tc.heldLook {
				select {
				case id := <-heldID:
					<-runs.entered
					server.WakeDeciding(srv, id)
				case a := <-got:
					close(runs.release)
					t.Fatalf("the start answered (%d %s) before the decision's write", a.status, a.body)
				}
			}
			awaitBefore(t, "the start", got, runs.release, map[string]<-chan struct{}{
				"the decision's write": runs.entered, "the start waiting for that write": waiting})
			close(runs.release)
			a := <-got
			if a.status != 200 {
				t.Fatalf("start: %d %s", a.status, a.body)
			}
			tk := newE2EClient(t, ts).mustOnlyTaskByRef(a.body, "first")
			if tk.Status != "SCHEDULED" && tk.Status != "IN_PROGRESS" {
				t.Fatalf("the run read once the start answered: first is %q", tk.Status)
			}
		})
	}
}

// TestCompletionByRefAnswersOnceStored: Conductor's update of a task by
// reference (POST /api/tasks/{workflowId}/{ref}/{status}) stores the task
// before it answers (updateTask), so a read once it answered shows the
// WAIT COMPLETED. The run's write of the task's end is held here until
// the answer is seen waiting for it.
func TestCompletionByRefAnswersOnceStored(t *testing.T) {
	runs, arm := newRunGate()
	ts := newConductorServer(t, runs)
	waiting := make(chan struct{})
	var once sync.Once
	server.OnTaskEndWait(ts.srv, func() { once.Do(func() { close(waiting) }) })
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", `{"name":"cr_flow","version":1,"schemaVersion":2,"tasks":[
	  {"name":"cr_wait","taskReferenceName":"w","type":"WAIT"},{"name":"cr_wait2","taskReferenceName":"w2","type":"WAIT"}]}`); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	c := newE2EClient(t, ts)
	id := c.start("cr_flow")
	c.awaitActive(id, "w")
	arm(id)
	got := make(chan answered, 1)
	go func() {
		st, _, body := ts.do(t, "POST", "/api/tasks/"+id+"/w/COMPLETED", `{"r":1}`)
		got <- answered{st, body}
	}()
	awaitBefore(t, "the completion", got, runs.release, map[string]<-chan struct{}{
		"the task's end is written": runs.entered, "the completion waiting for that write": waiting})
	close(runs.release)
	if a := <-got; a.status != 200 {
		t.Fatalf("completion: %d %s", a.status, a.body)
	}
	if tk := c.mustOnlyTaskByRef(id, "w"); tk.Status != "COMPLETED" || tk.OutputData["r"] == nil {
		t.Fatalf("the run read once the completion answered: w %s %v, want COMPLETED with r", tk.Status, tk.OutputData)
	}
}
