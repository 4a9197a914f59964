package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/model"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/store/seal"
)

// TestTimedWaitPostponementSurvivesARestart: Conductor's updateTask puts a
// WAIT updated IN_PROGRESS back in its queue for the update's
// callbackAfterSeconds (queueDAO.postpone), and the queue keeps that time
// whatever server process takes the task next. When it comes out,
// AsyncSystemTaskExecutor has Wait.execute look at the wait's end: past
// it, the WAIT completes; before it ("taken early"), the executor sets
// callbackAfterSeconds to the seconds left (Wait.getEvaluationOffset),
// stores the task (its updateTime then) and puts it back for them.
//
// A WAIT of 10 s updated through the Go client at 4 s with
// callbackAfterSeconds 20 ends at 24 s; one updated with 2 shows
// callbackAfterSeconds 4 from 6 s and ends at 10 s. The serve process
// stops right after the update, and another, on the same run store (bolt,
// or a real Redis), resumes the run (decide) and keeps the update's time.
// On the engine's clock, moved by the test.
func TestTimedWaitPostponementSurvivesARestart(t *testing.T) {
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	stores := map[string]func(t *testing.T) func() runstore.Store{
		"bolt": func(t *testing.T) func() runstore.Store {
			path := filepath.Join(t.TempDir(), "runs.db")
			return func() runstore.Store {
				runs, err := runstore.OpenBolt(path)
				if err != nil {
					t.Fatal(err)
				}
				return runs
			}
		},
		"redis": func(t *testing.T) func() runstore.Store {
			url := "redis://" + redistest.Start(t) + "/0"
			return func() runstore.Store {
				runs, err := runstore.OpenRedis(url)
				if err != nil {
					t.Fatal(err)
				}
				return runs
			}
		},
	}
	for name, newStore := range stores {
		for _, tc := range []struct {
			name     string
			callback int64
			early    bool // taken from its queue before the WAIT's end
			ends     time.Duration
		}{{"callback past the end", 20, false, 24 * time.Second}, {"callback before the end", 2, true, 10 * time.Second}} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				open := newStore(t)
				start := time.Unix(1_700_000_000, 0)
				clock := engine.NewManualClock(start)
				opts := []engine.Option{engine.WithClock(clock), engine.WithKeyring(ring)}
				const def = `{"name":"twpr_flow","version":1,"schemaVersion":2,"tasks":[
				  {"name":"twpr","taskReferenceName":"twpr","type":"WAIT","inputParameters":{"duration":"10s"}}]}`
				runs := open()
				a := newConductorServerWith(t, runs, opts)
				if st, _, body := a.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
					t.Fatalf("register: %d %s", st, body)
				}
				c := newE2EClient(t, a)
				id := c.start("twpr_flow")
				task := c.awaitActive(id, "twpr").TaskId
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				awaitTimer := func(at time.Time) {
					t.Helper()
					for !clock.Pending(at) {
						if ctx.Err() != nil {
							t.Fatalf("no timer of the WAIT at +%s", at.Sub(start))
						}
						_ = clock.WaitForWaiters(ctx, clock.Waiters()+1)
					}
				}
				awaitTimer(start.Add(10 * time.Second))
				clock.Advance(4 * time.Second)
				if _, _, err := c.tc.UpdateTask(c.ctx, &model.TaskResult{TaskId: task, WorkflowInstanceId: id, Status: "IN_PROGRESS",
					OutputData: map[string]any{"p": "half"}, CallbackAfterSeconds: tc.callback}); err != nil {
					t.Fatalf("IN_PROGRESS update: %v", err)
				}
				// Another process takes the run over.
				sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer scancel()
				if err := a.srv.Shutdown(sctx); err != nil {
					t.Fatal(err)
				}
				a.Close()
				if err := runs.Close(); err != nil {
					t.Fatal(err)
				}
				b := newConductorServerWith(t, open(), opts)
				if st, _, body := b.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
					t.Fatalf("register on the second process: %d %s", st, body)
				}
				c = newE2EClient(t, b)
				if st, _, body := b.do(t, "PUT", "/api/workflow/decide/"+id, ""); st != 200 {
					t.Fatalf("decide: %d %s", st, body)
				}
				if tc.early {
					at := start.Add(4*time.Second + time.Duration(tc.callback)*time.Second)
					awaitTimer(at)
					clock.Advance(at.Sub(clock.Now()))
					c.await("the WAIT taken early shows the seconds left", func() error {
						tk := c.mustOnlyTaskByRef(id, "twpr")
						if tk.Status != "IN_PROGRESS" || tk.CallbackAfterSeconds != 4 || tk.UpdateTime != at.UnixMilli() {
							return fmt.Errorf("%s callbackAfterSeconds %d updateTime +%s; want IN_PROGRESS, 4, +6s",
								tk.Status, tk.CallbackAfterSeconds, time.UnixMilli(tk.UpdateTime).Sub(start))
						}
						return nil
					})
				}
				end := start.Add(tc.ends)
				awaitTimer(end)
				clock.Advance(end.Sub(clock.Now()) - time.Second)
				if tk := c.mustOnlyTaskByRef(id, "twpr"); tk.Status != "IN_PROGRESS" {
					t.Fatalf("a second before +%s: the WAIT is %s, want IN_PROGRESS", tc.ends, tk.Status)
				}
				clock.Advance(time.Second)
				wf := c.awaitStatus(id, "COMPLETED")
				if got := wf.Tasks[0].EndTime; got != end.UnixMilli() {
					t.Fatalf("the WAIT ended at +%s, want +%s", time.UnixMilli(got).Sub(start), tc.ends)
				}
			})
		}
	}
}

// TestUntimedWaitUpdatedInProgressIsLookedAtAfterTheCallback: a WAIT
// without duration or until (callbackAfterSeconds Integer.MAX_VALUE, so
// never out of its queue by itself) updated IN_PROGRESS with
// callbackAfterSeconds 5 comes out of its queue 5 s later; Wait.execute
// leaves it waiting and, Wait.getEvaluationOffset giving none,
// AsyncSystemTaskExecutor counts the poll, sets callbackAfterSeconds to
// the system task callback (systemTaskWorkerCallbackDuration, 30 s),
// postpones it in its queue for that long and stores the task: it is
// looked at again every 30 s, each look counted and stored. It still
// waits for its completion from outside.
func TestUntimedWaitUpdatedInProgressIsLookedAtAfterTheCallback(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	clock := engine.NewManualClock(start)
	c := newE2EClient(t, newConductorServerWith(t, nil, []engine.Option{engine.WithClock(clock)}))
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", `{"name":"uwpr_flow","version":1,"schemaVersion":2,"tasks":[
	  {"name":"uwpr","taskReferenceName":"uwpr","type":"WAIT"}]}`); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start("uwpr_flow")
	task := c.awaitActive(id, "uwpr").TaskId
	if _, _, err := c.tc.UpdateTask(c.ctx, &model.TaskResult{TaskId: task, WorkflowInstanceId: id, Status: "IN_PROGRESS",
		OutputData: map[string]any{"p": "half"}, CallbackAfterSeconds: 5}); err != nil {
		t.Fatalf("IN_PROGRESS update: %v", err)
	}
	if tk := c.mustOnlyTaskByRef(id, "uwpr"); tk.CallbackAfterSeconds != 5 {
		t.Fatalf("after the update: callbackAfterSeconds %d, want 5", tk.CallbackAfterSeconds)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	at := start.Add(5 * time.Second)
	for !clock.Pending(at) {
		if ctx.Err() != nil {
			t.Fatal("no timer of the WAIT at +5s")
		}
		_ = clock.WaitForWaiters(ctx, clock.Waiters()+1)
	}
	clock.Advance(5 * time.Second)
	looked := func(at time.Time, polls int32) {
		t.Helper()
		c.await(fmt.Sprintf("look %d at the WAIT shows the system task callback", polls), func() error {
			tk := c.mustOnlyTaskByRef(id, "uwpr")
			if tk.Status != "IN_PROGRESS" || tk.CallbackAfterSeconds != 30 || tk.UpdateTime != at.UnixMilli() || tk.PollCount != polls {
				return fmt.Errorf("%s callbackAfterSeconds %d updateTime +%s pollCount %d; want IN_PROGRESS, 30, +%s, %d",
					tk.Status, tk.CallbackAfterSeconds, time.UnixMilli(tk.UpdateTime).Sub(start), tk.PollCount, at.Sub(start), polls)
			}
			return nil
		})
	}
	looked(at, 1)
	// The next looks: every 30 s, not sooner.
	for polls := int32(2); polls <= 3; polls++ {
		for !clock.Pending(at.Add(30 * time.Second)) {
			if ctx.Err() != nil {
				t.Fatalf("no timer of the WAIT's look %d", polls)
			}
			_ = clock.WaitForWaiters(ctx, clock.Waiters()+1)
		}
		clock.Advance(29 * time.Second)
		time.Sleep(50 * time.Millisecond)
		if tk := c.mustOnlyTaskByRef(id, "uwpr"); tk.PollCount != polls-1 {
			t.Fatalf("looked at before the callback passed: pollCount %d", tk.PollCount)
		}
		clock.Advance(time.Second)
		at = at.Add(30 * time.Second)
		looked(at, polls)
	}
	if _, _, err := c.tc.UpdateTaskByRefName(c.ctx, map[string]any{"done": true}, id, "uwpr", "COMPLETED"); err != nil {
		t.Fatalf("COMPLETED update by reference: %v", err)
	}
	c.awaitStatus(id, "COMPLETED")
}
