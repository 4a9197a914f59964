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

// holdSignals is a memory store whose PutSignal, while hold is set, stores
// the signal and then waits for hold to be closed: the skip is stored and
// not yet taken.
type holdSignals struct {
	*runstore.Memory
	hold atomic.Pointer[chan struct{}]
	put  chan struct{}
}

func (s *holdSignals) PutSignal(ctx context.Context, id, key string, payload []byte) error {
	err := s.Memory.PutSignal(ctx, id, key, payload)
	if h := s.hold.Load(); h != nil {
		s.put <- struct{}{}
		<-*h
	}
	return err
}

// A skip sent as the run reaches the task: either the skip wins (SkipTask
// returns nil, the task is SKIPPED and its worker never runs) or the task
// does (SkipTask fails with ErrNotSkippable, or ErrNotRunning once the run
// has ended, and the task runs), never a skip that returned nil while the
// task ran anyway. The skip and the run are put in each order that
// matters with gates, no timing: the skip while the run waits on the task
// before (the skip wins); the skip stored but not yet taken as the run
// schedules the task (either may win, as the runner's signal look falls);
// the skip while the task runs, and once the run has ended (the task
// wins); the skip recorded but its write held until the run has ended
// and been archived (the skip wins, and the archived run stays whole: its
// write came after the run's end and recreated a run of the head alone,
// no task, no input, that SkipTask then read as "COMPLETED, reached before
// the skip" though the task never ran).
func TestSkipTaskRacingTheRun(t *testing.T) {
	var t2 atomic.Int64
	started, started2 := make(chan struct{}, 1), make(chan struct{}, 1)
	var release, release2, skipRecorded, runEnded atomic.Pointer[chan struct{}]
	held := 0 // rounds whose skip's own write was held (SetSkipRecorded)
	defer func() {
		if held == 0 && !t.Failed() {
			t.Error("no round held the skip's own write until the run ended: the race was not exercised")
		}
	}()
	gate := func(ctx context.Context, started chan struct{}, release *atomic.Pointer[chan struct{}]) error {
		started <- struct{}{}
		select {
		case <-*release.Load():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	st := &holdSignals{Memory: runstore.NewMemory(), put: make(chan struct{}, 1)}
	e := harnessEngine(t, st,
		engine.WithWorker("integration_task_1", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if err := gate(ctx, started, &release); err != nil {
				return nil, err
			}
			return json.RawMessage(`{"op":"task1.done"}`), nil
		}),
		engine.WithWorker("integration_task_2", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			t2.Add(1)
			if err := gate(ctx, started2, &release2); err != nil {
				return nil, err
			}
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("integration_task_3", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{}`), nil
		}))
	// The skip's own record, made by SkipTask (not by the runner's signal
	// look, whose end the run waits for): once it is in the run, its
	// write is held while the round says.
	engine.SetSkipRecorded(e, func(_, ref string) {
		rec := skipRecorded.Load()
		if rec == nil || ref != "t2" {
			return
		}
		close(*rec)
		<-*runEnded.Load()
	})
	d := harnessDef(t, e, "simple_workflow_3_integration_test.json")
	const (
		skipWins = "skip"
		runWins  = "run"
		either   = "either"
	)
	rounds := []struct {
		name, want string
		// race puts the skip (skip) and the run's release past t1
		// (release1) in the round's order; done is closed when the run
		// has ended.
		race func(skip func() <-chan error, release1 func(), done <-chan struct{}) error
	}{
		{"skip while the run waits on the task before", skipWins, func(skip func() <-chan error, release1 func(), _ <-chan struct{}) error {
			err := <-skip()
			release1()
			return err
		}},
		{"skip stored, not yet taken, as the run schedules the task", either, func(skip func() <-chan error, release1 func(), done <-chan struct{}) error {
			h := make(chan struct{})
			st.hold.Store(&h)
			res := skip()
			<-st.put
			st.hold.Store(nil)
			release1()
			select {
			case <-started2:
				// The run scheduled t2 (its worker runs): the skip is
				// taken now.
			case <-done:
				// The runner's signal look took the skip first.
			}
			close(h)
			return <-res
		}},
		{"skip while the task runs", runWins, func(skip func() <-chan error, release1 func(), _ <-chan struct{}) error {
			release1()
			<-started2
			err := <-skip()
			close(*release2.Load())
			return err
		}},
		{"skip once the run has ended", runWins, func(skip func() <-chan error, release1 func(), done <-chan struct{}) error {
			close(*release2.Load())
			release1()
			<-done
			return <-skip()
		}},
		{"skip recorded, its write held until the run has ended", skipWins, func(skip func() <-chan error, release1 func(), done <-chan struct{}) error {
			rec, end := make(chan struct{}), make(chan struct{})
			runEnded.Store(&end)
			skipRecorded.Store(&rec)
			defer skipRecorded.Store(nil)
			res := skip()
			select {
			case <-rec:
				held++
			case err := <-res:
				// Recorded by the runner's signal look: an ordinary win.
				release1()
				return err
			}
			release1()
			<-done
			close(end)
			return <-res
		}},
	}
	for n := range 3 * len(rounds) {
		c := rounds[n%len(rounds)]
		t2.Store(0)
		rel, rel2 := make(chan struct{}), make(chan struct{})
		release.Store(&rel)
		release2.Store(&rel2)
		select {
		case <-started2:
		default:
		}
		id := fmt.Sprintf("skip-race-%d", n)
		done, runErr := make(chan struct{}), make(chan error, 1)
		go func() {
			_, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`), engine.WithRunID(id))
			runErr <- err
			close(done)
		}()
		<-started
		skip := func() <-chan error {
			res := make(chan error, 1)
			go func() { res <- e.SkipTask(context.Background(), id, "t2", skipReq) }()
			return res
		}
		release1 := func() { close(rel) }
		skipErr := c.race(skip, release1, done)
		if c.want != runWins {
			// A t2 that runs (the run won) is let go.
			select {
			case <-rel2:
			default:
				close(rel2)
			}
		}
		<-done
		if err := <-runErr; err != nil {
			t.Fatal(err)
		}
		wf := viewRun(t, e, id)
		recs := byRef(wf.Tasks)
		var won string
		switch {
		case skipErr == nil && t2.Load() == 0 && recs["t2"].Status == engine.TaskSkipped:
			won = skipWins
		case (errors.Is(skipErr, engine.ErrNotSkippable) || errors.Is(skipErr, engine.ErrNotRunning)) && t2.Load() == 1 && recs["t2"].Status == engine.TaskCompleted:
			won = runWins
		default:
			t.Fatalf("%s (round %d): SkipTask %v, task 2 ran %d times, records %+v", c.name, n, skipErr, t2.Load(), wf.Tasks)
		}
		if c.want != either && won != c.want {
			t.Fatalf("%s (round %d): the %s won, want the %s", c.name, n, won, c.want)
		}
		if wf.Status != engine.StatusCompleted || len(wf.Tasks) != 3 || wf.Input["param1"] != "p1 value" {
			t.Fatalf("%s (round %d): run %s, input %v, records %+v", c.name, n, wf.Status, wf.Input, wf.Tasks)
		}
		// A SKIPPED record is stored whole, with the request's input
		// and output, whenever the run's archive was made: never the
		// record without them.
		if s := recs["t2"]; won == skipWins && (s.Input["given"] != "in" || s.Output["given"] != "out" || s.Output["_secrets"] != "***") {
			t.Fatalf("%s (round %d): the archived SKIPPED record lacks the request's data: %+v", c.name, n, s)
		}
		if doc, _, err := st.Load(context.Background(), id); err != nil || strings.Contains(string(doc), skipSecret) {
			t.Fatalf("%s (round %d): the stored run holds the skip's secret (%v)", c.name, n, err)
		}
	}
}

const skipSecret = "skip-secret-7d2a"

var skipReq = engine.SkipRequest{TaskInput: json.RawMessage(`{"given":"in"}`),
	TaskOutput: json.RawMessage(`{"given":"out","_secrets":{"k":"` + skipSecret + `"}}`)}
