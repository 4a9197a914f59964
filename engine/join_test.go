package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// joinWorkers are SIMPLE workers for the JOIN tests: "slow" and "boom" wait
// until "release" runs, which only a task after the JOIN does; so a JOIN
// that waited for every branch would never let them finish (they give up
// after a few seconds).
type joinWorkers struct {
	release     chan struct{}
	releaseOnce sync.Once
	quick       atomic.Int64
	holdStopped atomic.Bool
}

func newJoinEngine(t *testing.T) (*engine.Engine, *joinWorkers) {
	t.Helper()
	w := &joinWorkers{release: make(chan struct{})}
	waitRelease := func(ctx context.Context) error {
		select {
		case <-w.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
			return errors.New("never released: the JOIN waited for a branch it does not join on")
		}
	}
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()),
		engine.WithWorker("quick", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			w.quick.Add(1)
			return json.RawMessage(`{"q":1}`), nil
		}),
		engine.WithWorker("slow", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if err := waitRelease(ctx); err != nil {
				return nil, err
			}
			return json.RawMessage(`{"s":1}`), nil
		}),
		engine.WithWorker("boom", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if err := waitRelease(ctx); err != nil {
				return nil, err
			}
			return nil, errors.New("boom after the join")
		}),
		engine.WithWorker("release", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			w.releaseOnce.Do(func() { close(w.release) })
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("hold", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			w.releaseOnce.Do(func() { close(w.release) })
			select {
			case <-ctx.Done():
				w.holdStopped.Store(true)
				return nil, ctx.Err()
			case <-time.After(5 * time.Second):
				return json.RawMessage(`{"held":true}`), nil
			}
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return e, w
}

func startJoin(t *testing.T, e *engine.Engine, def string) *engine.Result {
	t.Helper()
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestJoinWaitsOnlyForJoinOn: the tasks after a JOIN start once the joinOn
// tasks are done, while a branch not joined on is still running; the run
// completes only after that branch has ended too.
func TestJoinWaitsOnlyForJoinOn(t *testing.T) {
	e, _ := newJoinEngine(t)
	res := startJoin(t, e, `{"name":"j","tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"quick","taskReferenceName":"b1"}],
	    [{"name":"slow","taskReferenceName":"s1"},{"name":"quick","taskReferenceName":"s2"}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["b1"]},
	  {"name":"release","taskReferenceName":"rel"}],
	 "outputParameters":{"join":"${join.output}","slow":"${s1.output}","s2":"${s2.status}"}}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"join":{"b1":{"q":1}},"slow":{"s":1},"s2":"COMPLETED"}`)
}

// TestJoinBranchFailingAfterJoinStopsTheRun: a branch not joined on that
// fails after the JOIN fails the run and cancels the task running after the
// JOIN; nothing after it runs.
func TestJoinBranchFailingAfterJoinStopsTheRun(t *testing.T) {
	e, w := newJoinEngine(t)
	start := time.Now()
	res := startJoin(t, e, `{"name":"j","tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"quick","taskReferenceName":"b1"}],
	    [{"name":"boom","taskReferenceName":"x","retryCount":0}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["b1"]},
	  {"name":"hold","taskReferenceName":"h"},
	  {"name":"quick","taskReferenceName":"never"}]}`)
	if res.Status != engine.StatusFailed || res.FailedTaskRef != "x" || !strings.Contains(res.Reason, "boom after the join") {
		t.Fatalf("%s %q %q", res.Status, res.FailedTaskRef, res.Reason)
	}
	if !w.holdStopped.Load() {
		t.Fatal("the task after the JOIN was not cancelled")
	}
	if n := w.quick.Load(); n != 1 {
		t.Fatalf("quick ran %d times, want once (b1 only)", n)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("run took %v", d)
	}
}

// TestJoinOnAllBranches keeps the plain case: joinOn names every branch's
// last task, so the JOIN runs after all of them.
func TestJoinOnAllBranches(t *testing.T) {
	e, _ := newJoinEngine(t)
	res := startJoin(t, e, `{"name":"j","tasks":[
	  {"name":"release","taskReferenceName":"rel"},
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"quick","taskReferenceName":"b1"}],
	    [{"name":"slow","taskReferenceName":"s1"}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["b1","s1"]}],
	 "outputParameters":{"join":"${join.output}"}}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"join":{"b1":{"q":1},"s1":{"s":1}}}`)
}

// TestJoinResumeWithBranchStillRunning: a run interrupted while a branch
// not joined on and the task after the JOIN both run is resumed from the
// store: the finished tasks are not run again, the two unfinished ones are.
func TestJoinResumeWithBranchStillRunning(t *testing.T) {
	rs := runstore.NewMemory()
	var quick, slowCalls, gateCalls atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slowStarted := make(chan struct{})
	var slowOnce sync.Once
	ring := keyring(t, 1) // the same keyring in both processes: it seals the head
	newEngine := func() *engine.Engine {
		e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(ring),
			engine.WithWorker("quick", func(context.Context, json.RawMessage) (json.RawMessage, error) {
				quick.Add(1)
				return json.RawMessage(`{"q":1}`), nil
			}),
			engine.WithWorker("slow", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
				if slowCalls.Add(1) == 1 {
					slowOnce.Do(func() { close(slowStarted) })
					select {
					case <-c.Done(): // the first process dies while this runs
						return nil, c.Err()
					case <-time.After(5 * time.Second):
						return nil, errors.New("the task after the JOIN never started")
					}
				}
				return json.RawMessage(`{"s":1}`), nil
			}),
			engine.WithWorker("gate", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
				if gateCalls.Add(1) == 1 {
					<-slowStarted // both unfinished tasks are running now
					cancel()
					<-c.Done()
					return nil, c.Err()
				}
				return json.RawMessage(`{"g":1}`), nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a := newEngine()
	def, err := a.Parse([]byte(`{"name":"j","tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"quick","taskReferenceName":"b1"}],
	    [{"name":"slow","taskReferenceName":"s1"}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["b1"]},
	  {"name":"gate","taskReferenceName":"g"}],
	 "outputParameters":{"join":"${join.output}","slow":"${s1.output}","gate":"${g.output}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Start(ctx, def, nil, engine.WithRunID("r-join"))
	if !errors.Is(err, engine.ErrInterrupted) || res.Status != engine.StatusRunning {
		t.Fatalf("want interrupted, got %v %+v", err, res)
	}
	res, err = newEngine().Resume(context.Background(), "r-join")
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume: %v %+v", err, res)
	}
	jsonEq(t, res.Output, `{"join":{"b1":{"q":1}},"slow":{"s":1},"gate":{"g":1}}`)
	if quick.Load() != 1 || slowCalls.Load() != 2 || gateCalls.Load() != 2 {
		t.Fatalf("calls: quick %d slow %d gate %d", quick.Load(), slowCalls.Load(), gateCalls.Load())
	}
}

// TestJoinNestedInBranch: a FORK_JOIN inside a branch follows the same
// rule, so the outer JOIN can run while the inner branch it does not need
// still waits.
func TestJoinNestedInBranch(t *testing.T) {
	e, _ := newJoinEngine(t)
	res := startJoin(t, e, `{"name":"j","tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"inner","taskReferenceName":"inner","type":"FORK_JOIN","forkTasks":[
	       [{"name":"quick","taskReferenceName":"n1"}],
	       [{"name":"slow","taskReferenceName":"n2"}]]},
	     {"name":"ijoin","taskReferenceName":"ijoin","type":"JOIN","joinOn":["n1"]},
	     {"name":"quick","taskReferenceName":"n3"}],
	    [{"name":"quick","taskReferenceName":"b2"}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["n3","b2"]},
	  {"name":"release","taskReferenceName":"rel"}],
	 "outputParameters":{"join":"${join.output}","ijoin":"${ijoin.output}","n2":"${n2.output}"}}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"join":{"n3":{"q":1},"b2":{"q":1}},"ijoin":{"n1":{"q":1}},"n2":{"s":1}}`)
}
