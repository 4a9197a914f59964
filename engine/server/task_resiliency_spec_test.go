package server_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine/server"
)

// rsShared is a serve process on a shared Redis (runs and task queue) with
// the test harness's task definitions and the given definition files.
func rsShared(t *testing.T, ss *sharedServers, files ...string) *testServer {
	t.Helper()
	a, _ := ss.start(t)
	defs, err := os.ReadFile("../../testdata/conductor/taskdefs/test_harness_taskdefs.json")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := a.do(t, "POST", "/api/metadata/taskdefs", string(defs)); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	for _, f := range files {
		b, err := os.ReadFile("../../testdata/conductor/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if st, _, body := a.do(t, "POST", "/api/metadata/workflow", string(b)); st != 200 {
			t.Fatalf("register %s: %d %s", f, st, body)
		}
	}
	return a
}

// TaskResiliencySpec "Verify that a workflow recovers and completes on
// schedule task failure from queue push failure", through wfrun serve on a
// shared Redis queue: once integration_task_1 is completed,
// integration_task_2 is SCHEDULED; its queue message is then lost (removed
// from Redis, as a failed push leaves it), so a poll gets nothing and the
// run stays RUNNING with integration_task_2 SCHEDULED. A decide of the run
// (the spec's sweep: repair and decide) offers the task again; it is polled
// and completed, and the run COMPLETES. Without a decide, the process's own
// look at its tasks (every claim check) repairs it too, as Conductor's
// background sweeper would.
func TestConductorTaskResiliencySpec(t *testing.T) {
	t.Run("sweep", func(t *testing.T) { taskResiliency(t, true) })
	t.Run("background", func(t *testing.T) { taskResiliency(t, false) })
}

func taskResiliency(t *testing.T, sweep bool) {
	ss := newSharedServers(t)
	a := rsShared(t, ss, "simple_workflow_1_integration_test.json")
	if sweep {
		server.SetClaimCheck(a.srv, time.Hour) // no repair but the spec's sweep
	} else {
		server.SetClaimCheck(a.srv, 50*time.Millisecond)
	}
	id := rsStart(t, a, "integration_test_wf", "", `{}`)
	d := rsWait(t, a, id, "integration_task_1 SCHEDULED", func(d rsDoc) bool { return len(d.Tasks) == 1 })
	if d.Status != "RUNNING" || rsTasks(d) != "integration_task_1:SCHEDULED" {
		t.Fatalf("after start: %s %s", d.Status, rsTasks(d))
	}
	rsPollComplete(t, a, "integration_task_1", `{}`)
	d = rsWait(t, a, id, "integration_task_2 SCHEDULED", func(d rsDoc) bool { return len(d.Tasks) == 2 })
	if d.Status != "RUNNING" || rsTasks(d) != "integration_task_1:COMPLETED integration_task_2:SCHEDULED" {
		t.Fatalf("after task 1: %s %s", d.Status, rsTasks(d))
	}
	task2 := d.Tasks[1].TaskID

	// The message is lost.
	rc := redis.NewClient(&redis.Options{Addr: ss.addr})
	defer rc.Close()
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := rc.Exists(ctx, "wfrun:{wfrun-queue}:task:"+task2).Result(); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("integration_task_2 never reached the shared queue")
		}
	}
	keys, err := rc.Keys(ctx, "wfrun:{wfrun-queue}:pending:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		rc.ZRem(ctx, k, task2)
	}
	rc.Del(ctx, "wfrun:{wfrun-queue}:task:"+task2)

	if sweep {
		if got := rsPoll(t, a, "integration_task_2", 300); len(got) != 0 {
			t.Fatalf("polled a task whose message was lost: %v", got)
		}
		d = rsGet(t, a, id)
		if d.Status != "RUNNING" || rsTasks(d) != "integration_task_1:COMPLETED integration_task_2:SCHEDULED" {
			t.Fatalf("after the loss: %s %s", d.Status, rsTasks(d))
		}
		if st, _, body := a.do(t, "PUT", "/api/workflow/decide/"+id, ""); st != 200 {
			t.Fatalf("decide: %d %s", st, body)
		}
	}
	got := rsPoll(t, a, "integration_task_2", 3000)
	if len(got) != 1 || got[0]["taskId"] != task2 {
		t.Fatalf("poll after the repair: %v", got)
	}
	if st, _, body := a.do(t, "POST", "/api/tasks", `{"workflowInstanceId":"`+id+`","taskId":"`+task2+`","workerId":"task2.integration.worker","status":"COMPLETED"}`); st != 200 {
		t.Fatalf("update: %d %s", st, body)
	}
	d = rsWait(t, a, id, "COMPLETED", func(d rsDoc) bool { return d.Status != "RUNNING" })
	if d.Status != "COMPLETED" || rsTasks(d) != "integration_task_1:COMPLETED integration_task_2:COMPLETED" {
		t.Fatalf("at the end: %s %s", d.Status, rsTasks(d))
	}
}
