package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/model"

	"github.com/wfrun/wfrun/engine"
)

// limitedFlow registers task definition def and a workflow running one
// SIMPLE task of its name on c.
func limitedFlow(t *testing.T, c sdkClients, def model.TaskDef, flow string) {
	t.Helper()
	if resp, err := c.meta.RegisterTaskDef(context.Background(), []model.TaskDef{def}); err != nil {
		t.Fatalf("RegisterTaskDef: %v (status %d)", err, status(resp))
	}
	if resp, err := c.meta.RegisterWorkflowDef(context.Background(), true, taskFlow(flow, def.Name)); err != nil {
		t.Fatalf("RegisterWorkflowDef: %v (status %d)", err, status(resp))
	}
}

// TestPollRateLimitCountsPolls: rateLimitPerFrequency within
// rateLimitFrequencyInSeconds counts the tasks handed to workers, as
// Conductor's RedisRateLimitingDAO counts them at poll: a task scheduled
// at T and polled at T+5 keeps the next one (1 per 10 s) in its queue until
// T+15, not T+10; then a poll gets it.
func TestPollRateLimitCountsPolls(t *testing.T) {
	start := time.Now()
	clock := engine.NewManualClock(start)
	ts := newConductorServerWith(t, nil, []engine.Option{engine.WithClock(clock)})
	c := newSDK(t, ts.URL)
	limitedFlow(t, c, model.TaskDef{Name: "rated_task", RateLimitPerFrequency: 1, RateLimitFrequencyInSeconds: 10,
		RetryCount: 0, TimeoutSeconds: 0, ResponseTimeoutSeconds: 3600}, "rated_flow")
	first := c.start(t, model.StartWorkflowRequest{Name: "rated_flow", Version: 1})
	c.waitSize(t, "rated_task", 1)
	clock.Advance(5 * time.Second)
	got := c.poll(t, "rated_task", "", 1, 5*time.Second)
	if len(got) != 1 || got[0].WorkflowInstanceId != first {
		t.Fatalf("first poll %+v", got)
	}
	c.complete(t, got[0])
	second := c.start(t, model.StartWorkflowRequest{Name: "rated_flow", Version: 1})
	c.waitSize(t, "rated_task", 1) // in its queue, waiting for the window
	clock.Advance(6 * time.Second) // T+11: the window of the poll at T+5 runs to T+15
	if got := c.poll(t, "rated_task", "", 1, 400*time.Millisecond); len(got) != 0 {
		t.Fatalf("a poll within the window of the last one got %+v", got)
	}
	clock.Advance(4 * time.Second) // T+15
	got = c.poll(t, "rated_task", "", 1, 5*time.Second)
	if len(got) != 1 || got[0].WorkflowInstanceId != second {
		t.Fatalf("poll after the window %+v", got)
	}
	c.complete(t, got[0])
}

// TestPollConcurrencyLimitCountsWorkersTasks: concurrentExecLimit counts
// the tasks workers hold (IN_PROGRESS), as Conductor's exceedsLimit does,
// not the tasks waiting in a queue: a task waiting in a domain nobody polls
// does not keep a worker from the definition's task in another queue; once
// a worker holds one, the other waits until it ends.
func TestPollConcurrencyLimitCountsWorkersTasks(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL)
	limitedFlow(t, c, model.TaskDef{Name: "single_task", ConcurrentExecLimit: 1, ResponseTimeoutSeconds: 3600}, "single_flow")
	idle := c.start(t, model.StartWorkflowRequest{Name: "single_flow", Version: 1, TaskToDomain: map[string]string{"single_task": "idle"}})
	c.waitSize(t, "idle:single_task", 1)
	busy := c.start(t, model.StartWorkflowRequest{Name: "single_flow", Version: 1})
	got := c.poll(t, "single_task", "", 1, 5*time.Second)
	if len(got) != 1 || got[0].WorkflowInstanceId != busy {
		t.Fatalf("poll without domain %+v (a task waiting in domain idle held the limit)", got)
	}
	if more := c.poll(t, "single_task", "idle", 1, 300*time.Millisecond); len(more) != 0 {
		t.Fatalf("a second task was handed out while a worker holds one: %+v", more)
	}
	c.complete(t, got[0])
	more := c.poll(t, "single_task", "idle", 1, 5*time.Second)
	if len(more) != 1 || more[0].WorkflowInstanceId != idle {
		t.Fatalf("poll after the first ended %+v", more)
	}
	c.complete(t, more[0])
}

// TestSharedQueueLimitsHoldAcrossProcesses: two serve processes on one
// Redis enforce a definition's concurrentExecLimit together, as
// Conductor's cluster does: with a limit of 1 and a run started on each, a
// worker gets one task, from either process, until it ends.
func TestSharedQueueLimitsHoldAcrossProcesses(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	ca, cb := newSDK(t, a.URL), newSDK(t, b.URL)
	def := model.TaskDef{Name: "shared_single", ConcurrentExecLimit: 1, ResponseTimeoutSeconds: 3600}
	limitedFlow(t, ca, def, "shared_single_flow")
	limitedFlow(t, cb, def, "shared_single_flow")
	ca.start(t, model.StartWorkflowRequest{Name: "shared_single_flow", Version: 1})
	cb.start(t, model.StartWorkflowRequest{Name: "shared_single_flow", Version: 1})
	ca.waitSize(t, "shared_single", 2)
	got := ca.poll(t, "shared_single", "", 2, 2*time.Second)
	if len(got) != 1 {
		t.Fatalf("A handed out %d tasks with a limit of 1", len(got))
	}
	if more := cb.poll(t, "shared_single", "", 2, 500*time.Millisecond); len(more) != 0 {
		t.Fatalf("B handed out %d more while a worker holds one", len(more))
	}
	ca.complete(t, got[0])
	more := cb.poll(t, "shared_single", "", 2, 5*time.Second)
	if len(more) != 1 || more[0].WorkflowInstanceId == got[0].WorkflowInstanceId {
		t.Fatalf("B's poll after the first ended %+v", more)
	}
	cb.complete(t, more[0])
}

// TestPollConcurrencyLimitKeepsTheHoldersSlot: a task a worker holds and
// puts back with an IN_PROGRESS update keeps its definition's slot (its
// tasks IN_PROGRESS count, as Conductor's do): the next poll hands it out
// again, though another task of the definition waits ahead of it, and that
// one only once the first ended — in one process and across two sharing
// Redis.
func TestPollConcurrencyLimitKeepsTheHoldersSlot(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "shared"}[shared], func(t *testing.T) {
			var ca, cb sdkClients
			if shared {
				ss := newSharedServers(t)
				a, _ := ss.start(t)
				b, _ := ss.start(t)
				ca, cb = newSDK(t, a.URL), newSDK(t, b.URL)
				limitedFlow(t, cb, model.TaskDef{Name: "held_task", ConcurrentExecLimit: 1, ResponseTimeoutSeconds: 3600}, "held_flow")
			} else {
				ca = newSDK(t, newConductorServer(t, nil).URL)
				cb = ca
			}
			limitedFlow(t, ca, model.TaskDef{Name: "held_task", ConcurrentExecLimit: 1, ResponseTimeoutSeconds: 3600}, "held_flow")
			first := ca.start(t, model.StartWorkflowRequest{Name: "held_flow", Version: 1})
			ca.waitSize(t, "held_task", 1)
			got := cb.poll(t, "held_task", "", 1, 5*time.Second)
			if len(got) != 1 || got[0].WorkflowInstanceId != first {
				t.Fatalf("first poll %+v", got)
			}
			second := ca.start(t, model.StartWorkflowRequest{Name: "held_flow", Version: 1})
			ca.waitSize(t, "held_task", 1)
			inProgress(t, cb, got[0], 0) // back in the queue, behind the second run's task
			ca.waitSize(t, "held_task", 2)
			again := cb.poll(t, "held_task", "", 1, 5*time.Second)
			if len(again) != 1 || again[0].WorkflowInstanceId != first {
				t.Fatalf("poll after the IN_PROGRESS update %+v, want the first run's task again", again)
			}
			cb.complete(t, again[0])
			next := cb.poll(t, "held_task", "", 1, 5*time.Second)
			if len(next) != 1 || next[0].WorkflowInstanceId != second {
				t.Fatalf("poll after the first ended %+v", next)
			}
			cb.complete(t, next[0])
		})
	}
}
