package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// adHocRun starts definition d (patched by patch, when given) on an engine
// with an empty task-definition registry, a manual clock and a worker for
// integration_task_1 that fails every call; it returns the engine, the
// clock, the worker's calls and a function that waits for the run's end.
func adHocRun(t *testing.T, file string, patch func(map[string]any), opts ...engine.Option) (*engine.Engine, *engine.ManualClock, chan struct{}, func() string) {
	t.Helper()
	clock := engine.NewManualClock(time.Now())
	calls := make(chan struct{}, 10)
	e := harnessEngine(t, nil, append([]engine.Option{engine.WithTaskDefs(engine.NewTaskDefs()), engine.WithClock(clock),
		engine.WithWorker("integration_task_1", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			calls <- struct{}{}
			return nil, errors.New("failed")
		})}, opts...)...)
	var d *engine.Definition
	if patch != nil {
		d = patchedHarnessDef(t, e, file, patch)
	} else {
		d = harnessDef(t, e, file)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	status := make(chan string, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`), engine.WithRunID("adhoc"))
		if err != nil && res == nil {
			status <- err.Error()
			return
		}
		status <- res.Status
	}()
	t.Cleanup(cancel)
	return e, clock, calls, func() string {
		select {
		case s := <-status:
			return s
		case <-ctx.Done():
			t.Fatal("the run did not end")
			return ""
		}
	}
}

// awaitRetryTimer waits (up to 10 s) until a retry's timer is on the
// clock; it fails with the run's tasks when none comes.
func awaitRetryTimer(t *testing.T, e *engine.Engine, clock *engine.ManualClock, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.WaitForWaiters(ctx, 1); err != nil {
		t.Fatalf("no retry waits on the clock (%v): tasks %v", err, retryCallbacks(t, e, id))
	}
}

// A SIMPLE task with neither an inline nor a registered definition gets
// the one Conductor's MetadataMapperService makes for it when the run
// starts (new TaskDef(name)): it is retried 3 times, each retry FIXED 60 s
// after the failure before it, recorded at once SCHEDULED with
// callbackAfterSeconds 60 — the harness's integration_test_wf run with
// integration_task_1 not registered. The wait is measured on the engine's
// clock: a retry has not run a millisecond before its 60 s.
func TestAdHocTaskDefRetriesSimpleTask(t *testing.T) {
	var events []string
	e, clock, calls, end := adHocRun(t, simpleWF, nil, engine.WithEvents(func(ev engine.Event) {
		if ev.Kind == engine.EventRetry {
			events = append(events, ev.TaskRef+" "+ev.Reason)
		}
	}))
	<-calls
	for i := 0; i < 3; i++ {
		awaitRetryTimer(t, e, clock, "adhoc")
		got := retryCallbacks(t, e, "adhoc")
		want := []string{"FAILED 0"}
		for j := 0; j < i; j++ {
			want = append(want, "FAILED 60")
		}
		want = append(want, "SCHEDULED 60")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("retry %d: tasks %v, want %v", i+1, got, want)
		}
		clock.Advance(60*time.Second - time.Millisecond)
		select {
		case <-calls:
			t.Fatalf("retry %d ran before 60 s", i+1)
		case <-time.After(20 * time.Millisecond):
		}
		clock.Advance(time.Millisecond)
		select {
		case <-calls:
		case <-time.After(10 * time.Second):
			t.Fatalf("retry %d did not run at 60 s", i+1)
		}
	}
	if st := end(); st != engine.StatusFailed {
		t.Fatalf("run %s, want FAILED after the 3 retries", st)
	}
	if got := retryCallbacks(t, e, "adhoc"); fmt.Sprint(got) != "[FAILED 0 FAILED 60 FAILED 60 FAILED 60]" {
		t.Fatalf("tasks %v, want the first attempt and 3 retries, all FAILED", got)
	}
	want := []string{"t1 retrying in 60s (retry 1 of 3)", "t1 retrying in 60s (retry 2 of 3)", "t1 retrying in 60s (retry 3 of 3)"}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Fatalf("retry events %q, want %q", events, want)
	}
}

// The task-level retryCount overrides the ad-hoc definition's 3, as
// Conductor's DeciderService.retry takes the WorkflowTask's retryCount
// over its TaskDef's: 1 retries once (after the definition's 60 s), 0
// fails the run at the first failure.
func TestAdHocTaskDefTaskRetryCountOverrides(t *testing.T) {
	withRetries := func(n int) func(map[string]any) {
		return func(def map[string]any) {
			def["tasks"].([]any)[0].(map[string]any)["retryCount"] = n
		}
	}
	t.Run("retryCount 1", func(t *testing.T) {
		e, clock, calls, end := adHocRun(t, simpleWF, withRetries(1))
		<-calls
		awaitRetryTimer(t, e, clock, "adhoc")
		clock.Advance(60 * time.Second)
		<-calls
		if st := end(); st != engine.StatusFailed {
			t.Fatalf("run %s, want FAILED", st)
		}
		if got := retryCallbacks(t, e, "adhoc"); fmt.Sprint(got) != "[FAILED 0 FAILED 60]" {
			t.Fatalf("tasks %v, want one retry after 60 s", got)
		}
	})
	t.Run("retryCount 0", func(t *testing.T) {
		e, _, calls, end := adHocRun(t, simpleWF, withRetries(0))
		<-calls
		if st := end(); st != engine.StatusFailed {
			t.Fatalf("run %s, want FAILED", st)
		}
		if got := retryCallbacks(t, e, "adhoc"); fmt.Sprint(got) != "[FAILED 0]" {
			t.Fatalf("tasks %v, want no retry", got)
		}
	})
}

// A task of any other type without a definition gets the ad-hoc one with
// retryCount 0 (and no response timeout): a failing JSON_JQ_TRANSFORM task
// (FAILED, retryable) fails the run at once. Its own retryCount overrides
// that 0, as for a SIMPLE task: with 1 it is retried once, at once, its
// retry recorded with the ad-hoc retryDelaySeconds (60) as
// callbackAfterSeconds.
func TestAdHocTaskDefSystemTask(t *testing.T) {
	const def = `{"name":"adhoc_inline","version":1,"schemaVersion":2,"tasks":[{"name":"throws","taskReferenceName":"js","type":"JSON_JQ_TRANSFORM",%s
 "inputParameters":{"queryExpression":"error(\"boom\")"}}]}`
	run := func(t *testing.T, extra string) (*engine.Engine, *engine.ManualClock, chan string) {
		clock := engine.NewManualClock(time.Now())
		e := harnessEngine(t, nil, engine.WithTaskDefs(engine.NewTaskDefs()), engine.WithClock(clock))
		d, err := e.Parse([]byte(fmt.Sprintf(def, extra)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		t.Cleanup(cancel)
		status := make(chan string, 1)
		go func() {
			res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("adhoc-inline"))
			if res == nil {
				status <- fmt.Sprint(err)
				return
			}
			status <- res.Status
		}()
		return e, clock, status
	}
	t.Run("no retryCount", func(t *testing.T) {
		e, clock, status := run(t, "")
		select {
		case st := <-status:
			if st != engine.StatusFailed {
				t.Fatalf("run %s, want FAILED", st)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the run did not fail at once (%d timers waiting)", clock.Waiters())
		}
		if got := retryCallbacks(t, e, "adhoc-inline"); fmt.Sprint(got) != "[FAILED 0]" {
			t.Fatalf("tasks %v, want no retry", got)
		}
	})
	t.Run("retryCount 1", func(t *testing.T) {
		e, clock, status := run(t, `"retryCount":1,`)
		// Conductor's decider executes a synchronous system task's retry
		// as soon as it schedules it: the run fails without the clock
		// moving, the retry's record carrying its 60 s as
		// callbackAfterSeconds.
		select {
		case st := <-status:
			if st != engine.StatusFailed {
				t.Fatalf("run %s, want FAILED", st)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the retry did not run at once (%d timers waiting)", clock.Waiters())
		}
		if got := retryCallbacks(t, e, "adhoc-inline"); fmt.Sprint(got) != "[FAILED 0 FAILED 60]" {
			t.Fatalf("tasks %v, want one retry, its callbackAfterSeconds 60", got)
		}
	})
}

// A remote worker's task without a definition: the polled task carries the
// ad-hoc definition and its responseTimeoutSeconds 3600.
func TestAdHocTaskDefRemoteTask(t *testing.T) {
	got := make(chan engine.RemoteTask, 1)
	e := harnessEngine(t, nil, engine.WithTaskDefs(engine.NewTaskDefs()),
		engine.WithRemoteWorker(func(ctx context.Context, rt engine.RemoteTask) tasks.Result {
			got <- rt
			<-ctx.Done()
			return tasks.Result{Status: tasks.Failed, Reason: "cancelled"}
		}))
	d := harnessDef(t, e, simpleWF)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("adhoc-remote"))
	}()
	defer func() { cancel(); <-done }()
	select {
	case rt := <-got:
		td := rt.TaskDef
		if td == nil || !td.AdHoc() || td.Name != "integration_task_1" || td.RetryCount == nil || *td.RetryCount != 3 ||
			td.ResponseTimeoutSeconds == nil || *td.ResponseTimeoutSeconds != 3600 || strings.ToUpper(td.RetryLogic) != "FIXED" {
			t.Fatalf("polled TaskDef %+v, want the ad-hoc one (retryCount 3, responseTimeoutSeconds 3600)", td)
		}
		if rt.ResponseTimeout != time.Hour {
			t.Fatalf("response timeout %v, want 1h", rt.ResponseTimeout)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no worker call")
	}
}
