package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// waitRecords polls the run's view until it has n task records.
func waitRecords(t *testing.T, e *engine.Engine, id string, n int) runView {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		wf := viewRun(t, e, id)
		if len(wf.Tasks) >= n {
			return wf
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: %d task records, want %d: %+v", id, len(wf.Tasks), n, wf.Tasks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WorkflowAndTaskConfigurationSpec "Test task skipping in simple
// workflows": while integration_task_1 waits for its worker, t2 is skipped;
// its record is SKIPPED at once and listed first (tasks[0], seq 0: Conductor
// creates it without a sequence number), the run goes on to t3 after t1 and
// completes, integration_task_2's worker never runs. The skip's output
// (external input) is protected like a completion's: a `_secrets` leaf is
// stored sealed and shown "***", and later tasks read the output.
func TestConductorSkipTask(t *testing.T) {
	release := make(chan struct{})
	var t2 atomic.Int64
	started := make(chan struct{})
	store := runstore.NewMemory()
	e := harnessEngine(t, store,
		engine.WithWorker("integration_task_1", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			close(started)
			<-release
			return json.RawMessage(`{"op":"task1.done"}`), nil
		}),
		engine.WithWorker("integration_task_2", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			t2.Add(1)
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("integration_task_3", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"op":"task3.done"}`), nil
		}))
	d := harnessDef(t, e, "simple_workflow_3_integration_test.json")
	done := make(chan error, 1)
	go func() {
		_, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`),
			engine.WithRunID("skip-1"), engine.WithCorrelationID("unit_test_3"))
		done <- err
	}()
	<-started
	ctx := context.Background()
	wf := waitRecords(t, e, "skip-1", 1)
	if wf.Status != engine.StatusRunning || len(wf.Tasks) != 1 || wf.Tasks[0].TaskType != "integration_task_1" {
		t.Fatalf("%s %+v", wf.Status, wf.Tasks)
	}
	const value = "skip-secret-value-8841"
	err := e.SkipTask(ctx, "skip-1", "t2", engine.SkipRequest{
		TaskInput:  json.RawMessage(`{"why":"manual"}`),
		TaskOutput: json.RawMessage(`{"uuid":"given","_secrets":{"token":"` + value + `"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	// SkipTask returns once the skip is recorded.
	wf = viewRun(t, e, "skip-1")
	if wf.Status != engine.StatusRunning {
		t.Fatalf("status %s", wf.Status)
	}
	checkTasks(t, wf.Tasks, "integration_task_2:SKIPPED", "integration_task_1:IN_PROGRESS")
	if wf.Tasks[0].Seq != 0 || wf.Tasks[1].Seq == 0 {
		t.Fatalf("seqs %d %d, want 0 for the skipped task", wf.Tasks[0].Seq, wf.Tasks[1].Seq)
	}
	// Refused: already processed, not in the definition, a bad body.
	for _, c := range []struct {
		ref  string
		req  engine.SkipRequest
		want error
	}{
		{"t1", engine.SkipRequest{}, engine.ErrNotSkippable},
		{"t2", engine.SkipRequest{}, engine.ErrNotSkippable},
		{"nope", engine.SkipRequest{}, engine.ErrNotSkippable},
		{"t3", engine.SkipRequest{TaskOutput: json.RawMessage(`[1]`)}, engine.ErrBadCompletion},
	} {
		if err := e.SkipTask(ctx, "skip-1", c.ref, c.req); !errors.Is(err, c.want) {
			t.Errorf("skip %s: %v, want %v", c.ref, err, c.want)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wf = viewRun(t, e, "skip-1")
	if wf.Status != engine.StatusCompleted || t2.Load() != 0 {
		t.Fatalf("%s %q, task 2 ran %d times", wf.Status, wf.Reason, t2.Load())
	}
	checkTasks(t, wf.Tasks, "integration_task_2:SKIPPED", "integration_task_1:COMPLETED", "integration_task_3:COMPLETED")
	if wf.Tasks[0].Output["uuid"] != "given" || wf.Tasks[0].Input["why"] != "manual" {
		t.Fatalf("skipped record %+v", wf.Tasks[0])
	}
	view, _ := e.Show(ctx, "skip-1")
	doc, _, _ := store.Load(ctx, "skip-1")
	if strings.Contains(string(view), value) || strings.Contains(string(doc), value) {
		t.Fatal("the skip's secret is in the run")
	}
	if !strings.Contains(string(view), `"_secrets":"***"`) {
		t.Fatalf("view: %s", view)
	}
	// An ended run: nothing to skip.
	if err := e.SkipTask(ctx, "skip-1", "t3", engine.SkipRequest{}); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("skip in an ended run: %v", err)
	}
}

// A skip stored while no process runs the run (its process stopped) is
// applied by Resume before the run reaches the task: the resumed run
// records it SKIPPED and never runs its worker.
func TestSkipTaskThenResume(t *testing.T) {
	var t2 atomic.Int64
	var block atomic.Bool
	block.Store(true)
	started := make(chan struct{}, 1)
	e := harnessEngine(t, nil,
		engine.WithWorker("integration_task_1", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if block.Load() {
				started <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"op":"task1.done"}`), nil
		}),
		engine.WithWorker("integration_task_2", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			t2.Add(1)
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("integration_task_3", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{}`), nil
		}))
	d := harnessDef(t, e, "simple_workflow_3_integration_test.json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Start(ctx, d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`), engine.WithRunID("skip-resume"))
		done <- err
	}()
	<-started
	cancel() // the process stops: the run stays RUNNING
	<-done
	if wf := viewRun(t, e, "skip-resume"); wf.Status != engine.StatusRunning {
		t.Fatalf("after the stop: %s", wf.Status)
	}
	if err := e.SkipTask(context.Background(), "skip-resume", "t2", engine.SkipRequest{TaskOutput: json.RawMessage(`{"given":1}`)}); err != nil {
		t.Fatal(err)
	}
	block.Store(false)
	res, err := e.Resume(context.Background(), "skip-resume")
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume: %v %+v", err, res)
	}
	wf := viewRun(t, e, "skip-resume")
	checkTasks(t, wf.Tasks, "integration_task_2:SKIPPED", "integration_task_1:COMPLETED", "integration_task_3:COMPLETED")
	if t2.Load() != 0 || wf.Tasks[0].Output["given"] != 1.0 {
		t.Fatalf("task 2 ran %d times; skipped record %+v", t2.Load(), wf.Tasks[0])
	}
}

// A skip sent as the run reaches the task: either the skip wins (SkipTask
// returns nil, the task is SKIPPED and its worker never runs) or the task
// does (SkipTask fails with ErrNotSkippable, or ErrNotRunning once the run
// has ended, and the task runs), never a
// skip that returned nil while the task ran anyway. The runner takes
// signals every lease-renewal tick (100 ms here), so the skip and the run
// reaching the task are raced with random offsets, many times.
func TestSkipTaskRacingTheRun(t *testing.T) {
	var t2 atomic.Int64
	started := make(chan struct{}, 1)
	var release atomic.Pointer[chan struct{}]
	e := harnessEngine(t, nil, engine.WithLeaseTTL(300*time.Millisecond),
		engine.WithWorker("integration_task_1", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			started <- struct{}{}
			select {
			case <-*release.Load():
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"op":"task1.done"}`), nil
		}),
		engine.WithWorker("integration_task_2", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			t2.Add(1)
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("integration_task_3", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{}`), nil
		}))
	d := harnessDef(t, e, "simple_workflow_3_integration_test.json")
	won, lost := 0, 0
	for i := range 24 {
		t2.Store(0)
		rel := make(chan struct{})
		release.Store(&rel)
		id := fmt.Sprintf("skip-race-%d", i)
		done := make(chan error, 1)
		go func() {
			_, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`), engine.WithRunID(id))
			done <- err
		}()
		<-started
		// The skip goes first in most rounds, by up to 120 ms.
		skipAfter := time.Duration(i%4) * 10 * time.Millisecond
		releaseAfter := time.Duration(10+(i*37)%120) * time.Millisecond
		go func() {
			time.Sleep(releaseAfter)
			close(rel)
		}()
		time.Sleep(skipAfter)
		skipErr := e.SkipTask(context.Background(), id, "t2", engine.SkipRequest{})
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		wf := viewRun(t, e, id)
		var rec *taskView
		for k := range wf.Tasks {
			if wf.Tasks[k].Ref == "t2" {
				rec = &wf.Tasks[k]
			}
		}
		switch {
		case skipErr == nil && t2.Load() == 0 && rec != nil && rec.Status == engine.TaskSkipped:
			won++
		case (errors.Is(skipErr, engine.ErrNotSkippable) || errors.Is(skipErr, engine.ErrNotRunning)) && t2.Load() == 1 && rec != nil && rec.Status == engine.TaskCompleted:
			lost++
		default:
			t.Fatalf("round %d (skip after %v, run released after %v): SkipTask %v, task 2 ran %d times, record %+v",
				i, skipAfter, releaseAfter, skipErr, t2.Load(), wf.Tasks)
		}
		if wf.Status != engine.StatusCompleted {
			t.Fatalf("round %d: run %s", i, wf.Status)
		}
	}
	t.Logf("the skip won %d rounds, the run %d", won, lost)
}
