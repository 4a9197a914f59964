package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// remapLoopDef forks a task named redef (optional, so that its failure
// leaves the run going) in each of n iterations of a DO_WHILE.
func remapLoopDef(n int) string {
	return `{"name":"remap_loop","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < ` + strconv.Itoa(n) + `","loopOver":[
	  {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	   "inputParameters":{"dynamicTasks":[{"name":"redef","taskReferenceName":"x","optional":true}],"inputs":{"x":{"i":"${loop.output.iteration}"}}}},
	  {"name":"join","taskReferenceName":"join","type":"JOIN"}]}]}`
}

// retryDef is redef's definition with retries retries and no delay.
func retryDef(retries int, desc string) *engine.TaskDef {
	zero := 0
	return &engine.TaskDef{Name: "redef", Description: desc, RetryCount: &retries, RetryDelaySeconds: &zero}
}

// TestDynamicForkMappedAgainTakesTheRegistrysDefinition: each mapping of
// a dynamic fork takes the definition registered for a forked task's name
// at that moment (ForkJoinDynamicTaskMapper looks it up each time it
// maps), and the task keeps it for its retries, also in the process that
// resumes the run. Iteration 1 forks redef when it has retryCount 0 and
// its attempt registers retryCount 2; iteration 2's mapping takes 2: its
// task runs three times, in the process that resumes the run after its
// first attempt was interrupted, although retryCount 5 is registered by
// then. Before, a name kept the first mapping's definition for the run:
// iteration 2's task ran once.
func TestDynamicForkMappedAgainTakesTheRegistrysDefinition(t *testing.T) {
	defs := engine.NewTaskDefs()
	if err := defs.Put(retryDef(0, "")); err != nil {
		t.Fatal(err)
	}
	rs, k := runstore.NewMemory(), keyring(t, 7)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	calls := map[string]int{}
	iteration := func(in json.RawMessage) string {
		var m map[string]any
		_ = json.Unmarshal(in, &m)
		b, _ := json.Marshal(m["i"])
		return string(b)
	}
	a, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(k), engine.WithTaskDefs(defs),
		engine.WithWorker("redef", func(c context.Context, in json.RawMessage) (json.RawMessage, error) {
			i := iteration(in)
			mu.Lock()
			calls["a"+i]++
			mu.Unlock()
			if i == "1" {
				if err := defs.Put(retryDef(2, "")); err != nil {
					return nil, err
				}
				return nil, errors.New("no")
			}
			if err := defs.Put(retryDef(5, "")); err != nil {
				return nil, err
			}
			cancel() // the process goes away while the attempt runs
			<-c.Done()
			return nil, c.Err()
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Parse([]byte(remapLoopDef(2)))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := a.Start(ctx, d, nil, engine.WithRunID("r-remap")); !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("want interrupted, got %v %+v", err, res)
	}
	b, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(k), engine.WithTaskDefs(defs),
		engine.WithWorker("redef", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			calls["b"+iteration(in)]++
			mu.Unlock()
			return nil, errors.New("no")
		}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Resume(context.Background(), "r-remap")
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume: %v %+v", err, res)
	}
	mu.Lock()
	got := calls
	mu.Unlock()
	if got["a1"] != 1 || got["a2"] != 1 || got["b2"] != 3 || len(got) != 3 {
		t.Fatalf("redef's attempts %v; want iteration 1's once (retryCount 0) and iteration 2's three times after the resume (retryCount 2, as mapped)", got)
	}
	// The view: the run's definition of the name is the first mapping's;
	// iteration 2's fork record shows the definition its task took.
	raw, err := b.Show(context.Background(), "r-remap")
	if err != nil {
		t.Fatal(err)
	}
	if n := gjson.GetBytes(raw, "taskDefinitions.redef.retryCount"); n.Int() != 0 {
		t.Errorf("the run's definition of redef: %s, want retryCount 0", gjson.GetBytes(raw, "taskDefinitions.redef").Raw)
	}
	var shown []string
	gjson.GetBytes(raw, "tasks").ForEach(func(_, tk gjson.Result) bool {
		if tk.Get("taskType").String() == "FORK" {
			shown = append(shown, tk.Get("referenceTaskName").String()+":"+tk.Get("inputData.forkedTaskDefs.0.taskDefinition.retryCount").Raw)
		}
		return true
	})
	if strings.Join(shown, " ") != "fj__1: fj__2:2" {
		t.Errorf("the forks' forkedTaskDefs definitions %v, want none added for fj__1 and retryCount 2 for fj__2", shown)
	}
}

// TestForkedTaskOfADefinitionsNameTakesTheRegistrysDefinition: a dynamic
// fork's task whose name a task of the run's definition has too takes,
// as any forked task, the definition registered when the fork maps it,
// not the one the run started with for the name (which the definition's
// own task keeps).
func TestForkedTaskOfADefinitionsNameTakesTheRegistrysDefinition(t *testing.T) {
	defs := engine.NewTaskDefs()
	if err := defs.Put(retryDef(0, "")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := map[string]int{}
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithKeyring(keyring(t, 7)), engine.WithTaskDefs(defs),
		engine.WithWorker("redef", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			var m map[string]string
			_ = json.Unmarshal(in, &m)
			mu.Lock()
			calls[m["who"]]++
			mu.Unlock()
			if m["who"] == "first" {
				if err := defs.Put(retryDef(2, "")); err != nil {
					return nil, err
				}
				return json.RawMessage(`{}`), nil
			}
			return nil, errors.New("no")
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"remap_named","version":1,"schemaVersion":2,"tasks":[
	 {"name":"redef","taskReferenceName":"first","inputParameters":{"who":"first"}},
	 {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	  "inputParameters":{"dynamicTasks":[{"name":"redef","taskReferenceName":"x","optional":true}],"inputs":{"x":{"who":"forked"}}}},
	 {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{}`)
	mu.Lock()
	got := calls
	mu.Unlock()
	if res.Status != engine.StatusCompleted || got["first"] != 1 || got["forked"] != 3 {
		t.Fatalf("run %s, attempts %v; want the forked task run three times (retryCount 2, registered when the fork mapped it)", res.Status, got)
	}
	raw, err := e.Show(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if n := gjson.GetBytes(raw, "taskDefinitions.redef.retryCount"); n.Int() != 0 {
		t.Errorf("the run's definition of redef: %s, want the start's (retryCount 0)", gjson.GetBytes(raw, "taskDefinitions.redef").Raw)
	}
}

// TestRemappedDefinitionsAreHeldOnce: the definitions later mappings took
// are held once each in the run's stored task definitions, however many
// mappings took them: 20 iterations forking redef after its definition
// (with a 4 kB description) changed store it once, and each mapping adds
// only its note.
func TestRemappedDefinitionsAreHeldOnce(t *testing.T) {
	size := func(n int) int {
		defs := engine.NewTaskDefs()
		if err := defs.Put(retryDef(0, "")); err != nil {
			t.Fatal(err)
		}
		rs := runstore.NewMemory()
		e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 7)), engine.WithTaskDefs(defs),
			engine.WithWorker("redef", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
				if err := defs.Put(retryDef(0, strings.Repeat("d", 4096))); err != nil {
					return nil, err
				}
				return json.RawMessage(`{}`), nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.Parse([]byte(remapLoopDef(n)))
		if err != nil {
			t.Fatal(err)
		}
		res := startRun(t, e, d, `{}`)
		if res.Status != engine.StatusCompleted {
			t.Fatalf("run %+v", res)
		}
		doc, _, err := rs.Load(context.Background(), res.RunID)
		if err != nil {
			t.Fatal(err)
		}
		return len(gjson.GetBytes(doc, "taskDefs").Str)
	}
	two, twenty := size(2), size(20)
	t.Logf("stored task definitions: %d bytes after 2 iterations, %d after 20", two, twenty)
	if twenty-two > 18*400 || twenty > 2*4096+18*400 {
		t.Fatalf("stored task definitions: %d bytes after 2 iterations, %d after 20; want the 4 kB definition held once and each mapping's note small", two, twenty)
	}
}
